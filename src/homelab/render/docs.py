"""Render `docs/`: inventory, address plan, apps, secrets (who may read what) and backups.

Tables are built from data here; Jinja2 renders only the prose-shaped parts (templates under
`render/templates/`). Everything is sorted so the output does not depend on the order of lists
in homelab.yaml. Secret *values* never reach this module: only catalogue paths and field names.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from homelab.lab.types import GIB, format_size, parse_range
from homelab.lab.vault_access import kv_capabilities, rule_paths
from homelab.render.base import GENERATED, RenderedFile, normalise

NONE = "—"
CAPABILITY_ORDER = ("deny", "create", "read", "update", "patch", "delete", "list", "sudo", "subscribe", "recover")


# --- markdown helpers (shared with repo.py) ----------------------------------------------------------


def md_header(title: str) -> str:
    """The generated-file marker (an HTML comment, invisible when rendered) and the title."""
    return f"<!-- {GENERATED} -->\n\n# {title}\n\n"


def cell(value) -> str:
    """One table cell: pipes escaped, newlines folded, empty shown as a dash."""
    if value is None or value == "" or value == []:
        return NONE
    text = str(value).replace("\r", "").replace("\n", " ").replace("|", "\\|")
    return text


def code(value: str) -> str:
    return f"`{value}`" if value else NONE


def table(headers: list[str], rows: Iterable[Iterable], align: str | None = None) -> str:
    """A GitHub-flavoured markdown table; `align` is one char per column: l, r or c."""
    rows = [[cell(v) for v in row] for row in rows]
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"table row has {len(row)} cells, expected {len(headers)}")
    marks = {"l": "---", "r": "---:", "c": ":---:"}
    sep = [marks[a] for a in (align or "l" * len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def size(n: int | None) -> str:
    if n is None:
        return NONE
    exact = format_size(n)
    if not exact.endswith("B") or exact.endswith("iB"):
        return exact
    return f"{n / GIB:.1f}GiB"


def percent(used: int, total: int) -> str:
    if total <= 0:
        return NONE
    return f"{used * 100 / total:.0f}%"


def jinja_env():
    """Jinja2 for prose only: strict (a missing variable is a bug), no autoescape (markdown)."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("homelab.render", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def render_template(template: str, **context) -> str:
    return jinja_env().get_template(template).render(**context)


def markdown_file(path: str, text: str) -> RenderedFile:
    """A markdown RenderedFile: at most one blank line in a row, LF, one trailing newline."""
    text = re.sub(r"\n{3,}", "\n\n", text)
    return RenderedFile(path, normalise(text))


def _ip_key(ip: str | None):
    return int(ipaddress.IPv4Address(ip)) if ip else -1


# --- docs/inventory.md ----------------------------------------------------------------------------------


def _gpu(vm) -> str:
    if not vm.gpu:
        return NONE
    return f"{vm.gpu.model} ({vm.gpu.device})"


def _auto(value, allocated: bool) -> str:
    if value is None:
        return "unallocated"
    return f"{value} (auto)" if allocated else str(value)


