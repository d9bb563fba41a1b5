"""`docs/pki.md`: the lab's CA, who issues what, every certificate with its names and renewal, and every DNS
record Pi-hole serves (lab/certificates.py, lab/dns.py): the page to check "does this name resolve, and is
it on a certificate" without reading the rendered values."""

from __future__ import annotations

from homelab.lab.certificates import cert_manager_on, certificates, hours, ingress_issuer
from homelab.lab.dns import ingress_hosts, records
from homelab.lab.pki_roles import intermediate_common_name, root_common_name
from homelab.lab.vault_access import lab_vault_url
from homelab.render.docs.markdown import NONE, code, md_header, section, table


def _ca(lab) -> str:
    pki = lab.pki
    rows = [
        ["Root", root_common_name(lab), f"Vault `{pki.vault.root_mount}/` (key never leaves Vault)", pki.vault.root_ttl],
        ["Intermediate", intermediate_common_name(lab), f"Vault `{pki.vault.intermediate_mount}/`",
         pki.vault.intermediate_ttl],
    ]
    if pki.ca == "step-ca" and pki.step_ca:
        rows.append(["step-ca intermediate", "signed by the root", f"step-ca on `{pki.step_ca.host or NONE}` "
                     f"({pki.step_ca.url}), key kept in Vault KV `pki/step-ca`", pki.vault.intermediate_ttl])
    state = ("recorded in `pki.root_ca`: rendered into every trust store" if pki.root_ca
             else "not recorded yet: run `homelab pki init`, then render")
    return (f"Internal CA: **{pki.ca}**. Certificates live {hours(pki.certificate_ttl)} and are renewed when "
            f"{hours(pki.renew_before)} are left. The root certificate is {state}.\n\n"
            + table(["CA", "Common name", "Where", "Lifetime"], rows))


def _hosts(doc) -> str:
    lab = doc.lab
    vault = lab_vault_url(lab)
    renewal = ("a daily systemd timer on the host (homelab-cert-renew, logs in to Vault with the certificate)"
               if vault else "`homelab pki issue NAME` and the host_certificate role (the embedded Vault is not "
               "reachable from the hosts: no timer)")
    rows = [[c.name, c.host, c.service, ", ".join(c.sans), code(c.cert_file), code(c.reload) if c.reload else
             ("by hand" if c.service == "manual" else "re-read by the service")]
            for c in certificates(lab, doc.inventory).certificates]
    return (f"Issued by the intermediate (PKI role of the same name, nothing else), renewed by {renewal}.\n\n"
            + table(["Certificate", "Host", "Service", "Names (SANs)", "File", "After renewal"], rows))


def _ingress(lab) -> str:
    if not cert_manager_on(lab):
        return ("cert-manager is off: Traefik serves its default certificate for every Ingress. Enable "
                "`pki.cert_manager` to get certificates from the lab's CA.\n")
    rows = [[host, ingress_issuer(lab, host), what] for host, _path, what in sorted(ingress_hosts(lab))]
    return ("cert-manager's ingress-shim makes a Certificate for each Ingress from the issuer it names; Traefik "
            "redirects http to https.\n\n" + table(["Host", "ClusterIssuer", "Ingress"], rows))


def _dns(doc) -> str:
    rows = [[r.name, r.ip or "(no fixed address: not served)", r.what]
            for r in sorted(records(doc.lab, doc.inventory), key=lambda r: (r.name, r.ip or "", r.what))]
    where = ("Served by Pi-hole (`dnsmasq.additionalHostsEntries`)" if any(a.chart.name == "pihole" for a in doc.lab.apps)
             else "The lab runs no Pi-hole: give these records to your DNS server")
    return f"{where}; `homelab check` rejects a name with two addresses or an address nobody has.\n\n" + table(
        ["Name", "Address", "Source"], rows)


def render_pki(doc) -> str:
    lab = doc.lab
    return "".join([
        md_header(f"Certificates and DNS — {lab.name}"),
        section("Certificate authority", _ca(lab)),
        section("Host certificates", _hosts(doc)),
        section("Ingress certificates", _ingress(lab)),
        section("DNS records", _dns(doc)),
    ])
