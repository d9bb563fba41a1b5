"""Hostile input through the CLI: every case is a clear message and the DESIGN.md exit code, never a
traceback or an `internal error`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from homelab.cli.main import main

REFERENCE = Path(__file__).resolve().parent.parent / "examples" / "reference" / "homelab.yaml"


@pytest.fixture
def lab(tmp_path, monkeypatch):
    shutil.copy(REFERENCE, tmp_path / "homelab.yaml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOMELAB_STATE_DIR", str(tmp_path / ".homelab"))
    monkeypatch.delenv("HOMELAB_VAULT_ADDR", raising=False)
    monkeypatch.delenv("VAULT_TOKEN", raising=False)
    return tmp_path


def run(argv) -> int:
    with pytest.raises(SystemExit) as ex:
        main(argv)
    return ex.value.code


def test_plan_output_that_is_a_directory_is_a_usage_error(lab, capsys):
    (lab / "plans").mkdir()
    assert run(["plan", "homelab.yaml", "-o", "plans"]) == 2
    err = capsys.readouterr().err
    assert "internal error" not in err
    assert "cannot write plans: it is a directory" in err


def test_plan_output_below_a_file_is_a_usage_error(lab, capsys):
    (lab / "afile").write_text("x")
    assert run(["plan", "homelab.yaml", "-o", "afile/plan.json"]) == 2
    err = capsys.readouterr().err
    assert "internal error" not in err
    assert "cannot write afile/plan.json" in err and "afile exists and is a writable directory" in err


def test_vm_add_on_a_lab_file_that_cannot_be_replaced_names_the_file(lab, capsys, monkeypatch):
    import os

    before = (lab / "homelab.yaml").read_text()

    def refuse(src, dst):  # what a read-only or immutable file does to the rename (EPERM)
        raise PermissionError(1, "Operation not permitted", src, dst)

    monkeypatch.setattr(os, "replace", refuse)
    assert run(["vm", "add", "kube07", "--role", "k8s-worker", "--no-render"]) == 2
    err = capsys.readouterr().err
    assert "internal error" not in err
    assert "cannot write homelab.yaml: Operation not permitted" in err
    assert (lab / "homelab.yaml").read_text() == before
    assert [p.name for p in lab.iterdir() if p.name.endswith(".tmp")] == []


DUP_IP = ("ip: 192.168.10.72, vmid: 172", "ip: 192.168.10.71, vmid: 172")  # kube02 takes kube01's address


def test_plan_refuses_a_lab_that_check_rejects(lab, capsys):
    text = (lab / "homelab.yaml").read_text()
    assert DUP_IP[0] in text
    (lab / "homelab.yaml").write_text(text.replace(*DUP_IP))
    assert run(["plan", "homelab.yaml", "-o", "plan.json"]) == 1
    err = capsys.readouterr().err
    assert "error[vm-ip-duplicate]" in err
    assert not (lab / "plan.json").exists()
    assert run(["plan", "homelab.yaml", "--detailed-exitcode"]) == 1  # Terraform's "error", not "changes"


def test_apply_refuses_a_lab_that_check_rejects(lab, capsys):
    text = (lab / "homelab.yaml").read_text()
    (lab / "homelab.yaml").write_text(text.replace(*DUP_IP))
    assert run(["apply", "homelab.yaml", "-y"]) == 1
    out, err = capsys.readouterr()
    assert "error[vm-ip-duplicate]" in err
    assert "Plan:" not in out and "Apply complete" not in out + err  # stopped before planning


@pytest.mark.parametrize("schedule, ok", [
    ("0 3 * * *", True), ("*/15 1-5 * * MON-FRI", True), ("@daily", True),
    ("every day", False), ("0 3 * *", False), ("0 3 * * * *", False),
])
def test_backup_schedules_must_be_cron(lab, capsys, schedule, ok):
    text = (lab / "homelab.yaml").read_text()
    old = 'schedule: "0 3 * * *"'  # backup.vault (the reference lab's only schedule at 03:00)
    assert text.count(old) == 1
    (lab / "homelab.yaml").write_text(text.replace(old, f'schedule: "{schedule}"'))
    code = run(["check", "homelab.yaml"])
    out, err = capsys.readouterr()
    if ok:
        assert code == 0, out + err
    else:
        assert code == 2
        assert "backup.vault.schedule" in out + err and "is not a cron schedule" in out + err


def test_secrets_put_json_keeps_json_spelling_of_booleans_and_numbers(monkeypatch):
    import io

    from homelab.cli.secrets import _read_values
    from homelab.errors import UsageError
    from homelab.secrets import REDACTOR

    monkeypatch.setattr(REDACTOR, "_values", set())  # the values below are registered; keep them to this test

    monkeypatch.setattr("sys.stdin", io.StringIO('{"enabled": true, "port": 8080, "ratio": 1.5, "name": "x"}'))
    values = _read_values([], as_json=True)
    assert {k: v.reveal() for k, v in values.items()} == {"enabled": "true", "port": "8080", "ratio": "1.5",
                                                           "name": "x"}
    monkeypatch.setattr("sys.stdin", io.StringIO('{"token": ""}'))
    with pytest.raises(UsageError, match="empty value for token"):
        _read_values([], as_json=True)


def test_a_saved_plan_applies_from_another_directory(lab, capsys, monkeypatch):
    (lab / "sub").mkdir()
    monkeypatch.chdir(lab.parent)
    assert run(["plan", f"{lab.name}/homelab.yaml", "-o", f"{lab.name}/plan.json"]) == 0
    monkeypatch.chdir(lab / "sub")  # lab/homelab.yaml, as the plan recorded it, is not reachable from here
    assert run(["apply", "../plan.json", "-y"]) == 0
    out, err = capsys.readouterr()
    assert "Apply complete" in out + err
    (lab / "homelab.yaml").rename(lab / "elsewhere.yaml")
    assert run(["apply", "../plan.json", "-y"]) == 2
    err = capsys.readouterr().err
    assert f"was made from {lab.name}/homelab.yaml, which is not here" in err


APP = "  - name: {name}\n    namespace: {ns}\n    chart: {{repo: \"https://bjw-s-labs.github.io/helm-charts\", " \
      "name: app-template, version: 4.1.1}}\n"


@pytest.mark.parametrize("name, ns, message", [
    ("plex", "other", "app plex is defined twice (also in namespace media"),  # Applications share argocd/
    ("metallb", "media", "app metallb has the name of a platform ArgoCD Application"),
    ("democratic-csi-iscsi", "media", "has the name of a platform ArgoCD Application"),
    ("root", "media", "app root has the name of a platform ArgoCD Application"),
])
def test_app_names_that_would_collide_in_argocd_are_check_errors(lab, capsys, name, ns, message):
    text = (lab / "homelab.yaml").read_text()
    marker = "  # AI/ML on the GPU node\n"
    assert marker in text
    (lab / "homelab.yaml").write_text(text.replace(marker, APP.format(name=name, ns=ns) + marker))
    assert run(["check", "homelab.yaml"]) == 1
    out, err = capsys.readouterr()
    assert "error[app-duplicate]" in out + err and message in out + err
    assert run(["render", "homelab.yaml", "-o", "out"]) == 1  # refused, not an internal error
    assert "internal error" not in capsys.readouterr().err


def test_a_new_app_with_its_own_name_in_another_namespace_is_fine(lab, capsys):
    text = (lab / "homelab.yaml").read_text()
    marker = "  # AI/ML on the GPU node\n"
    (lab / "homelab.yaml").write_text(text.replace(marker, APP.format(name="bazarr", ns="media") + marker))
    assert run(["check", "homelab.yaml"]) == 0, capsys.readouterr()


@pytest.mark.parametrize("san, ok", [
    ("cp.lab.thewortmans.org", True), ("192.168.10.71", True), ("fd00::1", True), ("*.lab.example.org", True),
    ("a b", False), ("https://cp.lab.example.org", False), ("", False),
])
def test_k3s_tls_sans_are_dns_names_or_addresses(lab, capsys, san, ok):
    text = (lab / "homelab.yaml").read_text()
    old = "tls_sans: [cp.lab.thewortmans.org,"
    assert old in text
    (lab / "homelab.yaml").write_text(text.replace(old, f"tls_sans: ['{san}', cp.lab.thewortmans.org,"))
    code = run(["check", "homelab.yaml"])
    out, err = capsys.readouterr()
    if ok:
        assert code == 0, out + err
    else:
        assert code == 2
        assert "clusters.k3s.tls_sans[0]" in out + err and "is not a DNS name or IP address" in out + err


def test_render_never_overwrites_a_file_homelab_did_not_write(lab, capsys):
    out = lab / "repo"
    out.mkdir()
    (out / "README.md").write_text("my own notes\n")  # the operator's file, at a path homelab renders
    assert run(["render", "homelab.yaml", "-o", "repo"]) == 1
    err = capsys.readouterr().err
    assert "refusing to overwrite README.md" in err and "homelab did not write it" in err
    assert (out / "README.md").read_text() == "my own notes\n"
    (out / "README.md").unlink()
    assert run(["render", "homelab.yaml", "-o", "repo"]) == 0
    first = (out / "README.md").read_text()
    (out / ".homelab-rendered.json").unlink()  # a lost manifest: files with the generated header are still ours
    (out / "README.md").write_text(first + "an edit\n")
    assert run(["render", "homelab.yaml", "-o", "repo"]) == 0
    assert (out / "README.md").read_text() == first


def test_readme_manual_vault_steps_create_the_users_terraform_logs_in_as():
    """The manual steps must leave a Vault the rendered Terraform can log in to: the provider logs in
    itself as userpass user `terraform` with var.vault_password (platform-facts §2), so the README
    creates that user (POST auth/userpass/users/:name with token_policies, §7.3) and hands Terraform the
    password as TF_VAR_vault_password; policies are written with a privileged token, not as `terraform`."""
    from homelab.lab.load import load_lab
    from homelab.render import repo

    readme = {f.path: f.content for f in repo.render(load_lab(str(REFERENCE)))}["README.md"]
    assert "vault write auth/userpass/users/terraform token_policies=terraform " in readme
    assert "vault write auth/userpass/users/ansible token_policies=ansible " in readme
    assert "password=-" in readme  # from stdin, never on the command line
    assert "export TF_VAR_vault_password" in readme
    assert "vault login -method=userpass username=terraform" not in readme
    init = readme.index("vault operator init")
    assert readme.index("vault login  ", init) < readme.index("vault policy write", init)


@pytest.mark.parametrize("command", [["plan", "homelab.yaml"], ["apply", "homelab.yaml", "-y"]])
def test_a_state_dir_that_is_a_file_is_a_usage_error(lab, capsys, command):
    (lab / "afile").write_text("x")
    assert run([*command, "--state-dir", "afile"]) == 2
    err = capsys.readouterr().err
    assert "internal error" not in err
    assert "cannot use afile as the state directory: it is not a directory" in err
    assert run([*command, "--state-dir", "afile/below"]) == 2
    assert "cannot use afile/below as the state directory" in capsys.readouterr().err


def test_vault_up_with_a_state_dir_that_is_a_file_is_a_usage_error(lab, capsys, monkeypatch):
    monkeypatch.setenv("HOMELAB_VAULT_ADDR", "embedded")
    (lab / "afile").write_text("x")
    assert run(["vault", "up", "--lab", "homelab.yaml", "--state-dir", "afile"]) == 2
    err = capsys.readouterr().err
    assert "internal error" not in err
    assert "cannot create the embedded Vault's directory afile/vault" in err


def test_a_backup_directory_that_cannot_be_made_is_a_usage_error(tmp_path):
    from homelab.errors import UsageError
    from homelab.ops.vault_backup import _make_dir

    (tmp_path / "afile").write_text("x")
    with pytest.raises(UsageError, match="cannot write backups to .*afile: it is not a directory"):
        _make_dir(tmp_path / "afile")
    with pytest.raises(UsageError, match="cannot write backups to .*afile/x: Not a directory"):
        _make_dir(tmp_path / "afile" / "x")
    _make_dir(tmp_path / "b" / "c")
    assert (tmp_path / "b" / "c").is_dir() and ((tmp_path / "b" / "c").stat().st_mode & 0o777) == 0o700


@pytest.mark.parametrize("old, new, message", [
    ("values_path: k8s/values", "values_path: ../../etc", "gitops.argocd.values_path: '../../etc' is not a directory"),
    ("values_path: k8s/values", "values_path: /etc/values", "is not a directory inside the repository"),
    ("repo_url: git@github.com:wortmanb/homelab.git", "repo_url: not a url", "is not a Git URL"),
    ("revision: main", "revision: feature/x y", "is not a Git branch, tag or commit"),
])
def test_gitops_paths_and_urls_are_validated(lab, capsys, old, new, message):
    text = (lab / "homelab.yaml").read_text()
    assert old in text
    (lab / "homelab.yaml").write_text(text.replace(old, new))
    assert run(["check", "homelab.yaml"]) == 2
    out, err = capsys.readouterr()
    assert message in out + err
    assert run(["render", "homelab.yaml", "-o", "out"]) == 2
    assert "internal error" not in capsys.readouterr().err
    assert not (lab.parent / "etc").exists()


@pytest.mark.parametrize("url", ["https://github.com/wortmanb/homelab.git", "ssh://git@gitea.lab:2222/me/lab.git",
                                 "git@github.com:wortmanb/homelab.git"])
def test_usual_git_urls_are_accepted(lab, capsys, url):
    text = (lab / "homelab.yaml").read_text()
    (lab / "homelab.yaml").write_text(text.replace("repo_url: git@github.com:wortmanb/homelab.git", f"repo_url: {url}"))
    assert run(["check", "homelab.yaml"]) == 0, capsys.readouterr()


def test_checking_an_endless_device_reads_a_bounded_amount(capsys):
    """/dev/zero has no size (st_size 0) and never ends: reading it whole would eat all memory."""
    assert run(["check", "/dev/zero"]) == 2
    out, err = capsys.readouterr()
    assert "error[file-too-large]: /dev/zero is larger than 8388608 bytes" in out + err


def test_a_lab_written_as_json_is_not_mistaken_for_a_saved_plan(tmp_path):
    import json

    import yaml

    from homelab.cli.apply import is_plan_file

    lab = yaml.safe_load(REFERENCE.read_text())
    (tmp_path / "lab.json").write_text(json.dumps(lab))
    (tmp_path / "homelab.yaml").write_text(json.dumps(lab))
    (tmp_path / "plan.json").write_text(json.dumps({"format_version": 1, "layers": []}))
    (tmp_path / "saved").write_text(json.dumps({"format_version": 1, "layers": []}))
    assert not is_plan_file(str(tmp_path / "lab.json"))
    assert not is_plan_file(str(tmp_path / "homelab.yaml"))
    assert is_plan_file(str(tmp_path / "plan.json"))
    assert is_plan_file(str(tmp_path / "saved"))
