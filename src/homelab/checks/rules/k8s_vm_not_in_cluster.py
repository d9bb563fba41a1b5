"""A VM with a Kubernetes role that is neither a K3s server nor an agent never joins the cluster."""

from __future__ import annotations

from homelab.checks.base import Finding, rule

K8S_ROLES = {"k8s-control-plane": "clusters.k3s.servers", "k8s-worker": "clusters.k3s.agents"}


@rule("k8s-vm-not-in-cluster", "warning", "a VM has a Kubernetes role but is neither a K3s server nor an agent")
def check(doc):
    k3s = doc.lab.clusters.k3s
    members = {*k3s.servers, *k3s.agents} if k3s else set()
    for i, vm in enumerate(doc.lab.vms):
        if vm.role not in K8S_ROLES or vm.name in members:
            continue
        where = ("is in neither clusters.k3s.servers nor clusters.k3s.agents" if k3s else
                 "the lab has no clusters.k3s")
        yield Finding(("vms", i, "role"),
                      f"VM {vm.name} has role {vm.role} but {where}: it gets a VM and never joins K3s",
                      f"add {vm.name} to {K8S_ROLES[vm.role]}, or give it another role")
