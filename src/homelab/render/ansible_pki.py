"""The PKI part of `ansible/`: the lab's CA settings for group_vars/all.yml (pki_*) and, per VM with
certificates, `host_vars/<vm>.yml` listing them (`host_certificate_list`, read by the host_certificate role).

Pure data from the model (lab/certificates.py): names, files, owners, reload commands; the root
certificate (public) when `homelab pki init` recorded it. Never a key, never a token.
"""

from __future__ import annotations

from homelab.lab.certificates import certificates, duration_seconds, hours, url_host
from homelab.lab.vault_access import lab_vault_url
from homelab.render.base import RenderedFile, header, normalise
from homelab.render.serializers import LiteralStr, dump_yaml

# Per service: (key mode, CA file written beside the certificate): the CA each service verifies Elasticsearch with.
SERVICE_FILES = {
    "vault": ("0600", ""),
    "elasticsearch": ("0640", "/etc/elasticsearch/certs/ca.crt"),
    "kibana": ("0640", "/etc/kibana/certs/ca.crt"),  # kibana role: elasticsearch.ssl.certificateAuthorities
    "fleet-server": ("0600", "/etc/elastic-agent/certs/ca.crt"),  # fleet_server role: --certificate-authorities
    "custom": ("0600", ""),
}


def group_vars(doc) -> dict:
    """pki_* for group_vars/all.yml (pki_trust, host_certificate, step_ca roles)."""
    lab = doc.lab
    pki = lab.pki
    data: dict = {
        "pki_root_ca": LiteralStr(pki.root_ca.strip() + "\n") if pki.root_ca else "",
        # Vault as the hosts reach it, for the renewal timers ("" = the embedded Vault: no timers).
        "pki_vault_addr": lab_vault_url(lab) or "",
        "pki_vault_mount": pki.vault.intermediate_mount,
        "pki_certificate_ttl": hours(pki.certificate_ttl),
        "pki_renew_before_seconds": duration_seconds(pki.renew_before),
    }
    step = pki.step_ca
    if pki.ca == "step-ca" and step is not None:
        vm = doc.inventory.by_name.get(step.host) if step.host else None
        host = url_host(step.url)
        names = [n for n in dict.fromkeys([host, vm.fqdn if vm else None, vm.name if vm else None,
                                           vm.ip if vm else None]) if n]
        port = int(step.url.rsplit(":", 1)[1].split("/")[0]) if step.url.count(":") > 1 else 443
        data["pki_step_ca"] = {"host": step.host or "", "version": step.version, "port": port,
                               "provisioner": step.provisioner, "dns_names": names}
    return data


def host_certificates(doc) -> dict[str, list[dict]]:
    """VM name -> the certificates the host_certificate role keeps on it."""
    out: dict[str, list[dict]] = {}
    vms = doc.inventory.by_name
    for cert in certificates(doc.lab, doc.inventory).certificates:
        if cert.host not in vms or cert.service == "manual":
            continue
        key_mode, ca_file = SERVICE_FILES.get(cert.service, SERVICE_FILES["custom"])
        out.setdefault(cert.host, []).append({
            "name": cert.name, "common_name": cert.common_name, "alt_names": cert.dns_names[1:],
            "ip_sans": cert.ip_sans, "cert_file": cert.cert_file, "key_file": cert.key_file,
            "key_mode": key_mode, "owner": cert.owner, "group": cert.group, "ca_file": ca_file,
            "reload": cert.reload,
        })
    return out


def host_vars_files(doc, root: str = "ansible") -> list[RenderedFile]:
    files = []
    for host, certs in sorted(host_certificates(doc).items()):
        head = header("#") + f"# {host}: its certificates from the lab's CA (host_certificate role).\n---\n"
        files.append(RenderedFile(f"{root}/host_vars/{host}.yml",
                                  normalise(dump_yaml({"host_certificate_list": certs}, header_line=head))))
    return files
