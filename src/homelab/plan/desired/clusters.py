"""Desired cluster memberships: K3s servers and agents, Elasticsearch nodes, Kibana, Fleet Server."""

from __future__ import annotations

from homelab.plan.desired.common import Builder, address


def host(name: str) -> str:
    return address("host", name)


def add(b: Builder, doc, vdeps: tuple[str, ...]) -> list[str]:
    """Add the clusters layer; returns the K3s node addresses (what the ArgoCD bootstrap waits for)."""
    k3s_nodes = add_k3s(b, doc, vdeps)
    add_elasticsearch(b, doc, vdeps)
    return k3s_nodes


def add_k3s(b: Builder, doc, vdeps: tuple[str, ...]) -> list[str]:
    lab, vms = doc.lab, doc.inventory.by_name
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
                deps.add(address("k3s_server", servers[0]))
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

    return k3s_nodes


def add_elasticsearch(b: Builder, doc, vdeps: tuple[str, ...]) -> None:
    lab, vms = doc.lab, doc.inventory.by_name
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
