"""A VM has one cluster role: k3s server, k3s agent, Elasticsearch data node or master -- and is listed once."""

from __future__ import annotations

from homelab.checks.base import Finding, rule
from homelab.checks.rules._common import cluster_lists


@rule("cluster-role-conflict", "error", "a VM is in two cluster roles, or listed twice in one")
def check(doc):
    first: dict[str, str] = {}
    for label, path, names in cluster_lists(doc.lab):
        for k, name in enumerate(names):
            if name not in first:
                first[name] = label
                continue
            if first[name] == label:
                message = f"{name} is listed twice as a {label}"
            else:
                message = f"{name} is listed as a {label} but is already a {first[name]}"
            yield Finding(path + (k,), message, "give each VM one cluster role; use separate VMs for separate roles")
