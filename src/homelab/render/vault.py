"""Vault: the server config for the real Vault VM and one policy file per lab policy (pure).

`policy_hcl(lab, name)` is the single source of a policy's text: `homelab render` writes it to
`vault/policies/<name>.hcl` and `homelab vault configure` sends exactly the same text to Vault, so a
second configure compares byte for byte and changes nothing.

The KV v2 mapping of the lab's rules (data/, metadata/, delete/ paths) is `lab/vault_access.py`'s.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from homelab.lab.vault_access import DATA_CAPS, METADATA_CAPS, is_embedded, lab_vault_url, policy_paths  # noqa: F401 - re-exported
from homelab.render.base import RenderedFile, header


def policy_hcl(lab, name: str) -> str:
    """The exact text of policy `name` (what `render` writes and `vault configure` uploads)."""
    from homelab.render.hcl import Attribute, Block, Comment, dumps

    policy = lab.vault.policies[name]
    items: list = []
    desc = " ".join(policy.description.split())
    items.append(Comment(f'Policy "{name}"' + (f": {desc}" if desc else "")))
    for path, caps in policy_paths(lab.vault.kv_mount, policy).items():
        items.append(Block("path", [path], [Attribute("capabilities", caps)]))
    return dumps(items, header=header().rstrip("\n"))


def _server_host_port(doc) -> tuple[str, int]:
    lab = doc.lab
    port = 8200
    host = None
    url = lab_vault_url(lab)
    if url:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port or 8200
    if lab.vault.server:
        vm = doc.inventory.by_name.get(lab.vault.server)
        host = vm.fqdn if vm is not None else f"{lab.vault.server}.{lab.network.domain}"
    return host or "vault", port


def server_config_hcl(doc) -> str:
    """`vault.hcl` for HashiCorp Vault (lab.vault.version) on the Vault VM (platform-facts §7.1)."""
    from homelab.render.hcl import Attribute, Blank, Block, Comment, dumps

    lab = doc.lab
    v = lab.vault
    host, port = _server_host_port(doc)
    tls = v.tls.ca != "none"
    scheme = "https" if tls else "http"
    items: list = [Comment(f"HashiCorp Vault {v.version} on {host} ({v.storage} storage)")]
    items += [Attribute("ui", True),
              Attribute("api_addr", f"{scheme}://{host}:{port}"),
              Attribute("cluster_addr", f"{scheme}://{host}:{port + 1}")]
    if v.storage == "raft":
        items.append(Attribute("disable_mlock", True))  # strongly recommended with integrated storage
        storage = Block("storage", ["raft"], [Attribute("path", "/opt/vault/raft"),
                                               Attribute("node_id", lab.vault.server or "vault")])
    else:
        storage = Block("storage", ["file"], [Attribute("path", "/opt/vault/data")])
    items += [Blank(), storage]
    listener = [Attribute("address", f"0.0.0.0:{port}"), Attribute("cluster_address", f"0.0.0.0:{port + 1}")]
    if tls:
        listener += [Attribute("tls_cert_file", v.tls.cert_file), Attribute("tls_key_file", v.tls.key_file),
                     Attribute("tls_min_version", "tls12")]
    else:
        listener.append(Attribute("tls_disable", True))
    items.append(Block("listener", ["tcp"], listener))
    return dumps(items, header=header().rstrip("\n"))


def render(doc) -> Iterable[RenderedFile]:
    lab = doc.lab
    files = []
    if lab.vault.server or not is_embedded(lab):
        files.append(RenderedFile("vault/config/vault.hcl", server_config_hcl(doc)))
    for name in sorted(lab.vault.policies):
        files.append(RenderedFile(f"vault/policies/{name}.hcl", policy_hcl(lab, name)))
    return files
