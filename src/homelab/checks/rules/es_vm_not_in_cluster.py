"""A VM with an Elasticsearch role that no Elasticsearch setting names gets a VM and no Elasticsearch."""

from __future__ import annotations

from homelab.checks.base import Finding, rule

# role -> (what the cluster calls it, the setting that must name the VM)
ES_ROLES = {
    "es-data": ("an Elasticsearch data node", "clusters.elasticsearch.data_nodes"),
    "es-master": ("an Elasticsearch master", "clusters.elasticsearch.master_nodes"),
    "kibana": ("Kibana", "clusters.elasticsearch.kibana"),
    "fleet": ("the Fleet Server", "clusters.elasticsearch.fleet_server"),
}


@rule("es-vm-not-in-cluster", "warning", "a VM has an Elasticsearch role but is in no Elasticsearch cluster")
def check(doc):
    es = doc.lab.clusters.elasticsearch
    named = set()
    if es:
        named = {*es.data_nodes, *es.master_nodes, *([es.kibana] if es.kibana else []),
                 *([es.fleet_server] if es.fleet_server else [])}
    for i, vm in enumerate(doc.lab.vms):
        if vm.role not in ES_ROLES or vm.name in named:
            continue
        what, setting = ES_ROLES[vm.role]
        where = setting if es else "clusters.elasticsearch (the lab has none)"
        yield Finding(("vms", i, "role"),
                      f"VM {vm.name} has role {vm.role} but {where} does not name it: it gets a VM, not {what}",
                      f"add {vm.name} to {setting}, or give it another role")
