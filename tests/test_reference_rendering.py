"""The committed rendering of the reference lab is exactly what `homelab render` writes today."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "examples" / "reference" / "homelab.yaml"

RENDERED = ROOT / "examples" / "reference" / "rendered"


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_committed_reference_rendering_is_up_to_date(tmp_path):
    """Compared file by file with a fresh rendering (not only `render --check`'s word for it)."""
    fresh = tmp_path / "rendered"
    proc = subprocess.run([sys.executable, "-m", "homelab", "render", str(REFERENCE), "--out", str(fresh)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    committed, now = _tree(RENDERED), _tree(fresh)
    stale = sorted(p for p in set(committed) | set(now) if committed.get(p) != now.get(p))
    assert not stale, ("examples/reference/rendered is stale; re-render it with `homelab render "
                       f"examples/reference/homelab.yaml --out examples/reference/rendered`: {stale[:20]}")
    proc = subprocess.run(
        [sys.executable, "-m", "homelab", "render", str(REFERENCE), "--out", str(RENDERED), "--check"],
        capture_output=True, text=True, timeout=120,
    )
    owned = len(committed) - 1  # the writer's own record of what it wrote (.homelab-rendered.json) is not counted
    assert ".homelab-rendered.json" in committed
    assert (proc.returncode, proc.stdout.strip()) == (0, f"{RENDERED}: up to date ({owned} files)"), \
        proc.stdout + proc.stderr


def test_check_notices_a_changed_file(tmp_path):
    import shutil

    copy = tmp_path / "rendered"
    shutil.copytree(RENDERED, copy)
    target = copy / "tf" / "kubernetes" / "main.tf"
    target.write_text(target.read_text().replace("kube01", "kube99", 1))
    proc = subprocess.run(
        [sys.executable, "-m", "homelab", "render", str(REFERENCE), "--out", str(copy), "--check"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 1
    assert "tf/kubernetes/main.tf" in proc.stdout + proc.stderr
