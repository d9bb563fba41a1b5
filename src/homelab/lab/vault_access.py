"""What the lab's Vault policies grant, computed from the model (pure; used by renderers and checks).

One source of truth for the KV v2 mapping of a policy rule (platform-facts §7.2). A rule
`{secrets: P, capabilities: C}` becomes:

- `<mount>/data/P`      with C ∩ {create, read, update, patch, delete} (the secret's values),
- `<mount>/metadata/P`  with `list` if C has list, `read` if C has read, `delete` if C has delete
                        (version history and key listing; never the values),
- `<mount>/delete/P` and `<mount>/undelete/P` with `update` only when C has delete (soft delete of
  chosen versions). `destroy/` is never granted by a `secrets:` rule (permanent; use a raw `path:`).
- `deny` in C denies both the data and the metadata path.

A rule `{path: P, capabilities: C}` is taken as is. Paths are sorted and duplicate paths merged (union
of capabilities), so reordering rules in the lab changes nothing. `policy_paths` is what
`vault/policies/*.hcl` contains and what `homelab vault configure` uploads; `kv_capabilities` answers
"what may this policy do with secret P", matching paths the way Vault does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from homelab.lab.models.vault import CAPABILITIES
from homelab.lab.refs import parse_ref

EMBEDDED = "embedded"  # vault.address of a lab whose Vault is the local OpenBao homelab runs
AUTOMATION_PREFIX = "automation"  # KV directory of the generated userpass passwords (admin-only)
PASSWORD_FIELD = "password"

DATA_CAPS = ("create", "read", "update", "patch", "delete")
METADATA_CAPS = ("list", "read", "delete")
WRITE_CAPS = frozenset({"create", "update", "patch", "delete", "sudo"})
STORE_USER = "external-secrets"  # preferred name of the ClusterSecretStore's Vault user


def _order(caps: Iterable[str]) -> list[str]:
    caps = set(caps)
    if "deny" in caps:
        return ["deny"]
    return [c for c in CAPABILITIES if c in caps]


def rule_paths(mount: str, rule) -> dict[str, set[str]]:
    """The Vault API paths one policy rule becomes, with their capabilities (see the module doc)."""
    caps = set(rule.capabilities)
    if rule.path is not None:
        return {rule.path: caps} if caps else {}
    if rule.secrets is None:  # the model allows both to be None; a check reports it
        return {}
    sub = rule.secrets.strip("/")
    if "deny" in caps:
        return {f"{mount}/data/{sub}": {"deny"}, f"{mount}/metadata/{sub}": {"deny"}}
    out = {f"{mount}/data/{sub}": caps & set(DATA_CAPS), f"{mount}/metadata/{sub}": caps & set(METADATA_CAPS)}
    if "delete" in caps:
        out[f"{mount}/delete/{sub}"] = {"update"}
        out[f"{mount}/undelete/{sub}"] = {"update"}
    return {path: c for path, c in out.items() if c}


def policy_paths(mount: str, policy) -> dict[str, list[str]]:
    """Vault API path -> capabilities (canonical order) for one lab policy: what its .hcl file says."""
    paths: dict[str, set[str]] = {}
    for rule in policy.rules:
        for path, caps in rule_paths(mount, rule).items():
            paths.setdefault(path, set()).update(caps)
    return {p: _order(paths[p]) for p in sorted(paths)}


# --- matching requests to policy paths, as Vault does ---------------------------------------------


def _glob_regex(pattern: str) -> re.Pattern:
    """Vault policy path syntax: a trailing `*` is a prefix glob, a `+` segment matches one segment."""
    glob = pattern.endswith("*")
    body = pattern[:-1] if glob else pattern
    parts = [("[^/]+" if seg == "+" else re.escape(seg)) for seg in body.split("/")]
    return re.compile("/".join(parts) + (".*" if glob else ""))


def vault_path_matches(pattern: str, path: str) -> bool:
    return _glob_regex(pattern).fullmatch(path) is not None


def _priority(pattern: str):
    """Vault's priority among paths matching the same request (higher wins), per the policy docs:
    a later first wildcard, no trailing `*`, fewer `+` segments, a longer path, then lexicographic."""
    positions = [i for i, ch in enumerate(pattern) if ch in "*+"]
    first = positions[0] if positions else len(pattern) + 1
    return (first, not pattern.endswith("*"), -pattern.split("/").count("+"), len(pattern), pattern)


def _caps_on(paths: dict[str, list[str]], api_path: str) -> set[str]:
    matching = [p for p in paths if vault_path_matches(p, api_path)]
    if not matching:
        return set()
    caps = set(paths[max(matching, key=_priority)])
    return {"deny"} if "deny" in caps else caps


def kv_capabilities(policy, mount: str, kv_path: str) -> set[str]:
    """What a policy grants on a KV v2 secret: capabilities on `<mount>/data/<path>` (read = the values),
    plus `list` when it may list `<mount>/metadata/<path>`. `deny` wins over everything."""
    paths = policy_paths(mount, policy)
    data = _caps_on(paths, f"{mount}/data/{kv_path}")
    meta = _caps_on(paths, f"{mount}/metadata/{kv_path}")
    if "deny" in data:
        return {"deny"}
    caps = set(data)
    if "list" in meta:
        caps.add("list")
    return caps


def user_kv_capabilities(lab, user, path: str) -> set[str]:
    """What a Vault user's policies (together) grant on KV secret `path`; `deny` in any of them wins."""
    caps = [kv_capabilities(lab.vault.policies[p], lab.vault.kv_mount, path)
            for p in user.policies if p in lab.vault.policies]
    if any("deny" in c for c in caps):
        return {"deny"}
    return set().union(*caps)


