"""Desired resources: what the lab says should exist, with non-secret attributes and dependencies.

Pure: `desired(doc)` (one module per layer in this package) reads the typed lab and the resolved inventory and returns every resource in a
deterministic order. Attributes are built from the model only — sizes, addresses, versions, Vault
*references* (`path#field`) and digests — so no secret value can ever reach a plan or the state.

Dependencies (an edge means "apply after"):

* Vault first: everything that reads a secret at apply time depends on every Vault resource
  (Terraform reads the Proxmox token, Ansible the SSH key and the k3s token, apps their secrets).
* `proxmox_vm.X` → `host.X` (baseline) → `host_pki.X` (trust store, certificates) and cluster membership on X.
* K3s: the first server (`--cluster-init`) → the other servers → the agents.
* Elasticsearch: the masters (they bootstrap the cluster) → the data nodes → Kibana → Fleet Server.
* Every K3s node → `argocd_bootstrap` → every `argocd_app.platform/*` → every application.
* ZFS on TrueNAS: a replication task → the snapshot tasks it sends (`nas.py`); nothing else (the engine
  reads the NAS's API key from Vault itself).

Immutable attributes (a change means a new resource: `replace`), decided here and documented in the
plan's reasons: a VM's `vmid` (the Proxmox identity), `node` (the VM is recreated on the new node, as
the seed's Terraform module does for `target_node`), `env` (it moves to another Terraform state) and
`template` (the clone source). A smaller `disk_gib` is also a replace: Proxmox disks cannot shrink.
IP, cores, memory, bigger disks, tags are updated in place. When a VM is created or replaced, what
runs on it (`host.X`, its cluster membership) is replaced with it — a new machine has none of it.
"""

from __future__ import annotations

from homelab.plan.address import layer_index
from homelab.plan.desired import clusters, gitops, machines, nas, pki_hosts, vault
from homelab.plan.desired.common import Builder, Resource, chart_ref, digest


def desired(doc) -> dict[str, Resource]:
    """Every desired resource of the lab, keyed by address, ordered by layer then address."""
    b = Builder()
    vault_deps = vault.add(b, doc)
    machines.add(b, doc, vault_deps)
    pki_hosts.add(b, doc, vault_deps)
    k3s_nodes = clusters.add(b, doc, vault_deps)
    gitops.add(b, doc, vault_deps, k3s_nodes)
    nas.add(b, doc)
    ordered = sorted(b.resources.values(), key=lambda r: (layer_index(r.layer), r.address))
    return {r.address: r for r in ordered}


__all__ = ["Resource", "chart_ref", "desired", "digest"]
