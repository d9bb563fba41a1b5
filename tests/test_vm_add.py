"""Day-2 as lab edits: `homelab vm add/remove`, `homelab app add` on the reference lab."""

from __future__ import annotations

import difflib
import json
import re
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "plan"))

from fake_engine import RecordingEngine, fake_engines, lookup  # noqa: E402

from homelab.apply import session as apply_session  # noqa: E402
from homelab.cli.main import main  # noqa: E402

REFERENCE = Path(__file__).resolve().parent.parent / "examples" / "reference" / "homelab.yaml"
COMMENT = re.compile(r"(?:^|\s)(#.*)$")


def comments(text: str) -> list[str]:
    """Every comment of a YAML text, in order ('#' after whitespace or at line start)."""
    return [m.group(1) for line in text.splitlines() if (m := COMMENT.search(line))]


def run(argv) -> int:
    with pytest.raises(SystemExit) as ex:
        main(argv)
    return ex.value.code


@pytest.fixture(scope="session")
def applied_template(tmp_path_factory):
    """The reference lab fully applied once (through our apply, with fake engines): lab file + state."""
    base = tmp_path_factory.mktemp("applied")
    shutil.copy(REFERENCE, base / "homelab.yaml")
    engines = fake_engines()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(base)
        mp.delenv("HOMELAB_STATE_DIR", raising=False)
        mp.setattr(apply_session, "default_engines", lambda: lookup(engines))
        assert run(["apply", "-y"]) == 0
    return base, engines


@pytest.fixture
def applied_lab(applied_template, tmp_path, monkeypatch):
    """A private copy of the applied reference lab (lab file and state), with its engines' live view."""
    base, engines = applied_template
    shutil.copy(base / "homelab.yaml", tmp_path / "homelab.yaml")
    shutil.copytree(base / ".homelab", tmp_path / ".homelab")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HOMELAB_STATE_DIR", raising=False)
    copy = {name: RecordingEngine(name, live=dict(e.live)) for name, e in engines.items()}
    monkeypatch.setattr(apply_session, "default_engines", lambda: lookup(copy))
    return tmp_path, copy


def actionable(out: str) -> dict[str, tuple[str, str]]:
    plan = json.loads(out)
    return {c["address"]: (c["action"], c["reason"]) for lay in plan["layers"] for c in lay["changes"]
            if c["action"] != "no-op"}


def test_vm_add_keeps_every_comment_and_plans_exactly_the_vm_its_host_and_its_membership(applied_lab, capsys):
    tmp, _ = applied_lab
    before = (tmp / "homelab.yaml").read_text()
    capsys.readouterr()
    assert run(["vm", "add", "kube07", "--role", "k8s-worker", "--no-render", "--format", "json"]) == 0
    captured = capsys.readouterr()
    after = (tmp / "homelab.yaml").read_text()

    assert comments(after) == comments(before)
    assert len(comments(before)) > 40
    diff = [d for d in difflib.ndiff(before.splitlines(), after.splitlines()) if d[:2] in ("- ", "+ ")]
    assert diff == [
        "+   - {name: kube07, role: k8s-worker, env: kubernetes, ip: 192.168.10.20, vmid: 100, node: pve2}",
        "-     agents: [kube04, kube05, kube06]",
        "+     agents: [kube04, kube05, kube06, kube07]",
    ]
    lines = after.splitlines()
    new = lines.index("  - {name: kube07, role: k8s-worker, env: kubernetes, ip: 192.168.10.20, vmid: 100, node: pve2}")
    assert lines[new - 1] == "    gpu: {device: \"0000:01:00\", model: nvidia-tesla}"  # after the last worker
    assert lines[new + 1].startswith("  # Elasticsearch data nodes")  # before the next group's comment
    assert "added VM kube07" in captured.err and "joins clusters.k3s.agents" in captured.err

    assert actionable(captured.out) == {
        "proxmox_vm.kube07": ("create", "not found on the live system"),
        "host.kube07": ("create", "not found on the live system"),
        "host_pki.kube07": ("create", "not found on the live system"),  # trust store and certificates
        "k3s_agent.kube07": ("create", "not found on the live system"),
    }


