"""`docs/network.md`: the address plan: network, pools, every fixed address, MetalLB, names, K3s networks.

"Fixed" addresses are the gateway, the DNS servers, every VM's address (allocated ones marked) and
any IPv4 address written in an app's or an enabled platform component's Helm `values` (e.g. a
LoadBalancer IP), each shown with the pool it falls in, so a clash is visible before it happens.
"""

from __future__ import annotations

import ipaddress
import re
from typing import NamedTuple

from homelab.lab.parts import components_on
from homelab.lab.types import parse_range
from homelab.lab.vault_access import is_embedded
from homelab.render.docs.markdown import NONE, md_header, section, table

_IP_RE = re.compile(r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$")


def _ip_key(ip: str | None):
    return int(ipaddress.IPv4Address(ip)) if ip else -1


def _value_addresses(values, prefix: str = ""):
    """(dotted path, address) of every IPv4 address written in a Helm values tree."""
    if isinstance(values, dict):
        for key in sorted(values, key=str):
            yield from _value_addresses(values[key], f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(values, list):
        for i, item in enumerate(values):
            yield from _value_addresses(item, f"{prefix}[{i}]")
    elif isinstance(values, str) and _IP_RE.match(values):
        try:
            yield prefix, str(ipaddress.IPv4Address(values))
        except ValueError:
            return


def static_addresses(doc) -> dict[str, list[tuple[str, str, str]]]:
    """address -> [(name, fqdn, what)] for every address fixed by the lab."""
    lab = doc.lab
    found: dict[str, list[tuple[str, str, str]]] = {}

    def add(ip, name, fqdn, what):
        found.setdefault(ip, []).append((name, fqdn, what))

    net = lab.network
    add(net.gateway, "gateway", "", "default gateway")
    for i, dns in enumerate(net.dns, 1):
        add(dns, f"dns{i}", "", f"DNS server #{i}")
    for vm in doc.inventory.vms:
        if vm.ip:
            add(vm.ip, vm.name, vm.fqdn, f"VM ({vm.role}, {vm.env})" + (" — allocated" if vm.ip_allocated else ""))
    for app in lab.apps:
        for path, ip in _value_addresses(app.values):
            add(ip, app.name, "", f"app {app.namespace}/{app.name} (values `{path}`)")
    for cname, comp in components_on(lab).items():
        if comp.enabled:
            for path, ip in _value_addresses(comp.values):
                add(ip, cname, "", f"platform {cname} (values `{path}`)")
            if getattr(comp, "load_balancer_ip", None):
                add(comp.load_balancer_ip, cname, "", f"platform {cname} (`load_balancer_ip`, its LoadBalancer)")
    for ip in found:
        found[ip] = sorted(set(found[ip]))
    return found


class Pool(NamedTuple):
    name: str
    value: str  # the range as written
    lo: ipaddress.IPv4Address
    hi: ipaddress.IPv4Address
    used: list[str]  # fixed addresses inside it, in address order

    @property
    def size(self) -> int:
        return int(self.hi) - int(self.lo) + 1

    def holds(self, ip: str) -> bool:
        return self.lo <= ipaddress.IPv4Address(ip) <= self.hi


def _pools(doc, addresses) -> tuple[list[list], list[Pool]]:
    lab = doc.lab
    rows, pools = [], []
    for name, value, purpose in (("vms", lab.network.pools.vms, "VM addresses allocated by homelab"),
                                 ("metallb", lab.network.pools.metallb, "MetalLB LoadBalancer services")):
        if not value:
            continue
        lo, hi = parse_range(value)
        pool = Pool(name, value, lo, hi, [])
        pool.used.extend(sorted((ip for ip in addresses if pool.holds(ip)), key=_ip_key))
        pools.append(pool)
        rows.append([f"`{name}`", value, pool.size, len(pool.used), pool.size - len(pool.used), purpose])
    return rows, pools


def _network(lab) -> str:
    net = lab.network
    network = ipaddress.IPv4Network(net.cidr)
    return table(["Setting", "Value"], [
        ["Network", net.cidr],
        ["Netmask", str(network.netmask)],
        ["Broadcast", str(network.broadcast_address)],
        ["Usable addresses", max(network.num_addresses - 2, 0)],
        ["Gateway", net.gateway],
        ["DNS servers", ", ".join(net.dns)],
        ["Domain", net.domain],
        ["VLAN", net.vlan if net.vlan else "untagged"],
        ["Proxmox bridge", lab.proxmox.bridge],
    ])


def _static(addresses, pools: list[Pool]) -> str:
    rows = []
    for ip in sorted(addresses, key=_ip_key):
        entries = addresses[ip]
        pool = next((p.name for p in pools if p.holds(ip)), NONE)
        rows.append([ip, ", ".join(e[0] for e in entries), ", ".join(e[1] for e in entries if e[1]) or NONE,
                     "; ".join(e[2] for e in entries), pool])
    return table(["Address", "Name", "FQDN", "What", "Pool"], rows)


def _metallb(addresses, pools: list[Pool]) -> str:
    metallb = next((p for p in pools if p.name == "metallb"), None)
    if not metallb:
        return "No MetalLB pool declared.\n"
    used = metallb.used
    return (f"MetalLB (L2 mode) hands out `{metallb.value}` ({metallb.size} addresses) to `LoadBalancer` services. "
            f"Fixed by the lab: {len(used)}; assigned on demand: {metallb.size - len(used)}.\n\n"
            + (table(["Address", "Used by"], [[ip, "; ".join(e[2] for e in addresses[ip])] for ip in used])
               if used else ""))


def _service_names(lab) -> list[list[str]]:
    names = []
    k3s = lab.clusters.k3s
    if k3s and k3s.api_endpoint:
        names.append([k3s.api_endpoint, "Kubernetes API (K3s servers, port 6443)"])
    if not is_embedded(lab):
        names.append([lab.vault.address, "Vault"])
    if lab.pki.step_ca:
        names.append([lab.pki.step_ca.url, "step-ca internal CA"])
    if lab.storage.truenas:
        names.append([lab.storage.truenas.host, f"TrueNAS (pool `{lab.storage.truenas.pool}`)"])
    if lab.proxmox.endpoint:
        names.append([lab.proxmox.endpoint, "Proxmox VE API"])
    return sorted(names)


def render_network(doc) -> str:
    lab = doc.lab
    addresses = static_addresses(doc)
    out = [md_header(f"Network and address plan — {lab.name}")]
    out.append(f"One flat network; every VM gets a static address, its FQDN is `<name>.{lab.network.domain}`.\n")
    out.append(section("Network", _network(lab)))
    pool_rows, pools = _pools(doc, addresses)
    out.append(section("Address pools", table(["Pool", "Range", "Size", "Used", "Free", "Purpose"], pool_rows, "llrrrl")
                       if pool_rows else "No pools declared: VM addresses are allocated from the whole network.\n"))
    out.append(section("Static addresses", _static(addresses, pools)))
    out.append(section("MetalLB", _metallb(addresses, pools)))
    apps = sorted((a for a in lab.apps if a.ingress), key=lambda a: (a.ingress, a.namespace, a.name))
    out.append(section("Ingress hostnames",
                       "Traefik terminates TLS for these names; each resolves to Traefik's MetalLB address"
                       + (f" ({lab.platform.traefik.load_balancer_ip})" if lab.platform.traefik.load_balancer_ip
                          else "") + ".\n\n"
                       + table(["Host", "URL", "App", "Namespace"],
                               [[a.ingress, f"https://{a.ingress}", a.name, a.namespace] for a in apps])))
    names = _service_names(lab)
    if names:
        out.append(section("Other service names", table(["Name", "What"], names)))
    k3s = lab.clusters.k3s
    if k3s:
        out.append(section("Kubernetes networks", table(["Setting", "Value"], [
            ["CNI", f"{k3s.cni} ({k3s.flannel_backend})"],
            ["Pod network (cluster CIDR)", k3s.cluster_cidr],
            ["Service network", k3s.service_cidr],
            ["API TLS SANs", ", ".join(sorted(k3s.tls_sans)) or NONE],
        ])))
    return "".join(out)
