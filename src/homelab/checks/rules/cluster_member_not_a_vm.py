"""Every host a cluster or service names (k3s, Elasticsearch, Kibana, Fleet, Vault, step-ca) must be a VM."""

from __future__ import annotations

from homelab.checks.base import Finding, rule
from homelab.checks.rules._common import cluster_lists, did_you_mean, known_list


@rule("cluster-member-not-a-vm", "error", "a cluster member or service host is not one of `vms`")
def check(doc):
    lab = doc.lab
    vms = [vm.name for vm in lab.vms]
    known = set(vms)
    refs = []
    for label, path, names in cluster_lists(lab):
        refs += [(label, path + (k,), name) for k, name in enumerate(names)]
    es = lab.clusters.elasticsearch
    if es:
        refs.append(("Kibana host", ("clusters", "elasticsearch", "kibana"), es.kibana))
        refs.append(("Fleet server host", ("clusters", "elasticsearch", "fleet_server"), es.fleet_server))
    refs.append(("Vault server", ("vault", "server"), lab.vault.server))
    if lab.pki.step_ca:
        refs.append(("step-ca host", ("pki", "step_ca", "host"), lab.pki.step_ca.host))
    for label, path, name in refs:
        if name is not None and name not in known:
            yield Finding(path, f"{label} {name!r} is not a VM",
                          did_you_mean(name, vms, f"add it to `vms` (known VMs: {known_list(vms)})"))
