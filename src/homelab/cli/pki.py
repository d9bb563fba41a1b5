"""`homelab pki init|status|issue NAME`: the lab's CA in Vault (OpenBao), as ops/pki.py runs it.

Vault is found and logged into as by `homelab vault` (--address URL|embedded > HOMELAB_VAULT_ADDR >
vault.address; --user NAME > VAULT_TOKEN > the keys file). `--out` is the rendered repository: its
`tls/` receives ca.crt and the issued certificates (keys 0600, git-ignored).
"""

from __future__ import annotations

import typer

from homelab.cli._output import emit, emit_json
from homelab.cli._vault import login, vault_ctx
from homelab.cli.options import (
    AddressOption,
    EmbeddedOption,
    FormatOption,
    KeysOption,
    LabOption,
    StateDirOption,
    UserOption,
    WorkdirOption,
)

pki_app = typer.Typer(help="The lab's certificate authority: create it, show it, issue certificates.",
                      no_args_is_help=True)


@pki_app.command("init")
def init(lab: str = LabOption, address: str = AddressOption, embedded: bool = EmbeddedOption,
         state_dir: str = StateDirOption, keys_file: str = KeysOption, user: str = UserOption,
         out: str = WorkdirOption, fmt: str = FormatOption,
         record: bool = typer.Option(True, "--record/--no-record",
                                     help="Record the root certificate in the lab file (pki.root_ca).")):
    """Create the CA in Vault (root, intermediate, issuing roles and their logins), record its root."""
    c = vault_ctx(lab, address, embedded, state_dir, keys_file, fmt)
    from homelab.cli._run import open_session
    from homelab.ops.pki import init as do_init
    from homelab.secrets import Secret

    api = login(c, user)
    options = {"vault_token": Secret(api.token), "vault_address": c.address, "vault_keys_file": keys_file}
    session = open_session(c.doc, state_dir=state_dir, options=options)
    try:
        report = do_init(session, api, out=out, record=record)
    finally:
        session.close()
    if fmt == "json":
        emit_json(report.to_json())
        return
    emit(f"{len(report.applied)} PKI resource(s) applied" if report.applied else "the CA was already in Vault")
    emit(f"root CA: {report.root_subject}, valid until {report.root_not_after}")
    if report.ca_file:
        emit(f"  written to {report.ca_file}")
    if report.recorded:
        emit(f"  recorded in {c.doc.file} (pki.root_ca); `homelab render` puts it in every trust store")


@pki_app.command("status")
def status(lab: str = LabOption, address: str = AddressOption, embedded: bool = EmbeddedOption,
           state_dir: str = StateDirOption, keys_file: str = KeysOption, user: str = UserOption,
           fmt: str = FormatOption):
    """The CA as Vault has it, the issuing roles, and the certificates the lab needs."""
    c = vault_ctx(lab, address, embedded, state_dir, keys_file, fmt)
    from homelab.ops.pki import status as do_status

    st = do_status(c.doc, login(c, user))
    if fmt == "json":
        emit_json(st)
        return
    emit(f"CA: {st['ca']} (root recorded in the lab: {'yes' if st['root_recorded'] else 'no'})")
    for a in st["authorities"]:
        emit(f"  {a['mount']:<24} " + (f"{a['subject']}, until {a['not_after']}" if a["subject"] else "not created"))
    missing = [r["name"] for r in st["roles"] if not r["present"]]
    emit(f"issuing roles: {len(st['roles']) - len(missing)} of {len(st['roles'])} in Vault"
         + (f" (missing: {', '.join(missing)}; run `homelab pki init`)" if missing else ""))
    emit(f"revoked certificates on the CRL: {st['revoked']}")
    for cert in st["certificates"]:
        emit(f"  {cert['name']:<10} on {cert['host']:<8} {cert['service']:<14} {', '.join(cert['sans'])}")


@pki_app.command("issue")
def issue(name: str = typer.Argument(..., help="A certificate of the lab: a VM's service (vault, es01, kibana, "
                                                "...) or a pki.certificates name."),
          lab: str = LabOption, address: str = AddressOption, embedded: bool = EmbeddedOption,
          state_dir: str = StateDirOption, keys_file: str = KeysOption, user: str = UserOption,
          out: str = WorkdirOption, fmt: str = FormatOption):
    """Issue the certificate NAME now, verify it against the root, write tls/NAME.crt and tls/NAME.key."""
    c = vault_ctx(lab, address, embedded, state_dir, keys_file, fmt)
    from homelab.ops.pki import issue as do_issue

    issued = do_issue(c.doc, login(c, user), name, out=out)
    if fmt == "json":
        emit_json(issued.to_json())
        return
    emit(f"issued {issued.name}: serial {issued.serial}, valid until {issued.not_after}")
    emit(f"  SANs {', '.join(issued.sans)}; chain to the root verified")
    if issued.cert_file:
        emit(f"  {issued.cert_file} (full chain), {issued.key_file} (mode 0600)")


def register(app: typer.Typer) -> None:
    app.add_typer(pki_app, name="pki")