def test_vm_add_control_plane_joins_the_servers_and_no_join_for_other_roles(applied_lab, capsys):
    tmp, _ = applied_lab
    assert run(["vm", "add", "cp04", "--role", "k8s-control-plane", "--no-render", "--format", "json"]) == 0
    got = actionable(capsys.readouterr().out)
    assert set(got) == {"proxmox_vm.cp04", "host.cp04", "host_pki.cp04", "k3s_server.cp04"}
    assert "servers: [kube01, kube02, kube03, cp04]" in (tmp / "homelab.yaml").read_text()
    assert run(["vm", "add", "tools01", "--role", "general", "--env", "lab", "--no-render", "--format", "json"]) == 0
    got = actionable(capsys.readouterr().out)
    assert set(got) - {"proxmox_vm.cp04", "host.cp04", "host_pki.cp04", "k3s_server.cp04"} == {
        "proxmox_vm.tools01", "host.tools01", "host_pki.tools01"}
    text = (tmp / "homelab.yaml").read_text()
    assert "ip: 192.168.10.21, vmid: 101" in text  # the next free address and VMID after cp04's


def test_vm_add_refuses_bad_input_and_leaves_the_file_untouched(applied_lab, capsys):
    tmp, _ = applied_lab
    before = (tmp / "homelab.yaml").read_bytes()
    assert run(["vm", "add", "kube01", "--role", "k8s-worker", "--no-render"]) == 2
    assert "a VM named kube01 already exists" in capsys.readouterr().err
    assert run(["vm", "add", "kube09", "--role", "k8s-wrker", "--no-render"]) == 2
    assert "unknown role 'k8s-wrker'" in capsys.readouterr().err
    assert run(["vm", "add", "kube09", "--role", "k8s-worker", "--node", "pve9", "--no-render"]) == 2
    assert run(["vm", "add", "kube09", "--role", "general", "--join", "k3s", "--no-render"]) == 2
    assert (tmp / "homelab.yaml").read_bytes() == before


def test_an_edit_that_would_not_check_clean_is_not_written(tmp_path, monkeypatch, capsys):
    text = REFERENCE.read_text().replace("servers: [kube01, kube02, kube03]", "servers: [kube01]")
    (tmp_path / "homelab.yaml").write_text(text)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(apply_session, "default_engines", lambda: lookup(fake_engines()))
    assert run(["vm", "remove", "kube01", "--no-render"]) == 1  # would leave K3s without a server
    err = capsys.readouterr().err
    assert "servers" in err and "homelab.yaml was not changed" in err
    assert (tmp_path / "homelab.yaml").read_text() == text


def test_vm_remove_plans_the_deletes_and_keeps_the_group_comment(applied_lab, capsys):
    tmp, _ = applied_lab
    before = (tmp / "homelab.yaml").read_text()
    capsys.readouterr()
    assert run(["vm", "remove", "kube04", "--no-render", "--format", "json"]) == 0
    after = (tmp / "homelab.yaml").read_text()
    assert comments(after) == comments(before)
    assert "  # Kubernetes workers (K3s agents). kube06 carries the NVIDIA Tesla GPU.\n  - {name: kube05" in after
    assert "agents: [kube05, kube06]" in after
    # pve1 has 8GiB more room now; torrent (placed automatically, on pve3) would move there: it is pinned
    assert "  - {name: torrent, role: torrent, env: home-apps, ip: 192.168.10.56, vmid: 156, node: pve3}" in after
    captured = capsys.readouterr()
    assert "pinned torrent to their current nodes" in captured.err
    assert actionable(captured.out) == {
        "proxmox_vm.kube04": ("delete", "no longer in homelab.yaml"),
        "host.kube04": ("delete", "no longer in homelab.yaml"),
        "host_pki.kube04": ("delete", "no longer in homelab.yaml"),
        "k3s_agent.kube04": ("delete", "no longer in homelab.yaml"),
    }
    assert run(["vm", "remove", "kibana", "--no-render"]) == 2
    assert "kibana is named by clusters.elasticsearch.kibana" in capsys.readouterr().err


