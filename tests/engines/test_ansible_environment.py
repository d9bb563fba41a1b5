"""The environment the ansible engine gives ansible-playbook: community.hashi_vault's lookups verify Vault against
VAULT_CACERT — the rendered repository's tls/ca.crt unless the caller or the user named one. (The collection does not
template its `ansible_hashi_vault_ca_cert` variable, so group_vars cannot carry the path: found by the PKI sandbox
test, where the lookup failed with 'invalid path: {{ lookup(...'.)"""

from __future__ import annotations

from homelab.engines.ansible import _environment
from homelab.render.ansible import render


def _repo(tmp_path, with_ca: bool):
    project = tmp_path / "repo" / "ansible"
    project.mkdir(parents=True)
    if with_ca:
        (tmp_path / "repo" / "tls").mkdir()
        (tmp_path / "repo" / "tls" / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    return project


def test_the_rendered_ca_is_vault_cacert_unless_one_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("VAULT_CACERT", raising=False)
    project = _repo(tmp_path, with_ca=True)
    env = _environment(project, tmp_path / "pd", None, None)
    assert env["VAULT_CACERT"] == str(tmp_path / "repo" / "tls" / "ca.crt")
    assert _environment(project, tmp_path / "pd", None, {"VAULT_CACERT": "/x.pem"})["VAULT_CACERT"] == "/x.pem"
    monkeypatch.setenv("VAULT_CACERT", "/users.pem")
    assert "VAULT_CACERT" not in _environment(project, tmp_path / "pd", None, None)  # the user's wins (inherited)


def test_no_ca_file_no_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("VAULT_CACERT", raising=False)
    assert "VAULT_CACERT" not in _environment(_repo(tmp_path, with_ca=False), tmp_path / "pd", None, None)


def test_group_vars_never_set_the_collections_untemplated_ca_variable(reference_doc):
    text = "\n".join(f.content for f in render(reference_doc) if f.path.endswith("group_vars/all.yml"))
    assert "ansible_hashi_vault_ca_cert" not in text
    assert "lab_vault_ca_cert:" in text
