"""One name, one place: a name the lab's DNS (Pi-hole) would answer with two different addresses."""

from __future__ import annotations

from homelab.checks.base import Finding, rule
from homelab.lab.dns import records


@rule("dns-record-conflict", "error", "a DNS name would resolve to two different addresses")
def check(doc):
    first: dict[str, object] = {}
    for rec in records(doc.lab, doc.inventory):
        if not rec.ip:
            continue
        prev = first.get(rec.name)
        if prev is None:
            first[rec.name] = rec
            continue
        if prev.ip == rec.ip or (rec.group and rec.group == prev.group):
            continue  # the same place twice, or a round-robin name the lab spreads on purpose
        yield Finding(rec.source, f"{rec.name} ({rec.what}) would resolve to {rec.ip}, but it already resolves to "
                      f"{prev.ip} ({prev.what}): clients would reach either, at random",
                      "give each machine and each ingress its own name")
