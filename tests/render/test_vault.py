"""The Vault renderer: policies and server config parse with python-hcl2 and say what the facts say.

Expected capabilities come from platform-facts §7.2 (KV v2 mount `secret/`): values live under
`secret/data/<path>`, listing and version metadata under `secret/metadata/<path>`; read-only =
data [read] + metadata [list, read]; read-write = data [create, read, update, patch, delete] +
metadata [list, read, delete].
"""

from __future__ import annotations

import io

import hcl2
import pytest

from homelab.lab.load import load_text
from homelab.render.base import GENERATED
from homelab.render.vault import policy_hcl, render


def _plain(node):
    """python-hcl2 8 keeps string quotes and adds `__is_block__`; strip both."""
    if isinstance(node, dict):
        return {_plain(k): _plain(v) for k, v in node.items() if k != "__is_block__"}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, str) and len(node) >= 2 and node[0] == node[-1] == '"':
        return node[1:-1]
    return node


def _parse(text: str) -> dict:
    return _plain(hcl2.load(io.StringIO(text)))


def _paths(text: str) -> dict[str, set[str]]:
    """policy text -> {path: set(capabilities)} via python-hcl2 (not via our own writer)."""
    out: dict[str, set[str]] = {}
    for block in _parse(text).get("path", []):
        for path, body in block.items():
            out[path] = set(body["capabilities"])
    return out


@pytest.fixture(scope="module")
def files(reference_doc):
    return {f.path: f for f in render(reference_doc)}


def test_reference_renders_config_and_five_policies(files):
    # the seed's four, plus external-secrets (the "external-secrets operator" roadmap item)
    assert sorted(files) == ["vault/config/vault.hcl", "vault/policies/admin.hcl", "vault/policies/ansible.hcl",
                             "vault/policies/apps.hcl", "vault/policies/external-secrets.hcl",
                             "vault/policies/terraform.hcl"]
    for f in files.values():
        assert f.content.splitlines()[0] == f"# {GENERATED}"
        assert f.content.endswith("\n") and not f.content.endswith("\n\n")
        _parse(f.content)  # every file parses as HCL


def test_external_secrets_policy_reads_only_what_the_external_secrets_use(files):
    paths = _paths(files["vault/policies/external-secrets.hcl"].content)
    assert paths == {
        "secret/data/apps/*": {"read"}, "secret/metadata/apps/*": {"read"},
        "secret/data/storage/truenas": {"read"}, "secret/metadata/storage/truenas": {"read"},
        "secret/data/backup/velero": {"read"}, "secret/metadata/backup/velero": {"read"},
    }


def test_terraform_policy_reads_the_proxmox_token_only(files):
    """Issue 11, item 12: `infra/*` included infra/ssh (Ansible's SSH private key); Terraform needs the
    Proxmox API token and nothing else."""
    paths = _paths(files["vault/policies/terraform.hcl"].content)
    assert paths == {
        "secret/data/infra/proxmox": {"read"},
        "secret/metadata/infra/proxmox": {"read"},
        "auth/token/create": {"update"},  # the Vault provider makes a child token (facts §2)
    }


def test_ansible_policy_reads_six_prefixes_and_stores_the_service_tokens(files):
    paths = _paths(files["vault/policies/ansible.hcl"].content)
    prefixes = ["infra", "k3s", "elastic", "storage", "backup", "apps"]
    expected = {}
    for p in prefixes:
        expected[f"secret/data/{p}/*"] = {"read"}
        expected[f"secret/metadata/{p}/*"] = {"list", "read"}  # facts §7.2 read-only
    # issue 11, item 6: the kibana and fleet_server roles store the service account tokens they create
    for path in ("elastic/kibana", "elastic/fleet"):
        expected[f"secret/data/{path}"] = {"create", "read", "update"}
        expected[f"secret/metadata/{path}"] = {"read"}
    assert paths == expected
    assert not any("automation" in p for p in paths)


def test_apps_policy(files):
    assert _paths(files["vault/policies/apps.hcl"].content) == {
        "secret/data/apps/*": {"read"}, "secret/metadata/apps/*": {"list", "read"}}


def test_admin_raw_path_as_is(files):
    assert _paths(files["vault/policies/admin.hcl"].content) == {
        "*": {"create", "read", "update", "patch", "delete", "list", "sudo"}}


