"""Desired resources: what the lab says should exist, with non-secret attributes and dependencies.

Pure: `desired(doc)` reads the typed lab and the resolved inventory and returns every resource in a
deterministic order. Attributes are built from the model only — sizes, addresses, versions, Vault
*references* (`path#field`) and digests — so no secret value can ever reach a plan or the state.

Dependencies (an edge means "apply after"):

* Vault first: everything that reads a secret at apply time depends on every Vault resource
  (Terraform reads the Proxmox token, Ansible the SSH key and the k3s token, apps their secrets).
* `proxmox_vm.X` → `host.X` (baseline) → cluster membership on X.
* K3s: the first server (`--cluster-init`) → the other servers → the agents.
* Elasticsearch: the masters (they bootstrap the cluster) → the data nodes → Kibana → Fleet Server.
* Every K3s node → `argocd_bootstrap` → every `argocd_app.platform/*` → every application.

Immutable attributes (a change means a new resource: `replace`), decided here and documented in the
plan's reasons: a VM's `vmid` (the Proxmox identity), `node` (the VM is recreated on the new node, as
the seed's Terraform module does for `target_node`), `env` (it moves to another Terraform state) and
`template` (the clone source). A smaller `disk_gib` is also a replace: Proxmox disks cannot shrink.
IP, cores, memory, bigger disks, tags are updated in place. When a VM is created or replaced, what
runs on it (`host.X`, its cluster membership) is replaced with it — a new machine has none of it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from homelab.plan.address import LAYERS, Address, layer_index


@dataclass(frozen=True)
class Resource:
    address: str
    attrs: dict  # JSON-safe, non-secret
    depends_on: tuple[str, ...] = ()
    immutable: tuple[str, ...] = ()  # attributes whose change forces a replace
    rebuild_with: tuple[str, ...] = ()  # replaced when one of these is created or replaced (same machine)
    source: tuple = ()  # model path, for file:line:col in messages
    no_shrink: tuple[str, ...] = ()  # numeric attributes that cannot decrease in place

    @property
    def addr(self) -> Address:
        kind, _, name = self.address.partition(".")
        return Address(kind, name)

    @property
    def layer(self) -> str:
        return self.addr.layer

    @property
    def engine(self) -> str:
        return self.addr.engine


def digest(value) -> str:
    """A short, stable digest of JSON-able data (policy rules, Helm values...)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _seconds(ttl: str) -> int:
    """'20m' -> 1200 (the model allows \\d+[smhd]); Vault reports TTLs in seconds."""
    return int(ttl[:-1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[ttl[-1]]


def _policy_sha256(lab, name: str, rules) -> str:
    """sha256 of the exact policy text `homelab render` writes and the vault engine uploads, so live
    drift (the vault engine reports the same digest) is seen; the rules' digest if no renderer yet."""
    try:
        from homelab.render.vault import policy_hcl
    except ImportError:
        return digest({"mount": lab.vault.kv_mount, "rules": rules})
    return hashlib.sha256(policy_hcl(lab, name).encode("utf-8")).hexdigest()


def _chart(chart) -> str:
    return f"{chart.repo.rstrip('/')}/{chart.name}@{chart.version or 'unpinned'}"


@dataclass
class _Builder:
    resources: dict[str, Resource] = field(default_factory=dict)

    def add(self, kind: str, name: str, attrs: dict, **kw) -> str:
        addr = str(Address(kind, name))
        self.resources[addr] = Resource(addr, attrs, **kw)
        return addr


def desired(doc) -> dict[str, Resource]:
    """Every desired resource of the lab, keyed by address, ordered by layer then address."""
    lab = doc.lab
    inv = doc.inventory
    vms = inv.by_name
    b = _Builder()

    # --- Vault -------------------------------------------------------------------------------
    v = lab.vault
    vault_deps: list[str] = []
    vault_deps.append(b.add("vault_mount", v.kv_mount, {"path": v.kv_mount, "type": "kv", "version": "2"},
                            source=("vault", "kv_mount")))
    for i, method in enumerate(v.auth):
        if method == "token":  # always enabled in Vault; nothing to apply
            continue
        vault_deps.append(b.add("vault_auth", method, {"type": method}, source=("vault", "auth", i)))
    if v.audit:
        vault_deps.append(b.add("vault_audit", "file", {"type": "file"}, source=("vault", "audit")))
    for name in sorted(v.policies):
        pol = v.policies[name]
        rules = [r.model_dump(exclude_none=True) for r in pol.rules]
        vault_deps.append(b.add("vault_policy", name, {
            "description": pol.description, "kv_mount": v.kv_mount, "rules": len(rules),
            "sha256": _policy_sha256(lab, name, rules),
        }, source=("vault", "policies", name)))
    for i, user in enumerate(v.users):
        deps = [str(Address("vault_policy", p)) for p in sorted(set(user.policies)) if p in v.policies]
        if "userpass" in v.auth:
            deps.append(str(Address("vault_auth", "userpass")))
        vault_deps.append(b.add("vault_user", user.name, {
            "policies": sorted(user.policies), "token_ttl": _seconds(user.token_ttl),
            "token_max_ttl": _seconds(user.token_max_ttl),
        }, depends_on=tuple(sorted(deps)), source=("vault", "users", i)))
    for i, spec in enumerate(v.secrets):
        if spec.generate is None:  # values the user provides (`homelab secrets set`) are not applied here
            continue
        vault_deps.append(b.add("vault_secret", spec.path, {
            "fields": sorted(spec.fields), "length": spec.generate.length, "charset": spec.generate.charset,
        }, depends_on=(str(Address("vault_mount", v.kv_mount)),), source=("vault", "secrets", i)))
    vault_deps = sorted(vault_deps)
    vdeps = tuple(vault_deps)

    # --- VMs (Terraform) ------------------------------------------------------------------------
    px = lab.proxmox
    for vm in sorted(inv.vms, key=lambda x: x.name):
        b.add("proxmox_vm", vm.name, {
            "env": vm.env, "node": vm.node, "vmid": vm.vmid, "ip": vm.ip, "cores": vm.cores,
            "memory_mib": vm.memory_mib, "disk_gib": vm.disk_gib, "storage": vm.storage,
            "template": px.template.name, "bridge": px.bridge, "vlan": lab.network.vlan,
            "gateway": lab.network.gateway, "gpu": getattr(vm.gpu, "device", None), "tags": list(vm.tags),
        }, depends_on=vdeps, immutable=("env", "node", "template", "vmid"), no_shrink=("disk_gib",),
            source=("vms", vm.index))

    # --- Hosts (Ansible baseline) ---------------------------------------------------------------
    acc = lab.access
    for vm in sorted(inv.vms, key=lambda x: x.name):
        vm_addr = str(Address("proxmox_vm", vm.name))
        b.add("host", vm.name, {
            "fqdn": vm.fqdn, "ip": vm.ip, "role": vm.role, "os": px.template.os, "ssh_user": acc.ssh_user,
            "dns": list(lab.network.dns), "domain": lab.network.domain,
        }, depends_on=tuple(sorted({vm_addr, *vdeps})), rebuild_with=(vm_addr,), source=("vms", vm.index))

    def host(name: str) -> str:
        return str(Address("host", name))

    # --- K3s --------------------------------------------------------------------------------------
    k3s = lab.clusters.k3s
    k3s_nodes: list[str] = []
    if k3s:
        servers = [s for s in k3s.servers if s in vms]
        agents = [a for a in k3s.agents if a in vms and a not in servers]
        gpu_nodes = set(k3s.gpu.nodes)
        common = {"version": k3s.version, "token": k3s.token, "flannel_backend": k3s.flannel_backend}
        server_url = k3s.api_endpoint or (vms[servers[0]].ip if servers else None)

        def gpu_attrs(name):
            if name in gpu_nodes:
                return {"labels": [k3s.gpu.label], "taints": [k3s.gpu.taint]}
            return {"labels": [], "taints": []}

        server_addrs = []
        for i, name in enumerate(servers):
            deps = {host(name), *vdeps}
            if i > 0:
                deps.add(str(Address("k3s_server", servers[0])))
            attrs = {**common, "cluster_init": i == 0, "server": None if i == 0 else server_url,
                     "api_endpoint": k3s.api_endpoint, "tls_sans": list(k3s.tls_sans),
                     "disable": sorted(k3s.disable), "cluster_cidr": k3s.cluster_cidr,
                     "service_cidr": k3s.service_cidr, **gpu_attrs(name)}
            server_addrs.append(b.add("k3s_server", name, attrs, depends_on=tuple(sorted(deps)),
                                      rebuild_with=(host(name),),
                                      source=("clusters", "k3s", "servers", k3s.servers.index(name))))
        agent_addrs = []
        for name in agents:
            deps = {host(name), *server_addrs, *vdeps}
            agent_addrs.append(b.add("k3s_agent", name, {**common, "server": server_url, **gpu_attrs(name)},
                                     depends_on=tuple(sorted(deps)), rebuild_with=(host(name),),
                                     source=("clusters", "k3s", "agents", k3s.agents.index(name))))
        k3s_nodes = sorted(server_addrs + agent_addrs)

    # --- Elasticsearch ---------------------------------------------------------------------------
    es = lab.clusters.elasticsearch
    if es:
        masters = [m for m in es.master_nodes if m in vms]
        data = [d for d in es.data_nodes if d in vms]
        common = {"version": es.version, "cluster_name": es.cluster_name, "heap": es.heap,
                  "masters": sorted(masters)}
        master_addrs = []
        for name in masters:
            roles = ["data", "master"] if name in data else ["master"]
            master_addrs.append(b.add("es_node", name, {**common, "roles": roles},
                                      depends_on=tuple(sorted({host(name), *vdeps})),
                                      rebuild_with=(host(name),),
                                      source=("clusters", "elasticsearch", "master_nodes",
                                              es.master_nodes.index(name))))
        data_addrs = []
        for name in data:
            if name in masters:
                continue
            data_addrs.append(b.add("es_node", name, {**common, "roles": ["data"]},
                                    depends_on=tuple(sorted({host(name), *master_addrs, *vdeps})),
                                    rebuild_with=(host(name),),
                                    source=("clusters", "elasticsearch", "data_nodes", es.data_nodes.index(name))))
        es_addrs = sorted(master_addrs + data_addrs)
        kibana_addr = None
        if es.kibana and es.kibana in vms:
            kibana_addr = b.add("kibana", es.kibana, {"version": es.version, "cluster_name": es.cluster_name},
                                depends_on=tuple(sorted({host(es.kibana), *es_addrs, *vdeps})),
                                rebuild_with=(host(es.kibana),), source=("clusters", "elasticsearch", "kibana"))
        if es.fleet_server and es.fleet_server in vms:
            deps = {host(es.fleet_server), *es_addrs, *vdeps}
            if kibana_addr:
                deps.add(kibana_addr)
            b.add("fleet_server", es.fleet_server, {"version": es.version, "cluster_name": es.cluster_name},
                  depends_on=tuple(sorted(deps)), rebuild_with=(host(es.fleet_server),),
                  source=("clusters", "elasticsearch", "fleet_server"))

    # --- GitOps: ArgoCD bootstrap, platform, apps ---------------------------------------------------
    if lab.gitops and k3s:
        argo = lab.gitops.argocd
        boot = b.add("argocd_bootstrap", argo.namespace, {
            "chart": _chart(argo.chart), "namespace": argo.namespace, "repo_url": argo.repo_url,
            "revision": argo.revision, "project": argo.project, "values_path": argo.values_path,
            "automated": argo.automated, "prune": argo.prune, "self_heal": argo.self_heal,
        }, depends_on=tuple(k3s_nodes), source=("gitops", "argocd"))
        platform_addrs = []
        for key, comp in lab.platform.components().items():
            if not comp.enabled:
                continue
            name = key.replace("_", "-")
            platform_addrs.append(b.add("argocd_app", f"platform/{name}", {
                "namespace": comp.namespace, "chart": _chart(comp.chart), "values_digest": digest(comp.values),
            }, depends_on=(boot,), source=("platform", key)))
        platform_addrs.sort()
        for i, app in enumerate(lab.apps):
            deps = {boot, *platform_addrs}
            if app.secrets:
                deps.update(vdeps)
            b.add("argocd_app", f"{app.namespace}/{app.name}", {
                "namespace": app.namespace, "chart": _chart(app.chart),
                "image": f"{app.image.repository}:{app.image.tag}" if app.image else None,
                "port": app.port, "ingress": app.ingress, "gpu": app.gpu,
                "storage_digest": digest([s.model_dump(by_alias=True, mode="json") for s in app.storage]),
                "resources_digest": digest(app.resources.model_dump(mode="json") if app.resources else None),
                "secrets": sorted(f"{s.path}#{s.field}" for s in app.secrets),
                "values_digest": digest(app.values),
            }, depends_on=tuple(sorted(deps)), source=("apps", i))

    ordered = sorted(b.resources.values(), key=lambda r: (layer_index(r.layer), r.address))
    return {r.address: r for r in ordered}


__all__ = ["Resource", "desired", "digest", "LAYERS"]
