"""`homelab pki init|status|issue NAME`: the lab's CA, as day-2 workflows.

- `init`: the PKI part of the Vault layer (`--target vault_mount.* vault_auth.* 'vault_pki*'`) planned and
  applied like any change (recorded in state), then the root certificate recorded in the lab file
  (`pki.root_ca`, a round-trip edit: it is public, and every trust store is rendered from it) and
  written to `<repo>/tls/ca.crt` for the clients on this machine (Terraform, Ansible, homelab).
- `status`: the CA as Vault has it (root, intermediate, step-ca's), the issuing roles, the CRL, and the
  certificates the lab needs with their SANs.
- `issue NAME`: a certificate of the lab (`lab/certificates.py`: a VM's service or `pki.certificates`)
  issued now by Vault's intermediate with the role of that name, verified against the root (chain, SANs,
  lifetime) and written to `<repo>/tls/NAME.crt` (full chain) and `NAME.key` (0600).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from homelab.engines.vault.client import VaultApi, VaultError
from homelab.errors import EngineError, UsageError
from homelab.lab.certificates import certificates
from homelab.lab.pki_roles import pki_roles

TARGETS = ["vault_mount.*", "vault_auth.*", "vault_pki*"]
TLS_DIR = "tls"


@dataclass
class Issued:
    name: str
    serial: str
    not_after: str
    sans: list[str]
    chain_ok: bool
    cert_file: str = ""
    key_file: str = ""

    def to_json(self) -> dict:
        return dict(self.__dict__)


@dataclass
class InitReport:
    applied: list[tuple[str, str]] = field(default_factory=list)  # (address, what happened)
    root_subject: str = ""
    root_not_after: str = ""
    recorded: bool = False  # pki.root_ca written into the lab file
    ca_file: str = ""

    def to_json(self) -> dict:
        return {"applied": [{"address": a, "detail": d} for a, d in self.applied], "root_subject": self.root_subject,
                "root_not_after": self.root_not_after, "recorded": self.recorded, "ca_file": self.ca_file}


# ------------------------------------------------------------------------------------------ verify


def load_pem_chain(text: str) -> list:
    from cryptography import x509

    return x509.load_pem_x509_certificates(text.encode())


def verify(cert_pem: str, chain_pem: str, root_pem: str, sans: list[str]) -> tuple[bool, str]:
    """(ok, why): the leaf chains to the root through the given intermediates (signatures and validity) and
    carries exactly the wanted SANs."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.x509.verification import PolicyBuilder, Store

    leaf = load_pem_chain(cert_pem)[0]
    store = Store(load_pem_chain(root_pem))
    now = dt.datetime.now(dt.UTC)
    name = next((s for s in sans if not _is_ip(s)), None)
    subject = x509.DNSName(name) if name else x509.IPAddress(ipaddress.ip_address(sans[0]))
    verifier = PolicyBuilder().store(store).time(now).build_server_verifier(subject)
    try:
        verifier.verify(leaf, load_pem_chain(chain_pem))
    except Exception as exc:  # noqa: BLE001 - cryptography's VerificationError and friends
        return False, f"chain does not verify: {exc}"
    ext = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    have = {str(n) for n in ext.get_values_for_type(x509.DNSName)}
    have |= {str(i) for i in ext.get_values_for_type(x509.IPAddress)}
    want = {str(ipaddress.ip_address(s)) if _is_ip(s) else s for s in sans}
    if not want <= have:
        return False, f"SANs {sorted(have)} lack {sorted(want - have)}"
    return True, "chain and SANs verified"


def _self_signed(pem: str) -> bool:
    cert = load_pem_chain(pem)[0]
    return cert.subject == cert.issuer


def _is_ip(value: str) -> bool:
    from homelab.lab.certificates import is_ip

    return is_ip(value)


def describe(pem: str) -> tuple[str, str, str]:
    """(subject, not after (ISO), serial as colon hex) of the first certificate."""
    cert = load_pem_chain(pem)[0]
    serial = f"{cert.serial_number:x}"
    serial = ":".join(serial.zfill(len(serial) + len(serial) % 2)[i:i + 2] for i in range(0, len(serial) + len(serial) % 2, 2))
    return cert.subject.rfc4514_string(), cert.not_valid_after_utc.isoformat(), serial


# ------------------------------------------------------------------------------------------ init


def init(session, api: VaultApi, *, out: str | Path | None, record: bool = True, progress=lambda m: None) -> InitReport:
    doc = session.doc
    plan = session.plan(targets=TARGETS)
    layer = plan.layer("vault")
    if layer is not None and not layer.usable:
        raise EngineError(f"the Vault layer cannot be applied: {layer.describe()}")
    report = InitReport()
    if plan.has_changes:
        applied = session.apply(plan)
        if applied.failed:
            first = applied.failed[0]
            raise EngineError(f"{first.address}: {first.message}", "fix the cause and run `homelab pki init` again")
        report.applied = [(o.address, o.message or "") for o in applied.outcomes]
        for address, detail in report.applied:
            progress(f"{address}: {detail}")
    root = api.pki_ca(doc.lab.pki.vault.root_mount)
    if not root:
        raise VaultError("Vault has no root CA after init", "run `homelab pki init` again and look at the plan")
    report.root_subject, report.root_not_after, _ = describe(root)
    if out is not None:
        report.ca_file = str(write_file(Path(out) / TLS_DIR / "ca.crt", root, 0o644))
    if record and (doc.lab.pki.root_ca or "").strip() != root.strip():
        record_root(doc, root)
        report.recorded = True
    return report


