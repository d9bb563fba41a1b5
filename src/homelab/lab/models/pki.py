from __future__ import annotations

from pydantic import Field

from homelab.lab.types import Model


class StepCa(Model):
    url: str = Field(pattern=r"^https://\S+$", description="step-ca URL, e.g. https://ca.lab.example.org:9000.")
    root_cert: str = Field(default="/etc/step-ca/certs/root_ca.crt", description="Path of the root certificate.")
    host: str | None = Field(default=None, description="VM that runs step-ca.")


class CertManager(Model):
    enabled: bool = False
    version: str = "v1.21.1"


class LetsEncrypt(Model):
    enabled: bool = False
    email: str | None = None
    staging: bool = True


class Pki(Model):
    step_ca: StepCa | None = None
    cert_manager: CertManager = Field(default_factory=CertManager)
    letsencrypt: LetsEncrypt = Field(default_factory=LetsEncrypt)
