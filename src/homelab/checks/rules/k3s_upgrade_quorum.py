"""Two K3s servers: a one-by-one upgrade (or any restart of either) stops etcd.

etcd needs a majority of its members: with 2 servers that is both, so while `homelab upgrade k3s`
restarts one of them the other cannot write (and `homelab upgrade k3s` refuses to start). One server has
no quorum to lose (its API is down while it restarts); 3 keep quorum with one down.
"""

from __future__ import annotations

from homelab.checks.base import Finding, rule


@rule("k3s-upgrade-quorum", "warning", "2 k3s servers lose etcd quorum while one of them is upgraded")
def check(doc):
    k3s = doc.lab.clusters.k3s
    if k3s and len(k3s.servers) == 2:
        yield Finding(("clusters", "k3s", "servers"),
                      f"2 k3s servers ({', '.join(k3s.servers)}): while either restarts for an upgrade, etcd has 1 "
                      "of the 2 members it needs and the cluster stops; `homelab upgrade k3s` refuses to start",
                      "add a third server (odd counts keep quorum with one down), or go back to one server")
