"""K3s with embedded etcd needs an odd number of servers, at least 3, to survive losing one."""

from __future__ import annotations

from homelab.checks.base import Finding, rule


@rule("k3s-server-quorum", "warning", "k3s servers are fewer than 3 or an even number (etcd quorum)")
def check(doc):
    k3s = doc.lab.clusters.k3s
    if not k3s:
        return
    n = len(k3s.servers)
    if n < 3:
        yield Finding(("clusters", "k3s", "servers"),
                      f"{n} k3s server(s): the control plane is not highly available",
                      "use 3 servers (etcd keeps quorum when one fails)")
    elif n % 2 == 0:
        yield Finding(("clusters", "k3s", "servers"),
                      f"{n} k3s servers: an even number tolerates no more failures than {n - 1}",
                      f"use an odd number of servers ({n - 1} or {n + 1}); move the extra one to `agents`")
