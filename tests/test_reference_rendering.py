"""The committed rendering of the reference lab is exactly what `homelab render` writes today."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "examples" / "reference" / "homelab.yaml"

RENDERED = ROOT / "examples" / "reference" / "rendered"


def test_committed_reference_rendering_is_up_to_date():
    proc = subprocess.run(
        [sys.executable, "-m", "homelab", "render", str(REFERENCE), "--out", str(RENDERED), "--check"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, (
        "examples/reference/rendered is stale; re-render it with "
        "`homelab render examples/reference/homelab.yaml --out examples/reference/rendered`:\n"
        + proc.stdout + proc.stderr
    )


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