def test_app_add_validates_the_chart_and_plans_one_app(applied_lab, capsys):
    tmp, _ = applied_lab
    before = (tmp / "homelab.yaml").read_text()
    assert run(["app", "add", "sabnzbd", "--chart", "https://bjw-s-labs.github.io/helm-charts/app-template",
                "--namespace", "media", "--no-render"]) == 2
    assert "has no version: charts are pinned" in capsys.readouterr().err
    assert run(["app", "add", "sabnzbd", "--chart", "app-template@4.1.1", "--namespace", "media",
                "--no-render"]) == 2
    assert "is not a chart reference" in capsys.readouterr().err
    assert (tmp / "homelab.yaml").read_text() == before

    assert run(["app", "add", "sabnzbd", "--chart", "oci://ghcr.io/bjw-s-labs/helm/app-template@4.1.1",
                "--namespace", "downloads", "--create-namespace", "--image", "lscr.io/linuxserver/sabnzbd:4.5.2",
                "--port", "8080", "--no-render", "--format", "json"]) == 0
    captured = capsys.readouterr()
    after = (tmp / "homelab.yaml").read_text()
    assert comments(after) == comments(before)
    assert actionable(captured.out) == {"argocd_app.downloads/sabnzbd": ("create", "not found on the live system")}
    assert "namespaces: [argocd, prometheus, elastic-stack, llm, media, home-automation, paperless, mealie, " \
           "finance, files, downloads]" in after
    assert "chart: {repo: oci://ghcr.io/bjw-s-labs/helm, name: app-template, version: 4.1.1}" in after


def test_vm_add_rerenders_by_default(applied_lab, capsys):
    tmp, _ = applied_lab
    assert run(["vm", "add", "kube07", "--role", "k8s-worker", "--out", "out"]) == 0
    assert "render: out:" in capsys.readouterr().out
    rendered = "\n".join(p.read_text() for p in (tmp / "out").rglob("*") if p.is_file() and p.suffix in
                         (".tf", ".tfvars", ".yml", ".yaml", ".ini", ".json"))
    assert "kube07" in rendered


@pytest.mark.parametrize("bad_out", ["a-file", "a-file/below", "foreign"])
def test_vm_add_with_an_unusable_out_leaves_the_lab_untouched_and_can_be_rerun(applied_lab, capsys, bad_out):
    tmp, _ = applied_lab
    (tmp / "a-file").write_text("not a directory\n")
    (tmp / "foreign").mkdir()
    (tmp / "foreign" / "README.md").write_text("my own readme\n")  # homelab renders README.md: refused
    before = (tmp / "homelab.yaml").read_bytes()
    assert run(["vm", "add", "kube07", "--role", "k8s-worker", "--out", bad_out]) == 1
    err = capsys.readouterr().err
    assert "homelab.yaml was not changed" in err, err
    assert (tmp / "homelab.yaml").read_bytes() == before
    assert (tmp / "a-file").read_text() == "not a directory\n"
    assert sorted(p.name for p in (tmp / "foreign").iterdir()) == ["README.md"]  # nothing rendered there
    assert (tmp / "foreign" / "README.md").read_text() == "my own readme\n"
    # the same command with a usable directory now succeeds (no "already exists")
    assert run(["vm", "add", "kube07", "--role", "k8s-worker", "--out", "out"]) == 0
    assert "name: kube07" in (tmp / "homelab.yaml").read_text()
    assert "kube07" in (tmp / "out" / "ansible" / "inventory.yml").read_text()


APP_TEMPLATE = "https://bjw-s-labs.github.io/helm-charts/app-template@4.1.1"


