"""The lab's PKI: one root CA, kept in Vault, and what issues from it.

`pki.ca` chooses the internal CA the cluster's certificates come from:

- `vault` (the default): Vault's (OpenBao's) PKI secrets engine. A root (`pki.vault.root_mount`, its key
  never leaves Vault) signs an intermediate (`pki.vault.intermediate_mount`) that issues everything.
  Works with the embedded Vault, so a lab without an infra VM still has a CA.
- `step-ca`: the seed's step-certificates on `pki.step_ca.host`, with an ACME provisioner. Its root is
  the same Vault root; its intermediate is generated in Vault and kept there (KV `pki/step-ca`), and the
  rendered `step_ca` role installs both on the CA's host.

Host certificates (Vault's listener, Elasticsearch, Kibana, Fleet Server and `pki.certificates`) are
issued by Vault's intermediate in both cases and renewed on their host by a systemd timer that logs in
to Vault with the certificate it renews (Vault's cert auth method): nothing else to keep on the host.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from homelab.lab.types import DnsLabel, Model

Duration = str  # "720h", "30d", "90m": \d+[smhd]
DURATION = r"^\d+[smhd]$"


class StepCa(Model):
    url: str = Field(pattern=r"^https://\S+$", description="step-ca URL, e.g. https://ca.lab.example.org:9000.")
    root_cert: str = Field(default="/etc/step-ca/certs/root_ca.crt", description="Path of the root certificate.")
    host: str | None = Field(default=None, description="VM that runs step-ca.")
    version: str = Field(default="0.28.4", pattern=r"^\d+\.\d+\.\d+$",
                         description="step-ca release installed by the step_ca role (a .deb of that release).")
    provisioner: str = Field(default="acme", pattern=r"^[a-z0-9-]+$",
                             description="Name of the ACME provisioner (its directory: <url>/acme/<name>/directory).")


class VaultPki(Model):
    """Where the CA lives in Vault (OpenBao)."""

    root_mount: str = Field(default="pki", pattern=r"^[a-z0-9_-]+$")
    intermediate_mount: str = Field(default="pki_int", pattern=r"^[a-z0-9_-]+$")
    common_name: str | None = Field(default=None, description="Root CA common name; default '<lab name> Root CA'.")
    root_ttl: Duration = Field(default="87600h", pattern=DURATION, description="Lifetime of the root (10 years).")
    intermediate_ttl: Duration = Field(default="43800h", pattern=DURATION,
                                       description="Lifetime of the intermediate (5 years).")


class HostCertificate(Model):
    """A certificate installed on a VM and renewed there. Named like a VM or a service the lab already
    knows (vault, es01, kibana, fleet...), it replaces the names homelab derives for it; any other name
    adds a certificate."""

    name: DnsLabel
    host: str | None = Field(default=None, description="VM it is installed on (default: the VM called `name`).")
    sans: list[str] = Field(min_length=1, description="DNS names and IP addresses; the first is the common name.")
    issuer: str = Field(default="internal", description="`internal` (the lab's CA) is the only host issuer.")
    cert_file: str | None = Field(default=None, description="Default /etc/homelab/tls/<name>.crt.")
    key_file: str | None = Field(default=None, description="Default /etc/homelab/tls/<name>.key.")
    reload: str | None = Field(default=None, description="Command run after a renewal, e.g. systemctl reload nginx.")


class CertManager(Model):
    enabled: bool = Field(default=False, description="cert-manager in the platform (also turns on platform.cert_manager).")
    issuer: str = Field(default="homelab-ca", pattern=r"^[a-z0-9-]+$",
                        description="Name of the ClusterIssuer of the internal CA.")


class Dns01(Model):
    """How cert-manager answers Let's Encrypt's DNS-01 challenge (cert-manager ACME solvers)."""

    provider: Literal["cloudflare", "rfc2136"]
    api_token: str | None = Field(default=None, pattern=r"^[^#\s]+#[^#\s]+$",
                                  description="cloudflare: Vault 'path#field' of an API token (Zone DNS edit).")
    nameserver: str | None = Field(default=None, description="rfc2136: the authoritative server, host:port.")
    tsig_key_name: str | None = Field(default=None, description="rfc2136: TSIG key name.")
    tsig_secret: str | None = Field(default=None, pattern=r"^[^#\s]+#[^#\s]+$",
                                    description="rfc2136: Vault 'path#field' of the TSIG secret.")
    tsig_algorithm: str = "HMACSHA256"


class LetsEncrypt(Model):
    enabled: bool = False
    email: str | None = None
    staging: bool = True
    issuer: str = Field(default="letsencrypt", pattern=r"^[a-z0-9-]+$",
                        description="Name of the Let's Encrypt ClusterIssuer.")
    hosts: list[str] = Field(default_factory=list,
                             description="Ingress hosts the lab marks external: their certificates come from "
                                         "Let's Encrypt (a leading '*.' matches one label).")
    dns01: Dns01 | None = None


class Pki(Model):
    ca: Literal["vault", "step-ca"] = Field(
        default="vault", description="The internal CA: Vault's PKI engine (default) or step-ca on pki.step_ca.host.")
    vault: VaultPki = Field(default_factory=VaultPki)
    root_ca: str | None = Field(
        default=None, pattern=r"^\s*-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----\s*$",
        description="PEM of the root CA certificate (public), recorded by `homelab pki init`: rendered into every "
                    "trust store (VMs, the cluster's trust bundle, the External Secrets store, Velero).")
    step_ca: StepCa | None = None
    certificate_ttl: Duration = Field(default="720h", pattern=DURATION,
                                      description="Lifetime of the certificates the CA issues (30 days).")
    renew_before: Duration = Field(default="240h", pattern=DURATION,
                                   description="Renew when less than this is left (10 days).")
    certificates: list[HostCertificate] = Field(default_factory=list)
    cert_manager: CertManager = Field(default_factory=CertManager)
    letsencrypt: LetsEncrypt = Field(default_factory=LetsEncrypt)