def render_inventory(doc) -> str:
    lab, inv = doc.lab, doc.inventory
    vms = sorted(inv.vms, key=lambda v: v.name)
    out = [md_header(f"Inventory — {lab.name}")]
    out.append(
        f"{len(vms)} virtual machines on {len(lab.proxmox.nodes)} Proxmox VE nodes, cloned from the "
        f"`{lab.proxmox.template.name}` template ({lab.proxmox.template.os}, cloud-init). "
        "Values marked *(auto)* were allocated by homelab; pin them in `homelab.yaml` to keep them "
        "stable for ever.\n"
    )
    out.append("\n## Virtual machines\n\n")
    out.append(table(
        ["Name", "FQDN", "Role", "Env", "Node", "IP", "VMID", "Cores", "Memory", "Disk", "GPU"],
        [[vm.name, vm.fqdn, vm.role, vm.env, _auto(vm.node, vm.node_placed), _auto(vm.ip, vm.ip_allocated),
          _auto(vm.vmid, vm.vmid_allocated), vm.cores, size(vm.memory), size(vm.disk), _gpu(vm)] for vm in vms],
        "lllllllrrrl",
    ))

    out.append("\n## Terraform environments\n\n")
    envs = sorted(set(lab.environments) | {vm.env for vm in vms})
    rows = []
    for env in envs:
        members = [vm for vm in vms if vm.env == env]
        rows.append([f"`tf/{env}/`", len(members), sum(v.cores for v in members),
                     size(sum(v.memory for v in members)), size(sum(v.disk for v in members))])
    rows.append(["**total**", len(vms), sum(v.cores for v in vms), size(sum(v.memory for v in vms)),
                 size(sum(v.disk for v in vms))])
    out.append(table(["Environment", "VMs", "Cores", "Memory", "Disk"], rows, "lrrrr"))

    out.append("\n## Proxmox nodes: committed vs capacity\n\n")
    rows = []
    for node in sorted(lab.proxmox.nodes, key=lambda n: n.name):
        members = [vm for vm in vms if vm.node == node.name]
        cores = sum(v.cores for v in members)
        memory = sum(v.memory for v in members)
        disks = []
        for storage in sorted(set(node.storages) | {v.storage for v in members}):
            used = sum(v.disk for v in members if v.storage == storage)
            cap = node.storages.get(storage)
            if cap is None:
                disks.append(f"{storage}: {size(used)} / not on this node")
            else:
                disks.append(f"{storage}: {size(used)} / {size(cap)} ({percent(used, cap)})")
        rows.append([
            node.name, len(members),
            f"{cores} / {node.cores} ({percent(cores, node.cores)})",
            f"{size(memory)} / {size(node.memory)} ({percent(memory, node.memory)})",
            "<br>".join(disks), ", ".join(sorted(node.gpus)) or NONE,
        ])
    out.append(table(["Node", "VMs", "vCPU / cores", "Memory", "Disk by storage", "GPUs"], rows, "lrrrll"))
    out.append("\nvCPUs may be over-committed; memory and disk may not (rules `node-memory-overcommit` and `node-disk-overcommit`).\n")
    known = {n.name for n in lab.proxmox.nodes}
    stray = [vm for vm in vms if vm.node not in known]
    if stray:
        out.append("\nVMs on no known node: " + ", ".join(f"`{vm.name}` ({vm.node or 'unplaced'})" for vm in stray)
                   + ".\n")
    return "".join(out)


# --- docs/network.md ------------------------------------------------------------------------------------


