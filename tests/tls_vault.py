"""A real OpenBao with a TLS listener, for the tests of host certificates and their renewal.

`tls_openbao(workdir, bind_ip)` starts `bao server -dev` (a random root token, KV v2 at secret/) with its
plain dev listener on 127.0.0.1 and a TLS listener on `bind_ip` (127.0.0.1, or a sandbox's controller
address the test hosts reach), first with a throw-away self-signed certificate. `install_pki(...)` applies
the lab's CA with the Vault engine (the plan's vault_pki* resources); `serve_lab_cert(...)` puts a
certificate from that CA on the TLS listener and reloads it with SIGHUP (what the vault reload does). The
server is stopped by its pid.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import secrets
import signal
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import hvac


def free_port(ip: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((ip, 0))
        return s.getsockname()[1]


def self_signed(ip: str, cert: Path, key: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    k = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bootstrap")])
    now = dt.datetime.now(dt.UTC)
    c = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(k.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
         .not_valid_after(now + dt.timedelta(hours=2))
         .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), critical=False)
         .sign(k, hashes.SHA256()))
    key.write_bytes(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    cert.write_bytes(c.public_bytes(serialization.Encoding.PEM))


@dataclass
class TlsBao:
    http_url: str
    https_url: str
    pid: int
    cert: Path
    key: Path
    token: str = ""

    def client(self) -> hvac.Client:
        return hvac.Client(self.http_url, token=self.token)

    def reload(self) -> None:
        os.kill(self.pid, signal.SIGHUP)

    def served_certificate(self) -> bytes:
        host, port = self.https_url.removeprefix("https://").rsplit(":", 1)
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        with socket.create_connection((host, int(port)), timeout=5) as sock, ctx.wrap_socket(sock) as tls:
            return ssl.DER_cert_to_PEM_cert(tls.getpeercert(binary_form=True)).encode()

    def sealed(self) -> bool:
        return self.client().sys.read_seal_status()["sealed"]


@contextlib.contextmanager
def tls_openbao(workdir: Path, bind_ip: str = "127.0.0.1"):
    from homelab.engines.vault.server import find_bao

    workdir.mkdir(parents=True, exist_ok=True)
    cert, key = workdir / "listener.crt", workdir / "listener.key"
    self_signed(bind_ip, cert, key)
    http_port, https_port = free_port(), free_port(bind_ip)
    (workdir / "tls.hcl").write_text(
        f'listener "tcp" {{\n  address = "{bind_ip}:{https_port}"\n  tls_cert_file = "{cert}"\n'
        f'  tls_key_file = "{key}"\n}}\n')
    log = open(workdir / "bao.log", "w")
    # A random root token: a plain word would be redacted wherever it appears (the redactor learns tokens).
    token = "dev-root-" + secrets.token_hex(12)
    proc = subprocess.Popen([find_bao(), "server", "-dev", f"-dev-root-token-id={token}",
                             f"-dev-listen-address=127.0.0.1:{http_port}", f"-config={workdir / 'tls.hcl'}"],
                            stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    server = TlsBao(f"http://127.0.0.1:{http_port}", f"https://{bind_ip}:{https_port}", proc.pid, cert, key, token)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if server.client().sys.is_initialized():
                    break
            except Exception:  # noqa: BLE001 - not up yet
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("OpenBao did not start: " + (workdir / "bao.log").read_text()[-2000:])
            time.sleep(0.2)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def install_pki(doc, server: TlsBao, workdir: Path, monkeypatch) -> None:
    """The lab's CA (plan: vault_pki*, vault_auth.cert) applied to `server` by the Vault engine."""
    from homelab.engines.base import Change, EngineContext
    from homelab.engines.vault import VaultEngine
    from homelab.plan.desired import desired

    monkeypatch.setenv("HOMELAB_VAULT_ADDR", server.http_url)
    monkeypatch.setenv("VAULT_TOKEN", server.token)
    ctx = EngineContext(doc=doc, workdir=workdir, state_dir=workdir / ".homelab")
    want = desired(doc)
    wanted = [a for a in want if a.startswith(("vault_pki", "vault_auth.cert"))]
    results = VaultEngine().apply(ctx, [Change(a, "create", "test", None, want[a].attrs) for a in wanted])
    assert all(r.ok for r in results), results


def serve_lab_cert(server: TlsBao, mount: str, role: str, common_name: str, ip: str) -> dict:
    """A certificate of the lab's CA (role `role`) on the TLS listener, reloaded with SIGHUP."""
    data = server.client().write_data(f"{mount}/issue/{role}", data={"common_name": common_name, "ip_sans": ip})["data"]
    server.key.write_text(data["private_key"] + "\n")
    server.cert.write_text(data["certificate"] + "\n" + data["issuing_ca"] + "\n")
    server.reload()
    wait_served(server, serial_of(data["certificate"].encode()))
    return data


def serial_of(pem: bytes) -> int:
    from cryptography import x509

    return x509.load_pem_x509_certificates(pem)[0].serial_number


def wait_served(server: TlsBao, serial: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while serial_of(server.served_certificate()) != serial:
        if time.monotonic() > deadline:
            raise AssertionError("the listener did not pick up the new certificate on SIGHUP")
        time.sleep(0.2)
