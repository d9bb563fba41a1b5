"""Reading a kubeconfig: the server, TLS settings and credentials of one context.

What is taken from the file (context `gitops.argocd.context`, or the file's `current-context`):

- the cluster's `server`, `certificate-authority-data` (base64 PEM) or `certificate-authority` (a path),
  and `insecure-skip-tls-verify`;
- the user's bearer `token` or `tokenFile`, and a client certificate/key as inline base64 data
  (`client-certificate-data`, `client-key-data`) or as paths (`client-certificate`, `client-key`).

Relative paths are relative to the kubeconfig's directory, as kubectl reads them. `exec` and
`auth-provider` credential plugins are not run (a clear error instead). `tls-server-name` is not read:
the certificate is verified against the host name of `server`. The token and the private key
are `Secret`s: no message about the file ever contains them.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

from homelab.errors import EngineError
from homelab.secrets import Secret


@dataclass
class ClusterAccess:
    server: str
    ca_data: str | None = None  # PEM
    ca_file: str | None = None
    insecure: bool = False
    token: Secret | None = None
    cert_pem: str | None = None
    key_pem: Secret | None = None
    cert_file: str | None = None
    key_file: str | None = None


def _b64(text: str, what: str) -> str:
    try:
        return base64.b64decode(text).decode()
    except (ValueError, UnicodeDecodeError):
        raise EngineError(f"kubeconfig: {what} is not valid base64 PEM data") from None


def _read(p: Path) -> dict:
    from ruamel.yaml import YAML

    try:
        data = YAML(typ="safe", pure=True).load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EngineError(f"kubeconfig {p} does not exist",
                          hint="set gitops.argocd.kubeconfig to the file k3s wrote (fetched by the k3s playbook)"
                          ) from None
    except Exception as exc:  # noqa: BLE001 - any parse error is the user's file
        raise EngineError(f"kubeconfig {p} cannot be read: {type(exc).__name__}") from None
    if not isinstance(data, dict):
        raise EngineError(f"kubeconfig {p} is not a kubeconfig file")
    return data


def load_kubeconfig(path: str | os.PathLike, context: str | None = None) -> ClusterAccess:
    """Read the cluster, user and TLS settings of one context. Never puts a secret in a message."""
    p = Path(path).expanduser()
    data = _read(p)

    def named(section: str, name: str) -> dict:
        for item in data.get(section) or []:
            if isinstance(item, dict) and item.get("name") == name:
                return item.get(section[:-1]) or {}
        raise EngineError(f"kubeconfig {p}: no {section[:-1]} named {name!r}")

    ctx_name = context or data.get("current-context")
    if not ctx_name:
        raise EngineError(f"kubeconfig {p} has no current-context", hint="set gitops.argocd.context")
    ctx = named("contexts", ctx_name)
    cluster = named("clusters", ctx.get("cluster", ""))
    user = named("users", ctx.get("user", "")) if ctx.get("user") else {}
    if not cluster.get("server"):
        raise EngineError(f"kubeconfig {p}: cluster of context {ctx_name!r} has no server")
    access = ClusterAccess(server=str(cluster["server"]).rstrip("/"),
                           insecure=bool(cluster.get("insecure-skip-tls-verify")))
    rel = _relative_to(p.parent)
    if cluster.get("certificate-authority-data"):
        access.ca_data = _b64(cluster["certificate-authority-data"], "certificate-authority-data")
    elif cluster.get("certificate-authority"):
        access.ca_file = rel(cluster["certificate-authority"])
    if user.get("exec") or user.get("auth-provider"):
        raise EngineError(f"kubeconfig {p}: user of context {ctx_name!r} uses a credential plugin "
                          "(exec/auth-provider), which homelab does not run",
                          hint="use a kubeconfig with a client certificate or a bearer token (k3s writes one)")
    _user_credentials(access, user, rel)
    return access


def _relative_to(base: Path):
    """kubectl's rule: a relative path in a kubeconfig is relative to the kubeconfig's directory."""

    def rel(value):
        return str((base / value).resolve()) if value and not os.path.isabs(value) else value

    return rel


def _user_credentials(access: ClusterAccess, user: dict, rel) -> None:
    """The bearer token and client certificate/key: inline data, or a path (`rel` resolves it)."""
    if user.get("token"):
        access.token = Secret(str(user["token"]))
    elif user.get("tokenFile"):
        access.token = Secret(Path(rel(user["tokenFile"])).read_text(encoding="utf-8").strip())
    if user.get("client-certificate-data"):
        access.cert_pem = _b64(user["client-certificate-data"], "client-certificate-data")
    elif user.get("client-certificate"):
        access.cert_file = rel(user["client-certificate"])
    if user.get("client-key-data"):
        access.key_pem = Secret(_b64(user["client-key-data"], "client-key-data"))
    elif user.get("client-key"):
        access.key_file = rel(user["client-key"])
