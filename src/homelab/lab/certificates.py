"""Every certificate the lab needs, derived from the model (pure; checks, renderers, plan and ops use it).

Host certificates, issued by Vault's intermediate and renewed on their host (systemd timer):

- `vault.server`: Vault's listener (vault.tls.cert_file/key_file), reloaded with SIGHUP (`systemctl
  reload vault`: Vault re-reads its listener certificate on SIGHUP; a restart would seal it);
- every Elasticsearch node: HTTP and transport share one certificate (elasticsearch role: certs/node.crt),
  Elasticsearch re-reads changed certificate files by itself (xpack.security.*.ssl, resource.reload);
- Kibana and Fleet Server: restarted (both are stateless front ends; neither re-reads its certificate).
- `pki.certificates`: more, or a derived one (same name) with the SANs the user lists.

SANs are the names and addresses clients really use: the VM's FQDN, short name and address, plus the host
of a URL the lab gives for the service (vault.address) and, for Elasticsearch, `localhost` (the role's
API calls on the node). Ingress certificates are cert-manager's (render/kubernetes/cert_manager.py);
`ingress_issuer` says which ClusterIssuer signs a host.
"""

from __future__ import annotations

import fnmatch
import ipaddress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

CERT_DIR = "/etc/homelab/tls"
INTERNAL = "internal"


@dataclass(frozen=True)
class Certificate:
    name: str  # unique: a VM name or a pki.certificates name
    host: str  # the VM it lives on
    sans: tuple[str, ...]  # DNS names then IP addresses; the first is the common name
    service: str  # what serves it (vault, elasticsearch, kibana, fleet-server, custom)
    cert_file: str
    key_file: str
    owner: str = "root"
    group: str = "root"
    reload: str = ""  # command after a renewal ("" = nothing: the service re-reads the files)
    source: tuple = ()  # model path, for located messages
    explicit: bool = False  # SANs listed in pki.certificates

    @property
    def common_name(self) -> str:
        return self.sans[0]

    @property
    def dns_names(self) -> list[str]:
        return [s for s in self.sans if not is_ip(s)]

    @property
    def ip_sans(self) -> list[str]:
        return [s for s in self.sans if is_ip(s)]


@dataclass(frozen=True)
class Listener:
    """A TLS endpoint clients connect to by a name: the certificate must carry that name."""

    certificate: str
    name: str  # DNS name or IP address clients use
    why: str
    source: tuple = ()


@dataclass
class Plan:
    certificates: list[Certificate] = field(default_factory=list)
    listeners: list[Listener] = field(default_factory=list)

    def by_name(self) -> dict[str, Certificate]:
        return {c.name: c for c in self.certificates}


def is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def url_host(url: str | None) -> str | None:
    if not url or "://" not in url:
        return None
    return urlsplit(url).hostname


def _dedupe(values) -> tuple[str, ...]:
    out: list[str] = []
    for v in values:
        if v and v not in out:
            out.append(v)
    dns = [v for v in out if not is_ip(v)]
    return tuple(dns + [v for v in out if is_ip(v)])


def _vm_names(vm) -> list[str]:
    return [vm.fqdn, vm.name] + ([vm.ip] if vm.ip else [])


def derived(lab, inventory) -> Plan:
    """The certificates and listeners the lab's services imply (before pki.certificates)."""
    vms = inventory.by_name
    plan = Plan()
    vault = lab.vault
    if vault.server in vms and vault.tls.ca != "none":
        vm = vms[vault.server]
        host = url_host(vault.address) if vault.address.startswith("https://") else None
        plan.certificates.append(Certificate(
            vm.name, vm.name, _dedupe([*_vm_names(vm), host]), "vault", vault.tls.cert_file, vault.tls.key_file,
            owner="vault", group="vault", reload="systemctl reload vault", source=("vault", "server")))
        if host:
            plan.listeners.append(Listener(vm.name, host, "vault.address", ("vault", "address")))
        plan.listeners.append(Listener(vm.name, vm.fqdn, "the Vault server's name", ("vault", "server")))
    es = lab.clusters.elasticsearch
    if es:
        for key in ("master_nodes", "data_nodes"):
            for i, name in enumerate(getattr(es, key)):
                if name not in vms or name in plan.by_name():
                    continue
                vm = vms[name]
                plan.certificates.append(Certificate(
                    name, name, _dedupe([*_vm_names(vm), "localhost"]), "elasticsearch",
                    "/etc/elasticsearch/certs/node.crt", "/etc/elasticsearch/certs/node.key",
                    group="elasticsearch", source=("clusters", "elasticsearch", key, i)))
                if vm.ip:  # Kibana, Fleet and the other nodes connect by address (group_vars elastic_stack)
                    plan.listeners.append(Listener(name, vm.ip, "Elasticsearch clients connect by address",
                                                   ("clusters", "elasticsearch", key, i)))
        for key, service, reload in (("kibana", "kibana", "systemctl restart kibana"),
                                     ("fleet_server", "fleet-server", "systemctl restart elastic-agent")):
            name = getattr(es, key)
            if name in vms and name not in plan.by_name():
                vm = vms[name]
                base = "/etc/kibana/certs/kibana" if key == "kibana" else "/etc/elastic-agent/certs/fleet-server"
                plan.certificates.append(Certificate(
                    name, name, _dedupe(_vm_names(vm)), service, f"{base}.crt", f"{base}.key",
                    group="kibana" if key == "kibana" else "root", reload=reload,
                    source=("clusters", "elasticsearch", key)))
                plan.listeners.append(Listener(name, vm.fqdn, f"the {service} URL (group_vars elastic_stack)",
                                               ("clusters", "elasticsearch", key)))
    return plan