# --- where Vault is, as the lab says it ----------------------------------------------------------


def is_embedded(lab) -> bool:
    """The lab's Vault is the local OpenBao (its URL is known only once `homelab vault up` runs)."""
    return lab.vault.address == EMBEDDED


def lab_vault_url(lab) -> str | None:
    """The URL the lab file gives for Vault, or None when it is the embedded server."""
    return None if is_embedded(lab) else lab.vault.address.rstrip("/")


# --- the automation users' passwords -----------------------------------------------------------------


def automation_path(user: str) -> str:
    """KV path (below the mount) of a lab user's generated password."""
    return f"{AUTOMATION_PREFIX}/{user}"


def is_admin_policy(lab, name: str) -> bool:
    """A policy that manages everything: sudo on path "*"."""
    pol = lab.vault.policies.get(name)
    return bool(pol) and any(r.path == "*" and "sudo" in r.capabilities for r in pol.rules)


def admin_user(lab) -> str | None:
    """The lab user that can manage everything: bound to an admin policy (`is_admin_policy`)."""
    candidates = [u.name for u in lab.vault.users if any(is_admin_policy(lab, p) for p in u.policies)]
    if "admin" in candidates:
        return "admin"
    return sorted(candidates)[0] if candidates else None


def automation_exposure(lab) -> list[str]:
    """Policies (other than the admin's) whose rules would let a non-admin read automation passwords.
    An admin policy itself (sudo on "*") is meant to, whether or not a user is bound to it yet."""
    admin = admin_user(lab)
    admin_policies = set(next((u.policies for u in lab.vault.users if u.name == admin), []))
    admin_policies |= {name for name in lab.vault.policies if is_admin_policy(lab, name)}
    mount = lab.vault.kv_mount
    probes = [f"{mount}/data/{automation_path(u.name)}" for u in lab.vault.users] or [
        f"{mount}/data/{AUTOMATION_PREFIX}/x"]
    exposed = []
    for name, pol in sorted(lab.vault.policies.items()):
        if name in admin_policies:
            continue
        paths = policy_paths(mount, pol)
        if any("read" in _caps_on(paths, probe) for probe in probes):
            exposed.append(name)
    return exposed