def record_root(doc, pem: str) -> None:
    """pki.root_ca := pem in the lab file (round-trip edit, checked clean before it is written)."""
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.scalarstring import LiteralScalarString

    from homelab.lab.edit import LabEditor
    from homelab.ops.edit_lab import commit_edit

    ed = LabEditor(Path(doc.file).read_text(encoding="utf-8"), doc.file)
    if ed.tree.get("pki") is None:
        ed.tree["pki"] = CommentedMap()
    ed.tree["pki"]["root_ca"] = LiteralScalarString(pem.strip() + "\n")
    commit_edit(doc, ed.dumps(), render=False, out=None)


def write_file(path: Path, text: str, mode: int) -> Path:
    """Atomically, created with `mode` from the first byte (keys: 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text if text.endswith("\n") else text + "\n")
    os.replace(tmp, path)
    return path


# ------------------------------------------------------------------------------------------ issue


def issue(doc, api: VaultApi, name: str, *, out: str | Path | None) -> Issued:
    plan = certificates(doc.lab, doc.inventory)
    cert = plan.by_name().get(name)
    if cert is None:
        known = ", ".join(c.name for c in plan.certificates) or "(none)"
        raise UsageError(f"the lab has no certificate {name!r}", f"one of: {known}; or add it to pki.certificates")
    if name not in {r.name for r in pki_roles(doc.lab, doc.inventory)}:
        raise UsageError(f"certificate {name!r} has an address as its first name", "list a DNS name first in its sans")
    mount = doc.lab.pki.vault.intermediate_mount
    if api.role_read(f"{mount}/roles/{name}") is None:
        raise VaultError(f"Vault has no PKI role {mount}/{name}", "run `homelab pki init` (or `homelab vault configure`)")
    alt = [s for s in cert.dns_names[1:]]
    data = api.pki_issue(mount, name, cert.common_name, alt_names=alt, ip_sans=cert.ip_sans,
                         ttl=doc.lab.pki.certificate_ttl)
    # The intermediates only: clients have the root (ca.crt, their trust store); a server sends the rest.
    chain = "".join(p.strip() + "\n" for p in data.get("ca_chain") or [data["issuing_ca"]] if not _self_signed(p))
    root = api.pki_ca(doc.lab.pki.vault.root_mount) or ""
    ok, why = verify(data["certificate"], chain, root, list(cert.sans))
    if not ok:
        raise VaultError(f"the certificate Vault issued for {name} does not verify: {why}")
    _, not_after, serial = describe(data["certificate"])
    issued = Issued(name, serial, not_after, list(cert.sans), ok)
    if out is not None:
        base = Path(out) / TLS_DIR
        issued.cert_file = str(write_file(base / f"{name}.crt", data["certificate"].strip() + "\n" + chain, 0o644))
        issued.key_file = str(write_file(base / f"{name}.key", data["private_key"], 0o600))
        write_file(base / "ca.crt", root, 0o644)
    return issued


# ------------------------------------------------------------------------------------------ status


def status(doc, api: VaultApi) -> dict:
    pki = doc.lab.pki
    out: dict = {"ca": pki.ca, "authorities": [], "roles": [], "certificates": [], "revoked": 0}
    for mount in (pki.vault.root_mount, pki.vault.intermediate_mount):
        pem = api.pki_ca(mount)
        if pem:
            subject, not_after, _ = describe(pem)
            out["authorities"].append({"mount": mount, "subject": subject, "not_after": not_after})
        else:
            out["authorities"].append({"mount": mount, "subject": None, "not_after": None})
    if pki.ca == "step-ca":
        got = api.kv_read("pki/step-ca")
        pem = got[0].get("intermediate_cert") if got else None
        subject, not_after, _ = describe(pem) if pem else (None, None, None)
        out["authorities"].append({"mount": "step-ca (kv pki/step-ca)", "subject": subject, "not_after": not_after})
    for role in pki_roles(doc.lab, doc.inventory):
        live = api.role_read(f"{pki.vault.intermediate_mount}/roles/{role.name}")
        out["roles"].append({"name": role.name, "present": live is not None, "auth": role.auth})
    for cert in certificates(doc.lab, doc.inventory).certificates:
        out["certificates"].append({"name": cert.name, "host": cert.host, "sans": list(cert.sans),
                                    "file": cert.cert_file, "service": cert.service})
    crl = api.pki_crl(pki.vault.intermediate_mount) if out["authorities"][1]["subject"] else ""
    if crl:
        from cryptography import x509

        out["revoked"] = len(list(x509.load_pem_x509_crl(crl.encode())))
    out["root_recorded"] = bool(pki.root_ca)
    return out
