"""Elasticsearch needs an odd number of master-eligible nodes, at least 3, to elect a master after a failure."""

from __future__ import annotations

from homelab.checks.base import Finding, rule


@rule("es-master-quorum", "warning", "Elasticsearch masters are fewer than 3 or an even number")
def check(doc):
    es = doc.lab.clusters.elasticsearch
    if not es:
        return
    n = len(es.master_nodes)
    if n < 3:
        yield Finding(("clusters", "elasticsearch", "master_nodes"),
                      f"{n} Elasticsearch master(s): the cluster cannot elect a master if one fails",
                      "use 3 dedicated master nodes")
    elif n % 2 == 0:
        yield Finding(("clusters", "elasticsearch", "master_nodes"),
                      f"{n} Elasticsearch masters: an even number tolerates no more failures than {n - 1}",
                      f"use an odd number of masters ({n - 1} or {n + 1})")