def certificates(lab, inventory) -> Plan:
    """Derived certificates, with `pki.certificates` replacing (same name) or adding to them."""
    plan = derived(lab, inventory)
    by_name = plan.by_name()
    for i, spec in enumerate(lab.pki.certificates):
        base = by_name.get(spec.name)
        src = ("pki", "certificates", i)
        if base is not None:
            cert = Certificate(base.name, spec.host or base.host, _dedupe(spec.sans), base.service,
                               spec.cert_file or base.cert_file, spec.key_file or base.key_file, base.owner,
                               base.group, spec.reload if spec.reload is not None else base.reload, src, True)
        else:
            manual = (spec.host or spec.name) not in inventory.by_name  # a network host: installed by hand
            cert = Certificate(spec.name, spec.host or spec.name, _dedupe(spec.sans), "manual" if manual else "custom",
                               spec.cert_file or f"{CERT_DIR}/{spec.name}.crt",
                               spec.key_file or f"{CERT_DIR}/{spec.name}.key", reload=spec.reload or "",
                               source=src, explicit=True)
        by_name[spec.name] = cert
    plan.certificates = sorted(by_name.values(), key=lambda c: c.name)
    return plan


_INVENTORY: list = []  # (lab, inventory) of the last lab asked for: renderers that see only the lab share it


def inventory_of(lab):
    """The resolved inventory of `lab` (lab/resolve.py), computed once per lab object (it is immutable)."""
    from homelab.lab.resolve import resolve

    if not _INVENTORY or _INVENTORY[0][0] is not lab:
        _INVENTORY[:] = [(lab, resolve(lab))]
    return _INVENTORY[0][1]


def lab_ca_serves(lab, inventory, url_or_host: str | None) -> bool:
    """Whether the lab's CA issued the certificate of this host (a certificate of the lab names it), so a
    client of it verifies against the lab's root (pki.root_ca) instead of skipping verification."""
    host = url_host(url_or_host) or (url_or_host or "").split(":")[0]
    if not host or not lab.pki.root_ca:
        return False
    return any(host in cert.sans for cert in certificates(lab, inventory).certificates)


# ----------------------------------------------------------------------------------------- ingress


def cert_manager_on(lab) -> bool:
    """cert-manager runs when the lab asks for it (pki.cert_manager or the platform component)."""
    return bool(lab.pki.cert_manager.enabled or lab.platform.cert_manager.enabled)


def is_external(lab, host: str) -> bool:
    """Whether the lab marks `host` external (pki.letsencrypt.hosts; '*.x' matches one label)."""
    for pattern in lab.pki.letsencrypt.hosts:
        if pattern.startswith("*."):
            if fnmatch.fnmatchcase(host, pattern) and host.count(".") == pattern.count("."):
                return True
        elif host == pattern:
            return True
    return False


def ingress_issuer(lab, host: str) -> str:
    """The ClusterIssuer that signs `host`: Let's Encrypt for an external name, else the internal CA."""
    if is_external(lab, host):
        return lab.pki.letsencrypt.issuer
    return lab.pki.cert_manager.issuer


def issuers(lab) -> list[str]:
    """The ClusterIssuers the lab renders."""
    if not cert_manager_on(lab):
        return []
    out = [lab.pki.cert_manager.issuer]
    if lab.pki.letsencrypt.enabled:
        out.append(lab.pki.letsencrypt.issuer)
    return out


def tls_secret(host: str) -> str:
    """The Secret cert-manager writes an Ingress host's certificate to (a DNS-1123 name)."""
    return host.replace("*", "wildcard").replace(".", "-") + "-tls"


def duration_seconds(text: str) -> int:
    return int(text[:-1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[text[-1]]


def hours(text: str) -> str:
    """'30d' -> '720h' (cert-manager and Vault both read Go durations; hours keep them comparable)."""
    secs = duration_seconds(text)
    return f"{secs // 3600}h" if secs % 3600 == 0 else f"{secs}s"
