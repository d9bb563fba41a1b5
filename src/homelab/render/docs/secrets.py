"""`docs/secrets.md`: the Vault secret catalogue and who may read what (paths and field names only).

The catalogue lists each KV v2 path, its fields, whether homelab generates it and who uses it. The
access sections are computed the way Vault matches policy paths (`homelab.lab.vault_access`): a
path x policy matrix, each policy's rules as Vault paths with capabilities, each user's readable
paths, and the identity the External Secrets Operator's store logs in as. Secret *values* never
reach this module.
"""

from __future__ import annotations

from homelab.lab.vault_access import (
    external_secret_paths,
    external_secrets_on,
    external_secrets_user,
    is_embedded,
    kv_capabilities,
    rule_paths,
)
from homelab.render.docs.markdown import NONE, by_name, md_header, section, table
from homelab.render.kubernetes.external_secrets import store_credentials

CAPABILITY_ORDER = ("deny", "create", "read", "update", "patch", "delete", "list", "sudo", "subscribe", "recover")


def fmt_caps(caps: set[str]) -> str:
    return ", ".join(c for c in CAPABILITY_ORDER if c in caps) if caps else NONE


def _ref_owner(lab, model_path: tuple) -> str:
    if model_path and model_path[0] == "apps":
        return f"app {lab.apps[model_path[1]].name}"
    names = {
        ("proxmox", "credentials"): "Terraform (Proxmox provider)",
        ("clusters", "k3s"): "K3s join token (Ansible)",
        ("clusters", "elasticsearch"): "Elasticsearch snapshot repository",
        ("storage", "truenas"): "democratic-csi (TrueNAS API)",
        ("backup", "velero"): "Velero",
    }
    return names.get(tuple(model_path[:2]), ".".join(str(p) for p in model_path))


def secret_consumers(doc) -> dict[str, list[str]]:
    from homelab.lab.refs import all_secret_refs

    lab = doc.lab
    users: dict[str, set[str]] = {}
    for model_path, path, field in all_secret_refs(lab):
        users.setdefault(path, set()).add(f"{_ref_owner(lab, model_path)} (`{field}`)")
    return {k: sorted(v) for k, v in users.items()}


def _paths(paths) -> str:
    return ", ".join(f"`{p}`" for p in paths)


def _catalogue(doc, catalogue) -> str:
    mount = doc.lab.vault.kv_mount
    consumers = secret_consumers(doc)
    rows = []
    for s in catalogue:
        gen = f"yes ({s.generate.length} chars, {s.generate.charset})" if s.generate else "no (set by the operator)"
        rows.append([f"`{s.path}`", f"`{mount}/data/{s.path}`", _paths(sorted(s.fields)), gen,
                     s.description, "<br>".join(consumers.get(s.path, [])) or NONE])
    out = [table(["Path", "Vault API path", "Fields", "Generated", "Description", "Used by"], rows)]
    missing = sorted(set(consumers) - {s.path for s in catalogue})
    if missing:
        out.append("\nReferenced but not in the catalogue (rule `unknown-secret`): " + _paths(missing) + ".\n")
    return "".join(out)


def _who_may_read(mount: str, catalogue, policies) -> str:
    return (
        "Computed from the policy rules below the way Vault matches them: `*` at the end of a path is a "
        "prefix glob, `+` matches one path segment, and within one policy the most specific matching path "
        f"wins. A cell lists the capabilities on `{mount}/data/<path>` (`read` = may read the values), plus "
        f"`list` when the policy may list `{mount}/metadata/<path>`.\n\n"
        + table(["Path", *(name for name, _ in policies)], [
            [f"`{s.path}`", *(fmt_caps(kv_capabilities(p, mount, s.path)) for _, p in policies)] for s in catalogue
        ]))


def _policy(mount: str, catalogue, name: str, policy) -> str:
    out = [policy.description.strip() + ".\n\n" if policy.description else ""]
    rows = []
    for rule in policy.rules:
        what = f"secrets `{rule.secrets.strip('/')}`" if rule.secrets is not None else f"path `{rule.path}`"
        paths = rule_paths(mount, rule)
        rows.append([what, "<br>".join(f"`{p}`" for p in paths), "<br>".join(fmt_caps(c) for c in paths.values())])
    out.append(table(["Rule", "Vault paths", "Capabilities"], rows))
    readable = [s.path for s in catalogue if "read" in kv_capabilities(policy, mount, s.path)]
    out.append(f"\nMay read {len(readable)} of {len(catalogue)} catalogue paths"
               + (": " + _paths(readable) if readable else "") + ".\n")
    return section(name, "".join(out), level=3)


def _user_reads(vault, catalogue, user) -> str:
    """What the user may read: denied by none of its policies and readable through one."""
    user_policies = [vault.policies[p] for p in user.policies if p in vault.policies]
    readable = []
    for s in catalogue:
        caps = [kv_capabilities(p, vault.kv_mount, s.path) for p in user_policies]
        if any("deny" in c for c in caps):
            continue
        if any("read" in c for c in caps):
            readable.append(s.path)
    if catalogue and len(readable) == len(catalogue):
        return f"all {len(catalogue)} catalogue paths"
    return _paths(readable) or "nothing in the catalogue"


def _users(vault, catalogue) -> str:
    return (f"Authentication methods: {', '.join(f'`{a}`' for a in sorted(vault.auth))}. The root token is "
            "used for initialisation only. Automation accounts log in with userpass; their passwords are "
            "generated and kept in Vault.\n\n"
            + table(["User", "Policies", "Token TTL", "Max TTL", "Can read"], [
                [user.name, ", ".join(sorted(user.policies)), user.token_ttl, user.token_max_ttl,
                 _user_reads(vault, catalogue, user)] for user in by_name(vault.users)]))


def _external_secrets(lab) -> str:
    if not (external_secrets_on(lab) and external_secret_paths(lab)):
        return ""
    user = external_secrets_user(lab)
    who = (f"Vault user `{user.name}` (policies {_paths(user.policies)})" if user
           else "no lab user: none is read-only and reads every path below (rule `external-secrets-policy-missing`)")
    return (f"\nThe External Secrets Operator's ClusterSecretStore authenticates as {who}, with "
            f"{store_credentials(lab)}, created out of band. Its ExternalSecrets read "
            + _paths(external_secret_paths(lab)) + ".\n")


def render_secrets(doc) -> str:
    lab = doc.lab
    vault = lab.vault
    mount = vault.kv_mount
    catalogue = sorted(vault.secrets, key=lambda s: s.path)
    policies = sorted(vault.policies.items())
    out = [md_header(f"Secrets — {lab.name}")]
    where = "an embedded OpenBao server started by homelab" if is_embedded(lab) else f"`{vault.address}`"
    out.append(
        f"Every secret lives in Vault ({where}), KV v2 engine mounted at `{mount}/`. This repository holds "
        "paths and field names only, never values: Terraform and Ansible read them at apply time.\n"
    )
    out.append(section("Catalogue", _catalogue(doc, catalogue)))
    out.append(section("Who may read what", _who_may_read(mount, catalogue, policies)))
    out.append("\n## Policies\n")
    for name, policy in policies:
        out.append(_policy(mount, catalogue, name, policy))
    out.append(section("Users", _users(vault, catalogue)))
    out.append(_external_secrets(lab))
    return "".join(out)
