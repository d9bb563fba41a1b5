"""Every ExternalSecret reads a key of the lab's Vault catalogue (`vault.secrets`: path and field), and the
Vault user its store logs in as is granted `read` on it by its policies (external-secrets 2.9.0 Vault
provider: KV v2 `remoteRef.key` is the path below the mount, `property` the field)."""

from homelab.validate.base import Finding, rule


def _stores(platform) -> dict[tuple[str, str], dict]:
    out = {}
    for o in platform.of_kind("ClusterSecretStore", "SecretStore"):
        vault = ((o.obj.get("spec") or {}).get("provider") or {}).get("vault")
        if isinstance(vault, dict):
            out[(o.kind, o.name)] = vault
    return out


def _refs(spec: dict):
    for i, d in enumerate(spec.get("data") or []):
        ref = (d or {}).get("remoteRef") or {}
        if ref.get("key"):
            yield str(ref["key"]), ref.get("property"), ("spec", "data", i, "remoteRef", "key")
    for i, d in enumerate(spec.get("dataFrom") or []):
        ref = (d or {}).get("extract") or {}
        if ref.get("key"):
            yield str(ref["key"]), None, ("spec", "dataFrom", i, "extract", "key")


@rule("external-secret-key", "error",
      "an ExternalSecret reads a Vault key that is not in the catalogue or that its store's user may not read")
def check(ctx):
    if ctx.doc is None:
        return  # the catalogue and the policies are the lab's
    from homelab.lab.vault_access import user_kv_capabilities

    lab = ctx.doc.lab
    catalogue = {s.path.strip("/"): set(s.fields) for s in lab.vault.secrets}
    users = {u.name: u for u in lab.vault.users}
    stores = _stores(ctx.platform)
    for o in ctx.platform.of_kind("ExternalSecret"):
        spec = o.obj.get("spec") or {}
        ref = spec.get("secretStoreRef") or {}
        vault = stores.get((ref.get("kind") or "SecretStore", ref.get("name")))
        username = ((vault or {}).get("auth") or {}).get("userPass", {}).get("username") if vault else None
        for key, prop, path in _refs(spec):
            line = o.doc.line_of(path) if o.doc else o.line
            key = key.strip("/")
            lab_path = ctx.lab_path_for_app(o.app)
            if key not in catalogue:
                yield Finding(o.file, line, f"{o.where} reads Vault key {key}, which is not in the lab's "
                                   "catalogue (vault.secrets)", "add it to vault.secrets or fix the path", lab=lab_path)
                continue
            if prop and prop not in catalogue[key]:
                yield Finding(o.file, line, f"{o.where} reads field {prop} of {key}; the catalogue lists "
                                   f"{', '.join(sorted(catalogue[key]))}", "fix the field name", lab=lab_path)
            user = users.get(username) if username else None
            if user is not None and "read" not in user_kv_capabilities(lab, user, key):
                yield Finding(o.file, line, f"{o.where} reads {key} through store {ref.get('name')} as Vault "
                                   f"user {username}, whose policies ({', '.join(user.policies)}) do not grant read "
                                   "on it: the sync fails with 403", f"grant read on {key} to a policy of "
                                   f"{username}", lab=lab_path)