_IP_RE = re.compile(r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$")


def _value_addresses(values, prefix: str = ""):
    """(dotted path, address) of every IPv4 address written in a Helm values tree."""
    if isinstance(values, dict):
        for key in sorted(values, key=str):
            yield from _value_addresses(values[key], f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(values, list):
        for i, item in enumerate(values):
            yield from _value_addresses(item, f"{prefix}[{i}]")
    elif isinstance(values, str) and _IP_RE.match(values):
        try:
            yield prefix, str(ipaddress.IPv4Address(values))
        except ValueError:
            return


def static_addresses(doc) -> dict[str, list[tuple[str, str, str]]]:
    """address -> [(name, fqdn, what)] for every address fixed by the lab."""
    lab = doc.lab
    found: dict[str, list[tuple[str, str, str]]] = {}

    def add(ip, name, fqdn, what):
        found.setdefault(ip, []).append((name, fqdn, what))

    net = lab.network
    add(net.gateway, "gateway", "", "default gateway")
    for i, dns in enumerate(net.dns, 1):
        add(dns, f"dns{i}", "", f"DNS server #{i}")
    for vm in doc.inventory.vms:
        if vm.ip:
            add(vm.ip, vm.name, vm.fqdn, f"VM ({vm.role}, {vm.env})" + (" — allocated" if vm.ip_allocated else ""))
    for app in lab.apps:
        for path, ip in _value_addresses(app.values):
            add(ip, app.name, "", f"app {app.namespace}/{app.name} (values `{path}`)")
    for cname, comp in lab.platform.components().items():
        if comp.enabled:
            for path, ip in _value_addresses(comp.values):
                add(ip, cname, "", f"platform {cname} (values `{path}`)")
    for ip in found:
        found[ip] = sorted(set(found[ip]))
    return found


def _pool_rows(doc, addresses):
    lab = doc.lab
    rows, pools = [], []
    for name, value, purpose in (("vms", lab.network.pools.vms, "VM addresses allocated by homelab"),
                                 ("metallb", lab.network.pools.metallb, "MetalLB LoadBalancer services")):
        if not value:
            continue
        lo, hi = parse_range(value)
        total = int(hi) - int(lo) + 1
        used = sorted((ip for ip in addresses if lo <= ipaddress.IPv4Address(ip) <= hi), key=_ip_key)
        pools.append((name, value, lo, hi, used))
        rows.append([f"`{name}`", value, total, len(used), total - len(used), purpose])
    return rows, pools


def render_network(doc) -> str:
    lab = doc.lab
    net = lab.network
    network = ipaddress.IPv4Network(net.cidr)
    addresses = static_addresses(doc)
    out = [md_header(f"Network and address plan — {lab.name}")]
    out.append(f"One flat network; every VM gets a static address, its FQDN is `<name>.{net.domain}`.\n")
    out.append("\n## Network\n\n")
    out.append(table(["Setting", "Value"], [
        ["Network", net.cidr],
        ["Netmask", str(network.netmask)],
        ["Broadcast", str(network.broadcast_address)],
        ["Usable addresses", max(network.num_addresses - 2, 0)],
        ["Gateway", net.gateway],
        ["DNS servers", ", ".join(net.dns)],
        ["Domain", net.domain],
        ["VLAN", net.vlan if net.vlan else "untagged"],
        ["Proxmox bridge", lab.proxmox.bridge],
    ]))
    pool_rows, pools = _pool_rows(doc, addresses)
    out.append("\n## Address pools\n\n")
    if pool_rows:
        out.append(table(["Pool", "Range", "Size", "Used", "Free", "Purpose"], pool_rows, "llrrrl"))
    else:
        out.append("No pools declared: VM addresses are allocated from the whole network.\n")

    out.append("\n## Static addresses\n\n")
    rows = []
    for ip in sorted(addresses, key=_ip_key):
        entries = addresses[ip]
        pool = next((name for name, _v, lo, hi, _u in pools if lo <= ipaddress.IPv4Address(ip) <= hi), NONE)
        rows.append([ip, ", ".join(e[0] for e in entries), ", ".join(e[1] for e in entries if e[1]) or NONE,
                     "; ".join(e[2] for e in entries), pool])
    out.append(table(["Address", "Name", "FQDN", "What", "Pool"], rows))

    out.append("\n## MetalLB\n\n")
    metallb = next((p for p in pools if p[0] == "metallb"), None)
    if metallb:
        _n, value, lo, hi, used = metallb
        total = int(hi) - int(lo) + 1
        out.append(f"MetalLB (L2 mode) hands out `{value}` ({total} addresses) to `LoadBalancer` services. "
                   f"Fixed by the lab: {len(used)}; assigned on demand: {total - len(used)}.\n\n")
        out.append(table(["Address", "Used by"],
                         [[ip, "; ".join(e[2] for e in addresses[ip])] for ip in used]) if used else "")
    else:
        out.append("No MetalLB pool declared.\n")

    out.append("\n## Ingress hostnames\n\n")
    out.append("Traefik terminates TLS for these names; each resolves to Traefik's MetalLB address.\n\n")
    apps = sorted((a for a in lab.apps if a.ingress), key=lambda a: (a.ingress, a.namespace, a.name))
    out.append(table(["Host", "URL", "App", "Namespace"],
                     [[a.ingress, f"https://{a.ingress}", a.name, a.namespace] for a in apps]))

    names = []
    k3s = lab.clusters.k3s
    if k3s and k3s.api_endpoint:
        names.append([k3s.api_endpoint, "Kubernetes API (K3s servers, port 6443)"])
    if lab.vault.address != "embedded":
        names.append([lab.vault.address, "Vault"])
    if lab.pki.step_ca:
        names.append([lab.pki.step_ca.url, "step-ca internal CA"])
    if lab.storage.truenas:
        names.append([lab.storage.truenas.host, f"TrueNAS (pool `{lab.storage.truenas.pool}`)"])
    if lab.proxmox.endpoint:
        names.append([lab.proxmox.endpoint, "Proxmox VE API"])
    if names:
        out.append("\n## Other service names\n\n")
        out.append(table(["Name", "What"], sorted(names)))
    if k3s:
        out.append("\n## Kubernetes networks\n\n")
        out.append(table(["Setting", "Value"], [
            ["CNI", f"{k3s.cni} ({k3s.flannel_backend})"],
            ["Pod network (cluster CIDR)", k3s.cluster_cidr],
            ["Service network", k3s.service_cidr],
            ["API TLS SANs", ", ".join(sorted(k3s.tls_sans)) or NONE],
        ]))
    return "".join(out)


# --- docs/apps.md ---------------------------------------------------------------------------------------


def default_storage_class(lab) -> str | None:
    return next((c.name for c in sorted(lab.storage.classes, key=lambda c: c.name) if c.default), None)


def velero_schedules_for(lab, namespace: str) -> list[str]:
    velero = lab.backup.velero
    if not velero or not lab.platform.velero.enabled:
        return []
    return sorted(s.name for s in velero.schedules if not s.namespaces or namespace in s.namespaces)


def backup_policy(lab, app) -> str:
    if app.backup is None:
        policy = "none"
    elif not app.backup.enabled:
        policy = "disabled"
    else:
        policy = f"{app.backup.schedule}, keep {app.backup.retention_days} days"
    velero = velero_schedules_for(lab, app.namespace)
    if velero:
        policy += " (Velero: " + ", ".join(velero) + ")"
    return policy


def _volume(lab, v) -> str:
    cls = v.class_ or f"{default_storage_class(lab) or 'cluster'}, default class"
    return f"{v.name} {size(v.size)} ({cls})"


def render_apps(doc) -> str:
    lab = doc.lab
    apps = sorted(lab.apps, key=lambda a: (a.namespace, a.name))
    out = [md_header(f"Applications — {lab.name}")]
    out.append(f"{len(apps)} applications, deployed by ArgoCD from pinned Helm charts. Secrets come from "
               "Vault (listed as `path#field`; values are never written to this repository).\n")
    out.append("\n## Overview\n\n")
    out.append(table(
        ["App", "Namespace", "URL", "Chart", "Image", "Storage", "GPU", "Vault secrets", "Backup"],
        [[a.name, a.namespace, f"https://{a.ingress}" if a.ingress else NONE,
          f"{a.chart.name}@{a.chart.version or 'UNPINNED'}",
          f"{a.image.repository}:{a.image.tag}" if a.image else NONE,
          "<br>".join(_volume(lab, v) for v in sorted(a.storage, key=lambda v: v.name)) or NONE,
          f"{a.gpu} × nvidia.com/gpu" if a.gpu else NONE,
          "<br>".join(f"`{s.path}#{s.field}`" for s in sorted(a.secrets, key=lambda s: (s.path, s.field)))
          or NONE,
          backup_policy(lab, a)] for a in apps],
    ))
    k3s = lab.clusters.k3s
    for ns in sorted({a.namespace for a in apps}):
        out.append(f"\n## Namespace `{ns}`\n")
        for a in (x for x in apps if x.namespace == ns):
            out.append(f"\n### {a.name}\n\n")
            if a.description:
                out.append(a.description.strip() + "\n\n")
            rows = [
                ["Namespace", a.namespace],
                ["URL", f"https://{a.ingress}" if a.ingress else "no ingress"],
                ["Chart", f"{a.chart.name}@{a.chart.version or 'UNPINNED'} from {a.chart.repo}"],
                ["Image", f"{a.image.repository}:{a.image.tag}" if a.image else "chart default"],
                ["Port", a.port],
            ]
            if a.resources:
                r = a.resources
                req = ", ".join(x for x in (f"cpu {r.cpu}" if r.cpu else "",
                                            f"memory {size(r.memory)}" if r.memory else "") if x)
                lim = ", ".join(x for x in (f"cpu {r.cpu_limit}" if r.cpu_limit else "",
                                            f"memory {size(r.memory_limit)}" if r.memory_limit else "") if x)
                rows.append(["Requests", req or NONE])
                rows.append(["Limits", lim or NONE])
            if a.gpu:
                label = k3s.gpu.label if k3s else "accelerator=nvidia-tesla-gpu"
                taint = k3s.gpu.taint if k3s else "nvidia.com/gpu=true:NoSchedule"
                rows.append(["GPU", f"{a.gpu} × nvidia.com/gpu; node selector `{label}`, tolerates `{taint}`"])
            rows.append(["Backup", backup_policy(lab, a)])
            out.append(table(["", a.name], rows))
            if a.storage:
                out.append("\n")
                out.append(table(["Volume", "Size", "Class", "Mount", "Access"], [
                    [v.name, size(v.size), v.class_ or f"{default_storage_class(lab) or 'cluster default'} (default)",
                     code(v.mount), v.access_mode] for v in sorted(a.storage, key=lambda v: v.name)
                ], "lrlll"))
            if a.secrets:
                out.append("\n")
                out.append(table(["Vault secret", "Environment variable"], [
                    [f"`{s.path}#{s.field}`", code(s.env or "")]
                    for s in sorted(a.secrets, key=lambda s: (s.path, s.field, s.env or ""))
                ]))
    out.append("\n## Platform components\n\n")
    out.append(table(["Component", "Enabled", "Namespace", "Chart"], [
        [name, "yes" if c.enabled else "no", c.namespace, f"{c.chart.name}@{c.chart.version or 'UNPINNED'}"]
        for name, c in sorted(lab.platform.components().items())
    ]))
    return "".join(out)


# --- docs/secrets.md ------------------------------------------------------------------------------------


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


def render_secrets(doc) -> str:
    lab = doc.lab
    vault = lab.vault
    mount = vault.kv_mount
    catalogue = sorted(vault.secrets, key=lambda s: s.path)
    policies = sorted(vault.policies.items())
    consumers = secret_consumers(doc)
    out = [md_header(f"Secrets — {lab.name}")]
    where = "an embedded OpenBao server started by homelab" if vault.address == "embedded" else f"`{vault.address}`"
    out.append(
        f"Every secret lives in Vault ({where}), KV v2 engine mounted at `{mount}/`. This repository holds "
        "paths and field names only, never values: Terraform and Ansible read them at apply time.\n"
    )
    out.append("\n## Catalogue\n\n")
    rows = []
    for s in catalogue:
        gen = f"yes ({s.generate.length} chars, {s.generate.charset})" if s.generate else "no (set by the operator)"
        rows.append([f"`{s.path}`", f"`{mount}/data/{s.path}`", ", ".join(f"`{f}`" for f in sorted(s.fields)), gen,
                     s.description, "<br>".join(consumers.get(s.path, [])) or NONE])
    out.append(table(["Path", "Vault API path", "Fields", "Generated", "Description", "Used by"], rows))
    known = {s.path for s in catalogue}
    missing = sorted(set(consumers) - known)
    if missing:
        out.append("\nReferenced but not in the catalogue (rule `unknown-secret`): "
                   + ", ".join(f"`{p}`" for p in missing) + ".\n")

    out.append("\n## Who may read what\n\n")
    out.append(
        "Computed from the policy rules below the way Vault matches them: `*` at the end of a path is a "
        "prefix glob, `+` matches one path segment, and within one policy the most specific matching path "
        f"wins. A cell lists the capabilities on `{mount}/data/<path>` (`read` = may read the values), plus "
        f"`list` when the policy may list `{mount}/metadata/<path>`.\n\n"
    )
    out.append(table(["Path", *(name for name, _ in policies)], [
        [f"`{s.path}`", *(fmt_caps(kv_capabilities(p, mount, s.path)) for _, p in policies)] for s in catalogue
    ]))

    out.append("\n## Policies\n")
    for name, policy in policies:
        out.append(f"\n### {name}\n\n")
        if policy.description:
            out.append(policy.description.strip() + ".\n\n")
        rows = []
        for rule in policy.rules:
            what = f"secrets `{rule.secrets.strip('/')}`" if rule.secrets is not None else f"path `{rule.path}`"
            paths = rule_paths(mount, rule)
            rows.append([what, "<br>".join(f"`{p}`" for p in paths),
                         "<br>".join(fmt_caps(c) for c in paths.values())])
        out.append(table(["Rule", "Vault paths", "Capabilities"], rows))
        readable = [s.path for s in catalogue if "read" in kv_capabilities(policy, mount, s.path)]
        out.append(f"\nMay read {len(readable)} of {len(catalogue)} catalogue paths"
                   + (": " + ", ".join(f"`{p}`" for p in readable) if readable else "") + ".\n")

    out.append("\n## Users\n\n")
    out.append(f"Authentication methods: {', '.join(f'`{a}`' for a in sorted(vault.auth))}. The root token is "
               "used for initialisation only. Automation accounts log in with userpass; their passwords are "
               "generated and kept in Vault.\n\n")
    rows = []
    for user in sorted(vault.users, key=lambda u: u.name):
        user_policies = [vault.policies[p] for p in user.policies if p in vault.policies]
        readable = []
        for s in catalogue:
            caps = [kv_capabilities(p, mount, s.path) for p in user_policies]
            if any("deny" in c for c in caps):
                continue
            if any("read" in c for c in caps):
                readable.append(s.path)
        if catalogue and len(readable) == len(catalogue):
            reads = f"all {len(catalogue)} catalogue paths"
        else:
            reads = ", ".join(f"`{p}`" for p in readable) or "nothing in the catalogue"
        rows.append([user.name, ", ".join(sorted(user.policies)), user.token_ttl, user.token_max_ttl, reads])
    out.append(table(["User", "Policies", "Token TTL", "Max TTL", "Can read"], rows))
    from homelab.lab.vault_access import external_secret_paths, external_secrets_on, external_secrets_user
    from homelab.render.kubernetes.external_secrets import store_credentials

    if external_secrets_on(lab) and external_secret_paths(lab):
        user = external_secrets_user(lab)
        who = (f"Vault user `{user.name}` (policies {', '.join(f'`{p}`' for p in user.policies)})" if user
               else "no lab user: none is read-only and reads every path below (rule `external-secrets-policy-missing`)")
        out.append(f"\nThe External Secrets Operator's ClusterSecretStore authenticates as {who}, with "
                   f"{store_credentials(lab)}, created out of band. Its ExternalSecrets read "
                   + ", ".join(f"`{p}`" for p in external_secret_paths(lab)) + ".\n")
    return "".join(out)


# --- docs/backup.md -------------------------------------------------------------------------------------


def render_backup(doc) -> str:
    lab = doc.lab
    b = lab.backup
    es = lab.clusters.elasticsearch
    repo = es.snapshot_repository if es else None
    velero_on = bool(b.velero) and lab.platform.velero.enabled
    out = [md_header(f"Backup and disaster recovery — {lab.name}")]

    out.append("\n## Summary\n\n")
    rows = []
    method = ("file storage: the data directory is archived (there is no snapshot API with file storage)"
              if lab.vault.storage == "file" else "raft snapshot (`/v1/sys/storage/raft/snapshot`)")
    rows.append(["Vault", code(b.vault.schedule), f"{b.vault.retention} backups", code(b.vault.directory), method])
    if es:
        if repo:
            target = (f"repository `{repo.name}`: {repo.type} bucket `{repo.bucket}`"
                      + (f", base path `{repo.base_path}`" if repo.base_path else "")
                      + (f" at {repo.endpoint}" if repo.endpoint else "")) if repo.type == "s3" \
                else f"repository `{repo.name}`: fs `{repo.location}`"
        else:
            target = "no snapshot repository configured"
        if b.elasticsearch:
            rows.append(["Elasticsearch snapshots", code(b.elasticsearch.schedule),
                         f"{b.elasticsearch.retention_days} days", target, "snapshot lifecycle"])
        else:
            rows.append(["Elasticsearch snapshots", NONE, NONE, target, "not scheduled"])
    if b.velero:
        for s in sorted(b.velero.schedules, key=lambda s: s.name):
            rows.append([f"Velero `{s.name}`", code(s.schedule), f"TTL {s.ttl}",
                         f"bucket `{b.velero.bucket}`" if b.velero.bucket else NONE,
                         ("namespaces " + ", ".join(sorted(s.namespaces)) if s.namespaces else "every namespace")
                         + ("" if velero_on else " (Velero not enabled)")])
    for z in sorted(b.zfs, key=lambda z: z.dataset):
        rows.append([f"ZFS `{z.dataset}`", z.schedule, f"{z.retention} snapshots",
                     lab.storage.truenas.host if lab.storage.truenas else NONE,
                     "recursive" if z.recursive else "dataset only"])
    rows.append(["Off-site replication", NONE, NONE, b.offsite or "not configured", NONE])
    out.append(table(["What", "Schedule", "Retention", "Where", "How"], rows))

    out.append("\n## Vault\n\n")
    out.append(table(["Setting", "Value"], [
        ["Schedule (cron)", code(b.vault.schedule)],
        ["Backups kept", b.vault.retention],
        ["Directory", code(b.vault.directory)],
        ["Storage backend", lab.vault.storage],
        ["Unseal", f"Shamir {lab.vault.init.threshold} of {lab.vault.init.shares} key shares, held by operators"],
    ]))
    if es:
        out.append("\n## Elasticsearch snapshots\n\n")
        rows = [["Cluster", es.cluster_name]]
        if repo:
            rows += [["Repository", f"`{repo.name}` ({repo.type})"]]
            if repo.type == "s3":
                rows += [["Bucket", repo.bucket], ["Base path", repo.base_path or NONE],
                         ["Endpoint", repo.endpoint or "AWS default"],
                         ["Path-style access", "yes" if repo.path_style_access else "no"],
                         ["Credentials (Vault)", f"`{repo.credentials}`"]]
            else:
                rows += [["Location", repo.location]]
        if b.elasticsearch:
            rows += [["Schedule (cron)", code(b.elasticsearch.schedule)],
                     ["Retention", f"{b.elasticsearch.retention_days} days"]]
        out.append(table(["Setting", "Value"], rows))
    if b.velero:
        out.append("\n## Velero (Kubernetes applications)\n\n")
        out.append(("Velero is enabled." if velero_on else "Velero is **not enabled** in `platform.velero`; "
                    "these schedules take effect once it is.") + "\n\n")
        out.append(table(["Setting", "Value"], [
            ["Bucket", b.velero.bucket or NONE], ["S3 URL", b.velero.s3_url or NONE],
            ["Credentials (Vault)", f"`{b.velero.credentials}`"]]))
        out.append("\n")
        out.append(table(["Schedule", "Cron", "Namespaces", "TTL"], [
            [s.name, code(s.schedule), ", ".join(sorted(s.namespaces)) or "every namespace", s.ttl]
            for s in sorted(b.velero.schedules, key=lambda s: s.name)]))
    apps = sorted(lab.apps, key=lambda a: (a.namespace, a.name))
    if apps:
        out.append("\n## Application backup policies\n\n")
        out.append(table(["App", "Namespace", "Policy", "Persistent volumes"], [
            [a.name, a.namespace, backup_policy(lab, a), ", ".join(f"{v.name} {size(v.size)}" for v in
                                                                  sorted(a.storage, key=lambda v: v.name)) or NONE]
            for a in apps]))
    out.append("\n## ZFS snapshots (TrueNAS)\n\n")
    if b.zfs:
        out.append(table(["Dataset", "Schedule", "Keep", "Recursive"], [
            [code(z.dataset), z.schedule, z.retention, "yes" if z.recursive else "no"]
            for z in sorted(b.zfs, key=lambda z: z.dataset)], "llrl"))
    else:
        out.append("No ZFS snapshot policy declared.\n")
    out.append("\n## Off-site replication\n\n")
    out.append(f"Snapshots are replicated to `{b.offsite}`.\n" if b.offsite else
                "Not configured: set `backup.offsite` to a secondary storage location.\n")

    out.append("\n")
    out.append(render_template(
        "dr-drill.md.j2",
        schedule=b.dr_drill.schedule,
        restore_target=b.dr_drill.restore_target,
        vault_storage=lab.vault.storage,
        vault_directory=b.vault.directory,
        kv_mount=lab.vault.kv_mount,
        catalogue_count=len(lab.vault.secrets),
        es=bool(es and repo),
        es_cluster=bool(es),
        gitops=lab.gitops is not None,
        es_repository=repo.name if repo else "",
        velero=velero_on,
        velero_namespace=next((ns for s in sorted(b.velero.schedules if b.velero else [], key=lambda s: s.name)
                               for ns in sorted(s.namespaces)), next((a.namespace for a in apps), "default")),
        zfs=", ".join(f"`{z.dataset}`" for z in sorted(b.zfs, key=lambda z: z.dataset)),
        offsite=b.offsite or "",
    ))
    return "".join(out)


def render(doc) -> list[RenderedFile]:
    return [
        markdown_file("docs/apps.md", render_apps(doc)),
        markdown_file("docs/backup.md", render_backup(doc)),
        markdown_file("docs/inventory.md", render_inventory(doc)),
        markdown_file("docs/network.md", render_network(doc)),
        markdown_file("docs/secrets.md", render_secrets(doc)),
    ]