def test_app_add_refuses_a_new_namespace_without_consent(applied_lab, capsys):
    tmp, _ = applied_lab
    before = (tmp / "homelab.yaml").read_text()
    assert run(["app", "add", "sabnzbd", "--chart", APP_TEMPLATE, "--namespace", "medai", "--no-render"]) == 2
    err = capsys.readouterr().err
    assert "namespace 'medai' is not declared in `namespaces`" in err and "--create-namespace" in err
    assert "media" in err  # the namespaces it could have meant
    assert (tmp / "homelab.yaml").read_text() == before


def test_app_add_with_storage_secret_gpu_and_backup(applied_lab, capsys):
    tmp, _ = applied_lab
    args = ["app", "add", "whisper", "--chart", APP_TEMPLATE, "--namespace", "llm", "--gpu", "1", "--no-render"]
    assert run(args) == 1  # the lab's one GPU × 2 time-slicing replicas is taken by ollama and the webui
    assert "gpu-capacity-exceeded" in capsys.readouterr().err
    lab = tmp / "homelab.yaml"
    assert "time_slicing: 2" in lab.read_text()
    lab.write_text(lab.read_text().replace("time_slicing: 2", "time_slicing: 3"))
    assert run(["app", "add", "whisper", "--chart", APP_TEMPLATE, "--namespace", "llm",
                "--image", "ghcr.io/example/whisper:1.2.3", "--port", "9000",
                "--storage", "models:20GiB:/models", "--storage", "cache:1GiB:/cache:freenas-nfs-csi",
                "--secret", "apps/plex#claim_token=PLEX_CLAIM", "--gpu", "1", "--backup", "daily:7",
                "--no-render", "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert actionable(captured.out) == {"argocd_app.llm/whisper": ("create", "not found on the live system")}
    from homelab.lab.load import load_lab

    app = next(a for a in load_lab(tmp / "homelab.yaml").lab.apps if a.name == "whisper")
    assert [(v.name, v.size, v.mount, v.class_) for v in app.storage] == [
        ("models", 20 * 2**30, "/models", None), ("cache", 2**30, "/cache", "freenas-nfs-csi")]
    assert [(u.path, u.field, u.env) for u in app.secrets] == [("apps/plex", "claim_token", "PLEX_CLAIM")]
    assert app.gpu == 1 and (app.backup.schedule, app.backup.retention_days) == ("daily", 7)
    text = (tmp / "homelab.yaml").read_text()
    assert "storage: [{name: models, size: 20GiB, mount: /models}, {name: cache, size: 1GiB, mount: /cache, " \
           "class: freenas-nfs-csi}]" in text
    for bad, says in ((["--storage", "models:/models"], "is not NAME:SIZE:MOUNT[:CLASS]"),
                      (["--storage", "m:lots:/m"], "is not a size"),
                      (["--secret", "apps/plex"], "is not PATH#FIELD[=ENV]"),
                      (["--backup", "monthly"], "is not SCHEDULE[:DAYS]"),
                      (["--gpu", "9"], "out of range 1-8")):
        assert run(["app", "add", "x1", "--chart", APP_TEMPLATE, "--namespace", "llm", "--no-render", *bad]) == 2
        assert says in capsys.readouterr().err, bad
    # a secret the catalogue does not have: the edit is refused with the located finding
    assert run(["app", "add", "x2", "--chart", APP_TEMPLATE, "--namespace", "llm", "--no-render",
                "--secret", "apps/nothere#token"]) == 1
    assert "unknown-secret" in capsys.readouterr().err


def test_app_remove_plans_the_deletion_and_says_what_stays(applied_lab, capsys):
    tmp, _ = applied_lab
    before = (tmp / "homelab.yaml").read_text()
    assert run(["app", "remove", "pihole", "--no-render", "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert actionable(captured.out) == {"argocd_app.home-automation/pihole": ("delete", "no longer in homelab.yaml")}
    after = (tmp / "homelab.yaml").read_text()
    assert "name: pihole" not in after and comments(after) == comments(before)
    assert "note: secret apps/pihole stays in the catalogue and in Vault" in captured.err
    assert run(["app", "remove", "nothere", "--no-render"]) == 2
    assert "there is no app named nothere" in capsys.readouterr().err
