"""`homelab render`: exit codes, --check, --format json, default --out, refusal on check errors.

The command renders with `homelab.render.render_all`, whose other renderers (ansible, kubernetes...) are
written and tested separately; these tests pin RENDERERS to the terraform renderer so they test the
command, not its siblings. (The committed reference rendering is checked against every renderer.)
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

import homelab.render  # noqa: F401 - the package, reached through sys.modules
from homelab.cli.main import main
from homelab.render.output import MANIFEST

SEED = Path(__file__).resolve().parent.parent / "examples" / "reference" / "homelab.yaml"
OLD = 1_000_000_000


@pytest.fixture(autouse=True)
def terraform_only(monkeypatch):
    monkeypatch.setattr(sys.modules["homelab.render"], "RENDERERS", ("terraform",))


@pytest.fixture
def lab(tmp_path) -> Path:
    path = tmp_path / "lab" / "homelab.yaml"
    path.parent.mkdir()
    shutil.copy(SEED, path)
    return path


def run(capsys, *args) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(["render", *map(str, args)])
    out, err = capsys.readouterr()
    code = exc.value.code if isinstance(exc.value.code, int) else (0 if exc.value.code is None else 1)
    return code, out, err


def listing(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_render_then_check(capsys, lab, tmp_path):
    out = tmp_path / "out"
    code, stdout, _ = run(capsys, lab, "--out", out)
    assert code == 0
    assert "created: tf/kubernetes/main.tf" in stdout
    assert "tf/modules/proxmox_vm/main.tf" in listing(out) and MANIFEST in listing(out)
    code, stdout, _ = run(capsys, lab, "--out", out, "--check")
    assert code == 0 and "up to date" in stdout


def test_check_lists_what_would_change_and_exits_1(capsys, lab, tmp_path):
    out = tmp_path / "out"
    run(capsys, lab, "--out", out)
    main_tf = out / "tf" / "lab" / "main.tf"
    main_tf.write_text(main_tf.read_text() + "# hand edit\n")
    (out / "tf" / "vault" / "outputs.tf").unlink()
    # drop the vault VM: its whole root becomes stale
    text = lab.read_text().replace(
        "  - {name: vault, role: vault, env: vault, ip: 192.168.10.50, vmid: 150, node: pve1}\n", "")
    text = text.replace("  server: vault\n", "")
    lab.write_text(text)
    for p in out.rglob("*"):
        os.utime(p, (OLD, OLD))
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}

    code, stdout, stderr = run(capsys, lab, "--out", out, "--check")
    assert code == 1
    assert "would update: tf/lab/main.tf" in stdout
    assert "would remove: tf/vault/main.tf" in stdout
    assert "would create: tf/vault/outputs.tf" not in stdout  # the vault root is gone from the rendering
    assert "out of date" in stderr
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before  # --check wrote nothing
    assert all(p.stat().st_mtime == OLD for p in out.rglob("*") if p.is_file())

    code, stdout, _ = run(capsys, lab, "--out", out, "--check", "--format", "json")
    data = json.loads(stdout)
    assert code == 1 and data["check"] is True and data["up_to_date"] is False
    assert "tf/lab/main.tf" in data["updated"]  # (and home-apps: its unpinned VMs are placed anew)
    assert "tf/vault/versions.tf" in data["removed"]

    code, stdout, _ = run(capsys, lab, "--out", out)
    assert code == 0 and "removed: tf/vault/main.tf" in stdout
    assert not (out / "tf" / "vault").exists()
    assert run(capsys, lab, "--out", out, "--check")[0] == 0


def test_default_out_is_the_lab_files_directory(capsys, lab):
    code, _, _ = run(capsys, lab)
    assert code == 0
    assert (lab.parent / "tf" / "kubernetes" / "main.tf").is_file()
    assert (lab.parent / MANIFEST).is_file()
    assert lab.read_text() == SEED.read_text()  # the lab file itself is not touched
    # a directory argument means its homelab.yaml
    assert run(capsys, lab.parent, "--check")[0] == 0


def test_json_output(capsys, lab, tmp_path):
    code, stdout, _ = run(capsys, lab, "--out", tmp_path / "o", "--format", "json")
    data = json.loads(stdout)
    assert code == 0 and data["check"] is False and data["up_to_date"] is False
    assert data["files"] == len(data["created"]) == 24  # module (4) + 4 environments x 5 files
    assert data["removed"] == [] and data["updated"] == [] and data["unchanged"] == 0


def test_load_error_exits_2_and_writes_nothing(capsys, tmp_path):
    bad = tmp_path / "homelab.yaml"
    bad.write_text("version: 1\nname: [unclosed\n")
    code, _, stderr = run(capsys, bad, "--out", tmp_path / "out")
    assert code == 2 and "homelab.yaml:" in stderr
    assert not (tmp_path / "out").exists()


def test_check_errors_refuse_to_render(capsys, lab, tmp_path):
    lab.write_text(lab.read_text().replace("ip: 192.168.10.71,", "ip: 10.9.9.9,"))
    code, _, stderr = run(capsys, lab, "--out", tmp_path / "out")
    assert code == 1
    assert "vm-ip-outside-network" in stderr and "not rendering" in stderr
    assert not (tmp_path / "out").exists()
    code, stdout, _ = run(capsys, lab, "--out", tmp_path / "out", "--format", "json")
    assert code == 1 and any(d["rule"] == "vm-ip-outside-network" for d in json.loads(stdout)["diagnostics"])


def test_nothing_is_written_outside_out(capsys, lab, tmp_path):
    out = tmp_path / "deep" / "out"
    before = listing(tmp_path)
    assert run(capsys, lab, "--out", out)[0] == 0
    after = listing(tmp_path)
    new = [p for p in after if p not in before]
    assert new and all(p.startswith("deep/out/") for p in new)
    manifest = json.loads((out / MANIFEST).read_text())["files"]
    assert sorted(f"deep/out/{p}" for p in manifest + [MANIFEST]) == new


def test_bad_format_is_a_usage_error(capsys, lab):
    code, _, _ = run(capsys, lab, "--format", "xml")
    assert code == 2