# --- the external-secrets ClusterSecretStore's identity -------------------------------------------


def vault_server(lab) -> str | None:
    """The Vault address pods can reach, or None (embedded Vault without a server VM)."""
    url = lab_vault_url(lab)
    if url:
        return url
    if lab.vault.server:
        return f"https://{lab.vault.server}.{lab.network.domain}:8200"
    return None


def external_secrets_on(lab) -> bool:
    return lab.platform.external_secrets.enabled and vault_server(lab) is not None


def external_secret_paths(lab) -> list[str]:
    """Every Vault KV path an ExternalSecret of this lab reads (what the store's identity must read):
    the apps' secrets, the TrueNAS API key for democratic-csi, Velero's credentials, Grafana's admin."""
    paths = {use.path for app in lab.apps for use in app.secrets}
    kps = lab.platform.kube_prometheus_stack
    if kps.enabled and kps.grafana_admin:
        paths.add(parse_ref(kps.grafana_admin)[0])
    if lab.platform.democratic_csi.enabled and lab.storage.truenas and lab.storage.classes:
        paths.add(parse_ref(lab.storage.truenas.api_key)[0])
    if lab.platform.velero.enabled and lab.backup.velero:
        paths.add(parse_ref(lab.backup.velero.credentials)[0])
    paths |= set(pki_secret_paths(lab))
    return sorted(paths)


def pki_secret_paths(lab) -> list[str]:
    """What cert-manager's issuers log in with (render/kubernetes/cert_manager.py): the AppRole secret id of
    the Vault issuer, the Let's Encrypt DNS-01 credentials."""
    from homelab.lab.certificates import cert_manager_on
    from homelab.lab.pki_roles import KV_CERT_MANAGER

    if not cert_manager_on(lab):
        return []
    out = [KV_CERT_MANAGER] if lab.pki.ca == "vault" else []
    dns = lab.pki.letsencrypt.dns01
    ref = (dns.api_token if dns.provider == "cloudflare" else dns.tsig_secret) if dns else None
    if lab.pki.letsencrypt.enabled and ref:
        out.append(parse_ref(ref)[0])
    return out


def store_user_gaps(lab, user) -> tuple[list[str], list[str]]:
    """Why `user` is not a least-privilege identity for the ClusterSecretStore: (ExternalSecret paths it
    cannot read, ways it is broader than the store needs). Broader = a policy rule that is not read-only
    (create/update/patch/delete/sudo), or read on a catalogue secret outside the top-level directories the
    ExternalSecrets use (apps/*, storage/..., backup/... are fine; infra/, k3s/, elastic/ are not)."""
    needed = external_secret_paths(lab)
    missing = [p for p in needed if "read" not in user_kv_capabilities(lab, user, p)]
    dirs = {p.split("/", 1)[0] for p in needed}
    broader = []
    for name in user.policies:
        policy = lab.vault.policies.get(name)
        for rl in policy.rules if policy else []:
            writes = sorted(WRITE_CAPS & set(rl.capabilities))
            if writes and "deny" not in rl.capabilities:
                target = f"secrets {rl.secrets}" if rl.secrets is not None else f"path {rl.path}"
                broader.append(f"policy {name} grants {', '.join(writes)} on {target}")
    beyond = sorted(s.path for s in lab.vault.secrets if s.path.split("/", 1)[0] not in dirs
                    and "read" in user_kv_capabilities(lab, user, s.path))
    if beyond:
        broader.append("reads " + ", ".join(beyond[:4]) + (", ..." if len(beyond) > 4 else ""))
    return missing, broader


def external_secrets_user(lab):
    """The Vault user the ClusterSecretStore logs in as: one whose policies read every path the
    ExternalSecrets use and are no broader (`store_user_gaps`); `external-secrets` first, then by name."""
    if not external_secret_paths(lab):
        return None
    fits = [u for u in lab.vault.users if store_user_gaps(lab, u) == ([], [])]
    return min(fits, key=lambda u: (u.name != STORE_USER, u.name), default=None)
