"""The lab's DNS records, derived from the model (pure): what Pi-hole serves and what `check` verifies.

A record is a fully qualified name and one IPv4 address, with where it comes from (a model path). One
name with several addresses is a conflict, except a name the lab itself spreads over several machines
(the K3s API name over the control-plane nodes: round-robin). Records, by source:

- every VM: `<name>.<domain>` → its address;
- every Ingress host (apps, ArgoCD's `argocd.<domain>`) → Traefik's fixed LoadBalancer address;
- the K3s API name (`clusters.k3s.api_endpoint`) → every server's address;
- Vault (the host of `vault.address`) → the Vault server's address;
- the CA (the host of `pki.step_ca.url`) → the step-ca host's address;
- `network.hosts`: machines the lab names but does not create (TrueNAS, Proxmox nodes, ...).

`wanted` lists the names the lab's settings use (TrueNAS, the snapshot and backup endpoints, ...) that
have to resolve for them to work.
"""

from __future__ import annotations

from dataclasses import dataclass

from homelab.lab.certificates import is_ip, url_host


@dataclass(frozen=True)
class Record:
    name: str
    ip: str | None  # None: the lab cannot tell the address (e.g. Traefik without a fixed one)
    source: tuple  # model path
    what: str  # human description of the source
    group: str = ""  # records of one group may share a name (round-robin)


@dataclass(frozen=True)
class Wanted:
    name: str
    source: tuple
    what: str


def fqdn(lab, name: str) -> str:
    name = name.rstrip(".").lower()
    return name if "." in name else f"{name}.{lab.network.domain}"


def ingress_hosts(lab) -> list[tuple[str, tuple, str]]:
    """(host, model path, what) of every Ingress the lab renders."""
    out = [(app.ingress.lower(), ("apps", i, "ingress"), f"ingress of app {app.name}")
           for i, app in enumerate(lab.apps) if app.ingress]
    if lab.gitops and lab.platform.traefik.enabled and (lab.clusters.k3s or lab.apps):
        out.append((f"argocd.{lab.network.domain}", ("gitops", "argocd"), "ArgoCD's ingress"))
    return out


def records(lab, inventory) -> list[Record]:
    vms = inventory.by_name
    out: list[Record] = []
    for vm in sorted(inventory.vms, key=lambda v: v.name):
        out.append(Record(vm.fqdn.lower(), vm.ip, ("vms", vm.index, "name"), f"VM {vm.name}"))
    traefik = lab.platform.traefik
    if traefik.enabled:
        for host, src, what in ingress_hosts(lab):
            out.append(Record(host, traefik.load_balancer_ip, src, what))
    k3s = lab.clusters.k3s
    if k3s and k3s.api_endpoint and not is_ip(k3s.api_endpoint):
        for name in k3s.servers:
            if name in vms:
                out.append(Record(fqdn(lab, k3s.api_endpoint), vms[name].ip, ("clusters", "k3s", "api_endpoint"),
                                  f"the K3s API name (server {name})", group="k3s-api"))
    host = url_host(lab.vault.address)
    if host and not is_ip(host) and lab.vault.server in vms:
        out.append(Record(fqdn(lab, host), vms[lab.vault.server].ip, ("vault", "address"), "vault.address"))
    step = lab.pki.step_ca
    host = url_host(step.url) if step else None
    if host and not is_ip(host) and step.host in vms:
        out.append(Record(fqdn(lab, host), vms[step.host].ip, ("pki", "step_ca", "url"), "the step-ca URL"))
    for i, h in enumerate(lab.network.hosts):
        out.append(Record(fqdn(lab, h.name), h.ip, ("network", "hosts", i, "name"), f"network host {h.name}"))
    return out


def wanted(lab) -> list[Wanted]:
    """Names inside the lab's domain that the lab's settings connect to."""
    out: list[Wanted] = []
    nas = lab.storage.truenas
    if nas:
        out.append(Wanted(fqdn(lab, nas.host.split(":")[0]), ("storage", "truenas", "host"), "storage.truenas.host"))
    es = lab.clusters.elasticsearch
    repo = es.snapshot_repository if es else None
    if repo and getattr(repo, "endpoint", None):
        host = url_host(repo.endpoint) or repo.endpoint.split(":")[0]
        out.append(Wanted(fqdn(lab, host), ("clusters", "elasticsearch", "snapshot_repository", "endpoint"),
                          "the snapshot repository endpoint"))
    velero = lab.backup.velero
    if velero and velero.s3_url:
        out.append(Wanted(fqdn(lab, url_host(velero.s3_url) or ""), ("backup", "velero", "s3_url"),
                          "Velero's S3 URL"))
    host = url_host(lab.vault.address)
    if host and not is_ip(host):
        out.append(Wanted(fqdn(lab, host), ("vault", "address"), "vault.address"))
    step = lab.pki.step_ca
    host = url_host(step.url) if step else None
    if host and lab.pki.ca == "step-ca" and not is_ip(host):
        out.append(Wanted(fqdn(lab, host), ("pki", "step_ca", "url"), "the step-ca URL"))
    domain = lab.network.domain
    return [w for w in out if w.name and not is_ip(w.name) and (w.name == domain or w.name.endswith("." + domain))]


def served(lab, inventory) -> dict[str, list[str]]:
    """name -> sorted distinct addresses: what Pi-hole answers (records without an address left out)."""
    out: dict[str, set[str]] = {}
    for r in records(lab, inventory):
        if r.ip:
            out.setdefault(r.name, set()).add(r.ip)
    return {name: sorted(out[name]) for name in sorted(out)}
