"""The rendered repository's own files (README, SECURITY, .gitignore, pre-commit, yamllint) and this
project's .pre-commit-hooks.yaml — checked with the real tools where they run here (git, yamllint,
ansible-lint's yamllint loader)."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from homelab.lab.load import load_text
from homelab.render import repo
from homelab.render.base import GENERATED

ROOT = Path(__file__).resolve().parents[2]


def _yaml(text: str):
    return YAML(typ="safe", pure=True).load(text)


def _tables(text: str) -> list[list[str]]:
    blocks, current = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            blocks.append(current)
            current = []
    return blocks


@pytest.fixture(scope="module")
def files(reference_doc) -> dict[str, str]:
    return {f.path: f.content for f in repo.render(reference_doc)}


def test_files_and_generated_marker(files):
    assert sorted(files) == [".github/workflows/validate.yml", ".gitignore", ".pre-commit-config.yaml", ".yamllint",
                             "README.md", "SECURITY.md", "renovate.json", "tls/README.md"]
    for path, text in files.items():
        if path.endswith(".json"):
            continue  # JSON has no comments (tests/render/test_repo_ci.py checks renovate.json)
        first = text.splitlines()[0]
        assert GENERATED in first, path
        assert text.endswith("\n") and not text.endswith("\n\n") and "\n\n\n" not in text, path


@pytest.mark.parametrize("path", ["README.md", "SECURITY.md"])
def test_markdown_tables_well_formed(files, path):
    for block in _tables(files[path]):
        widths = {len(re.split(r"(?<!\\)\|", line)) for line in block}
        assert len(widths) == 1, block
        assert re.fullmatch(r"\|( :?-{3,}:? \|)+", block[1]), block[1]


# --- .gitignore ----------------------------------------------------------------------------------------


def test_gitignore_has_the_patterns(files):
    lines = [ln for ln in files[".gitignore"].splitlines() if ln and not ln.startswith("#")]
    for pattern in ("*.tfstate*", ".terraform/", ".homelab/", "*.key", "*.pem"):
        assert pattern in lines


def test_gitignore_as_git_reads_it(files, tmp_path):
    """git itself decides: state, plans, caches, homelab state and keys are ignored; sources are not."""
    git = shutil.which("git")
    assert git, "git is needed for this test (it is on the machine image and in CI)"
    subprocess.run([git, "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text(files[".gitignore"])
    ignored = ["tf/lab/terraform.tfstate", "tf/lab/terraform.tfstate.backup", "tf/vault/terraform.tfstate.1.backup",
               "tf/lab/.terraform/providers/x", "tf/lab/plan.tfplan", ".homelab/state.db",
               ".homelab/vault/keys.json", "vault/tls/vault.key", "certs/root_ca.pem", "ansible/kubeconfig",
               "id_ed25519"]
    kept = ["tf/lab/main.tf", "tf/lab/.terraform.lock.hcl", "homelab.yaml", "docs/secrets.md", "README.md",
            "vault/policies/terraform.hcl", "ansible/site.yml", "k8s/apps/media/plex.yaml", "id_ed25519.pub"]
    proc = subprocess.run([git, "-C", str(tmp_path), "check-ignore", "--no-index", "--stdin"],
                          input="\n".join(ignored + kept) + "\n", capture_output=True, text=True)
    assert sorted(proc.stdout.split()) == sorted(ignored)


# --- pre-commit ----------------------------------------------------------------------------------------


def test_pre_commit_config(files):
    config = _yaml(files[".pre-commit-config.yaml"])
    repos = {r["repo"]: r for r in config["repos"]}
    hooks = {h["id"]: h for h in repos["local"]["hooks"]}
    assert hooks["homelab-check"]["entry"] == "homelab check homelab.yaml"
    assert hooks["homelab-render-check"]["entry"] == "homelab render --check homelab.yaml"
    for hook in hooks.values():
        assert {"id", "name", "entry", "language"} <= set(hook)
        assert hook["pass_filenames"] is False
    assert re.search(hooks["homelab-check"]["files"], "homelab.yaml")
    gitleaks = repos["https://github.com/gitleaks/gitleaks"]
    assert re.fullmatch(r"v\d+\.\d+\.\d+", gitleaks["rev"]) and gitleaks["hooks"] == [{"id": "gitleaks"}]
    yamllint = repos["https://github.com/adrienverge/yamllint"]
    assert re.fullmatch(r"v\d+\.\d+\.\d+", yamllint["rev"]) and yamllint["hooks"][0]["id"] == "yamllint"


def test_project_pre_commit_hooks():
    hooks = {h["id"]: h for h in _yaml((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"homelab-check", "homelab-render-check", "homelab-validate", "homelab-secrets-scan"}
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    for hook in hooks.values():
        assert hook["language"] == "python"
        assert hook["entry"].split()[0] in scripts  # the console script pre-commit installs
    assert hooks["homelab-check"]["entry"] == "homelab check"
    assert hooks["homelab-render-check"]["entry"] == "homelab render --check"
    files = re.compile(hooks["homelab-check"]["files"])
    assert files.search("homelab.yaml") and files.search("labs/home/homelab.yml")
    assert not files.search("homelab.yaml.bak") and not files.search("other.yaml")
    assert hooks["homelab-check"]["pass_filenames"] is True
    assert hooks["homelab-render-check"]["pass_filenames"] is False


# --- yamllint ------------------------------------------------------------------------------------------


@pytest.mark.validators
def test_yamllint_config_lints_the_rendered_yaml(files):
    from yamllint import linter
    from yamllint.config import YamlLintConfig

    config = YamlLintConfig(files[".yamllint"])
    for path in (".pre-commit-config.yaml", ".yamllint"):
        problems = [p for p in linter.run(files[path], config) if p.level == "error"]
        assert problems == [], (path, problems)
    # and it does find real problems
    bad = "key: yes\nother:   value\n"
    rules = {p.rule for p in linter.run(bad, config)}
    assert "truthy" in rules and "colons" in rules


@pytest.mark.validators
def test_yamllint_config_is_compatible_with_ansible_lint(files, tmp_path):
    from ansiblelint.yaml_utils import load_yamllint_config

    path = tmp_path / ".yamllint"
    path.write_text(files[".yamllint"])
    assert load_yamllint_config(path).incompatible == ""
    path.write_text("extends: default\n")  # the check is real: yamllint's defaults are incompatible
    assert load_yamllint_config(path).incompatible != ""


# --- README and SECURITY -------------------------------------------------------------------------------


def test_readme_directories_and_order(files):
    text = files["README.md"]
    for d in ("tf/", "ansible/", "k8s/bootstrap/", "k8s/apps/", "k8s/values/", "vault/", "docs/"):
        assert f"`{d}" in text, d
    assert "generated by `homelab` from `homelab.yaml`" in text
    for env in ("lab", "kubernetes", "home-apps", "vault"):
        assert f"terraform -chdir=tf/{env} apply" in text, env
    # Vault first, then the other environments, then Ansible's site.yml, then ArgoCD
    vault = text.index("terraform -chdir=tf/vault apply")
    vms = max(text.index(f"terraform -chdir=tf/{e} apply") for e in ("lab", "kubernetes", "home-apps"))
    ansible = text.index("ansible-playbook -i inventory.yml site.yml\n")
    argocd = text.index("helm install argocd argo-cd")
    assert vault < vms < ansible < argocd
    assert "--version 10.1.1" in text
    assert "ansible-galaxy collection install -r requirements.yml" in text
    for policy in ("admin", "ansible", "apps", "terraform"):
        assert f"vault policy write {policy} vault/policies/{policy}.hcl" in text
    assert "export VAULT_SKIP_VERIFY" not in text  # the reference lab verifies Vault (issue 11, item 4)
    assert "export VAULT_CACERT=$PWD/tls/ca.crt" in text
    assert "[`docs/secrets.md`](docs/secrets.md)" in text


def test_readme_bootstrap_order_needs_no_vault_before_vault_exists(files):
    """Issue 11, item 1: the README's steps are true in order. tf/vault (the Vault server's VM) is applied
    with the Proxmox token from the environment before any Vault exists; Vault is then set up with Ansible
    (`--limit vault`, no extra variables), initialised, and given the token; only then the other roots."""
    text = files["README.md"]
    assert "temporary Vault" not in text
    steps = [
        "export PM_API_TOKEN_ID=",
        "read -rs PM_API_TOKEN_SECRET && export PM_API_TOKEN_SECRET",
        "terraform -chdir=tf/vault apply",
        "ansible-playbook -i inventory.yml site.yml --limit vault)",
        "export VAULT_ADDR=https://vault.lab.thewortmans.org:8200",
        "vault operator init",
        "vault policy write terraform vault/policies/terraform.hcl",
        'printf %s "$PM_API_TOKEN_SECRET" | vault kv put secret/infra/proxmox api_token_id="$PM_API_TOKEN_ID" '
        "api_token_secret=-",
        "read -rs TF_VAR_vault_password && export TF_VAR_vault_password",
        "terraform -chdir=tf/home-apps apply",
    ]
    positions = [text.index(step) for step in steps]
    assert positions == sorted(positions), list(zip(steps, positions, strict=True))
    assert "-e vault_server_tls" not in text  # item 14: no extra variables
    # nothing but tf/vault is applied before Vault holds the token
    first_other = min(text.index(f"terraform -chdir=tf/{e} apply") for e in ("lab", "kubernetes", "home-apps"))
    assert first_other > text.index("vault kv put secret/infra/proxmox")


def test_readme_without_a_vault_server_vm(reference_path):
    text = reference_path.read_text().replace("  server: vault\n", "")
    out = repo.readme(load_text(text))
    assert "#### 1a." not in out and "--limit" not in out  # no Vault VM to create first
    assert "terraform -chdir=tf/vault init && terraform -chdir=tf/vault apply" in out  # an ordinary root now
    # the token is asked for where it is written to Vault, not assumed from an earlier step
    assert out.index("read -rs PM_API_TOKEN_SECRET") < out.index('printf %s "$PM_API_TOKEN_SECRET" | vault kv put')


def test_tls_readme_issues_certificates_with_every_name_clients_use(files):
    """tls/README.md: the CA root and one certificate per VM with FQDN, short name and IP as SANs (issue 11,
    item 10: Kibana and Fleet reach Elasticsearch by name; the IP SAN is there for clients that use it)."""
    text = files["tls/README.md"]
    assert "step ca root tls/ca.crt" in text
    assert ("step ca certificate es01.lab.thewortmans.org tls/es01.crt tls/es01.key "
            "--san es01.lab.thewortmans.org --san es01 --san 192.168.10.81") in text
    assert "tls/vault.crt tls/vault.key" in text and "git-ignored" in text
    assert "tls/kibana.crt" in text and "tls/fleet.crt" in text and "tls/es09.crt" in text
    assert "kube01" not in text and "plex" not in text  # only VMs that serve a certificate from tls/


def test_security_explains_what_git_ignores(files):
    text = files["SECURITY.md"]
    for pattern, _why in repo.GITIGNORE:
        assert f"`{pattern}`" in text
    assert "secret\nread from Vault" in text and "Terraform" in text
    assert "read ephemerally and is not in it" in text  # the Proxmox token (issue 11, item 4)
    assert "gitleaks" in text and "Rotate it in Vault first" in text
    assert "5 key shares, any 3" in text
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| `")}
    assert rows["`terraform`"].split("|")[3].strip() == "`infra/proxmox`"  # not infra/ssh (issue 11, item 12)
    assert "all 16 catalogue paths" in rows["`admin`"]  # 12 + the Elastic service tokens and Kibana key + backup/vault


def test_security_without_step_ca_or_skip_verify(reference_path):
    text = reference_path.read_text().replace("skip_verify: true}", "skip_verify: false}")
    text = text.replace("{ca: step-ca,", "{ca: self-signed,")
    out = repo.security(load_text(text))
    assert "VAULT_SKIP_VERIFY" not in out
    assert "self-signed certificate" in out and "step-ca CA" not in out


# --- determinism and secrets ---------------------------------------------------------------------------


def test_deterministic_and_order_independent(reference_doc, reference_path):
    first = [(f.path, f.content.encode()) for f in repo.render(reference_doc)]
    assert first == [(f.path, f.content.encode()) for f in repo.render(reference_doc)]
    y = YAML(typ="rt")
    data = y.load(reference_path.read_text())
    for key in ("vms", "apps"):
        data[key].reverse()
    data["vault"]["users"].reverse()
    for name in list(data["vault"]["policies"])[::-1]:
        data["vault"]["policies"].move_to_end(name)
    buf = io.StringIO()
    y.dump(data, buf)
    assert [(f.path, f.content.encode()) for f in repo.render(load_text(buf.getvalue()))] == first


def test_no_secret_values(reference_path, monkeypatch):
    monkeypatch.setenv("VAULT_TOKEN", "hvs.PLANTEDtoken0001")
    monkeypatch.setenv("PM_API_TOKEN_SECRET", "PLANTED-0002")
    out = "".join(f.content for f in repo.render(load_text(reference_path.read_text())))
    assert "PLANTED" not in out


def test_readme_points_at_files_the_renderers_write(reference_doc, files):
    """What README tells the user to run or read exists in the full rendering (all renderers)."""
    from homelab.render import render_all

    paths = {f.path for f in render_all(reference_doc)}
    text = files["README.md"]
    for path in (repo.ARGOCD_VALUES, *repo.ARGOCD_BOOTSTRAP, "ansible/site.yml", "ansible/inventory.yml",
                 "ansible/requirements.yml", *(f"vault/policies/{p}.hcl" for p in ("admin", "ansible", "apps",
                                                                                    "terraform"))):
        assert path in paths, path
    for path, _what in repo.DOCS:
        assert path in paths, path
        assert f"]({path})" in text
    for directory, _what in repo.DIRECTORIES:
        if directory == "homelab.yaml":
            continue
        prefix = directory.replace("<env>/", "")
        assert any(p.startswith(prefix) for p in paths), directory
    for env in ("lab", "kubernetes", "home-apps", "vault"):
        assert any(p.startswith(f"tf/{env}/") for p in paths), env
