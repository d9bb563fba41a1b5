"""A name the lab connects to (TrueNAS, the snapshot and backup endpoints, Vault, the CA) should resolve
through the lab's DNS: declare the machine under network.hosts."""

from __future__ import annotations

from homelab.checks.base import Finding, rule
from homelab.lab.dns import records, wanted


def serves_dns(lab) -> bool:
    """The lab runs Pi-hole (an app of the pihole chart): it is the lab's DNS."""
    return any(app.chart.name == "pihole" for app in lab.apps)


@rule("dns-name-missing", "warning", "a name the lab connects to has no DNS record")
def check(doc):
    lab = doc.lab
    if not serves_dns(lab):
        return
    known = {r.name for r in records(lab, doc.inventory) if r.ip}
    seen: set[str] = set()
    for want in wanted(lab):
        if want.name in known or want.name in seen:
            continue
        seen.add(want.name)
        yield Finding(want.source, f"{want.name} ({want.what}) has no DNS record: Pi-hole will not resolve it",
                      f"declare it: network.hosts: [{{name: {want.name.split('.')[0]}, ip: ...}}]")