LAB = """
version: 1
name: t
network: {{cidr: 10.0.0.0/24, gateway: 10.0.0.1, dns: [10.0.0.1], domain: lab.example.org}}
proxmox:
  endpoint: https://pve.lab.example.org:8006/api2/json
  nodes: [{{name: pve1, cores: 8, memory: 64GiB, storages: {{local-lvm: 1TiB}}}}]
vms: [{{name: vault, role: vault, env: vault, ip: 10.0.0.9}}]
vault:
  address: https://vault.lab.example.org:8300
  server: vault
  storage: {storage}
  kv_mount: kv
  policies:
    rw:
      rules:
        - {{secrets: team/*, capabilities: [create, read, update, patch, delete, list]}}
        - {{secrets: team/*, capabilities: [read]}}
        - {{secrets: locked/*, capabilities: [deny]}}
    b:
      description: "two\\nlines"
      rules: [{{path: sys/health, capabilities: [read]}}, {{path: auth/token/lookup-self, capabilities: [read]}}]
"""


def _load(storage="file"):
    from homelab.lab.load import LoadError

    try:
        return load_text(LAB.format(storage=storage))
    except LoadError as exc:  # pragma: no cover - shows why the fixture lab is wrong
        raise AssertionError([d.format() for d in exc.diagnostics]) from None


def test_read_write_mapping_matches_facts_and_merges_duplicates():
    doc = _load()
    paths = _paths(policy_hcl(doc.lab, "rw"))
    assert paths["kv/data/team/*"] == {"create", "read", "update", "patch", "delete"}
    assert paths["kv/metadata/team/*"] == {"list", "read", "delete"}
    assert paths["kv/delete/team/*"] == {"update"} and paths["kv/undelete/team/*"] == {"update"}
    assert "kv/destroy/team/*" not in paths
    assert paths["kv/data/locked/*"] == {"deny"} and paths["kv/metadata/locked/*"] == {"deny"}


def test_policy_text_is_deterministic_and_order_independent():
    doc = _load()
    text = policy_hcl(doc.lab, "b")
    assert text == policy_hcl(doc.lab, "b")
    # rules in the other order give the same bytes
    swapped = load_text(LAB.format(storage="file").replace(
        "[{path: sys/health, capabilities: [read]}, {path: auth/token/lookup-self, capabilities: [read]}]",
        "[{path: auth/token/lookup-self, capabilities: [read]}, {path: sys/health, capabilities: [read]}]"))
    assert policy_hcl(swapped.lab, "b") == text
    assert "\n# Policy \"b\": two lines\n" in text  # a description never breaks out of its comment


def test_server_config_file_storage_and_tls():
    doc = _load("file")
    cfg = _parse({f.path: f for f in render(doc)}["vault/config/vault.hcl"].content)
    assert cfg["ui"] is True
    assert cfg["api_addr"] == "https://vault.lab.example.org:8300"
    assert cfg["cluster_addr"] == "https://vault.lab.example.org:8301"
    assert cfg["storage"] == [{"file": {"path": "/opt/vault/data"}}]
    listener = next(iter(cfg["listener"][0].values()))
    assert listener["address"] == "0.0.0.0:8300"
    assert listener["tls_cert_file"] == "/opt/vault/tls/vault.crt"
    assert listener["tls_key_file"] == "/opt/vault/tls/vault.key"
    assert "tls_disable" not in listener
    assert "disable_mlock" not in cfg  # default (false) recommended with file storage (facts §7.1)


def test_server_config_raft():
    doc = _load("raft")
    cfg = _parse({f.path: f for f in render(doc)}["vault/config/vault.hcl"].content)
    storage = next(iter(cfg["storage"][0].values()))
    assert storage == {"path": "/opt/vault/raft", "node_id": "vault"}
    assert cfg["disable_mlock"] is True  # strongly recommended with raft (facts §7.1)


def test_embedded_lab_without_server_renders_policies_only():
    doc = load_text(LAB.format(storage="file").replace("address: https://vault.lab.example.org:8300\n  server: vault\n",
                                                       "address: embedded\n"))
    assert sorted(f.path for f in render(doc)) == ["vault/policies/b.hcl", "vault/policies/rw.hcl"]
