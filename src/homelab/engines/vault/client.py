"""The one Vault/OpenBao client: a thin, error-translating layer over hvac, behind a factory seam.

`VaultApi` wraps one hvac client. Every call goes through `translate()`, which turns hvac and
requests exceptions into the `VaultError` subclasses below — clear messages, a hint, an exit code,
and never a secret value (hvac messages carry the method and URL, never the body or the token).
Everything in homelab that talks to Vault (the engine, the day-2 workflows) goes through it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from homelab.engines.vault.errors import (  # noqa: F401 - re-exported: the client raises them
    VaultAlreadyInitializedError,
    VaultError,
    VaultLoginError,
    VaultNotInitializedError,
    VaultPermissionError,
    VaultSealedError,
    VaultTokenError,
    VaultUnreachableError,
    VaultUnsealKeyError,
)

# --------------------------------------------------------------------------------------- client seam

ClientFactory = Callable[..., Any]  # (url, token=None, verify=True, timeout=...) -> hvac.Client


def hvac_client(url: str, token: str | None = None, verify: bool | str = True, timeout: float = 15.0):
    import hvac

    return hvac.Client(url=url, token=token, verify=verify, timeout=timeout)


def host_of(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.netloc or url


@contextlib.contextmanager
def translate(url: str, what: str = "request", api: VaultApi | None = None) -> Iterator[None]:
    """Map hvac/requests exceptions to VaultError subclasses (no traceback, no secret)."""
    import hvac.exceptions as hx
    import requests

    where = host_of(url)
    try:
        yield
    except VaultError:
        raise
    except requests.exceptions.SSLError:
        raise VaultUnreachableError(
            f"TLS error talking to Vault at {where} ({what})",
            "check the CA (vault.tls) or set vault.tls.skip_verify for a lab certificate") from None
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
        text = str(exc).lower()
        reason = ("connection refused" if "refused" in text else
                  "the host name does not resolve" if "resolve" in text or "name or service" in text else
                  "no answer")
        raise VaultUnreachableError(
            f"cannot reach Vault at {where}: {reason}",
            "check vault.address (or --address / HOMELAB_VAULT_ADDR); for the embedded server run "
            "`homelab vault up`") from None
    except hx.VaultNotInitialized:
        raise VaultNotInitializedError(f"Vault at {where} is not initialised",
                                       "run `homelab vault init`") from None
    except hx.VaultDown:
        raise VaultSealedError(f"Vault at {where} is sealed",
                               "run `homelab vault unseal` (needs the unseal keys)") from None
    except (hx.Forbidden, hx.Unauthorized):
        if api is not None and not api.token_valid():
            raise VaultTokenError(
                f"the Vault token is invalid or expired ({what})",
                "log in again: unset VAULT_TOKEN or use --user NAME; see `homelab vault status --help`") from None
        raise VaultPermissionError(f"permission denied by Vault: {what}",
                                   "the token's policies do not allow this; use an admin user") from None
    except hx.VaultError as exc:
        detail = "; ".join(str(e) for e in (exc.errors or []) if e) if exc.errors else str(exc)
        detail = detail.split(", on ")[0][:300]
        raise VaultError(f"Vault refused the {what}: {detail}") from None


# --------------------------------------------------------------------------------------- API wrapper


def ttl_seconds(text: str | int | None) -> int:
    if text is None:
        return 0
    if isinstance(text, int):
        return text
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = str(text).strip()
    if text and text[-1] in units:
        return int(text[:-1]) * units[text[-1]]
    return int(text)


class VaultApi:
    """One authenticated (or anonymous) connection. All methods raise VaultError subclasses."""

    def __init__(self, url: str, token: str | None = None, *, verify: bool | str = True,
                 factory: ClientFactory = hvac_client, kv_mount: str = "secret"):
        self.url = url.rstrip("/")
        self.verify = verify
        self.factory = factory
        self.kv_mount = kv_mount
        self.client = factory(self.url, token=token, verify=verify)

    # -- token
    @property
    def token(self) -> str | None:
        return self.client.token

    def with_token(self, token: str | None) -> VaultApi:
        return VaultApi(self.url, token, verify=self.verify, factory=self.factory, kv_mount=self.kv_mount)

    def token_valid(self) -> bool:
        if not self.client.token:
            return False
        try:
            self.client.auth.token.lookup_self()
            return True
        except Exception:  # noqa: BLE001 - any failure means "not usable"
            return False

    def _t(self, what: str):
        return translate(self.url, what, self)

    # -- unauthenticated sys
    def seal_status(self) -> dict:
        with translate(self.url, "seal status"):
            return self.client.sys.read_seal_status()

    def require_ready(self) -> dict:
        """Initialised and unsealed, or a clear error."""
        st = self.seal_status()
        where = host_of(self.url)
        if not st.get("initialized"):
            raise VaultNotInitializedError(f"Vault at {where} is not initialised", "run `homelab vault init`")
        if st.get("sealed"):
            raise VaultSealedError(f"Vault at {where} is sealed",
                                   "run `homelab vault unseal` (reads the keys file)")
        return st

    def initialize(self, shares: int, threshold: int) -> dict:
        with translate(self.url, "initialisation"):
            if self.client.sys.is_initialized():
                raise VaultAlreadyInitializedError(
                    f"Vault at {host_of(self.url)} is already initialised",
                    "nothing to do; unseal it with `homelab vault unseal`")
            return self.client.sys.initialize(secret_shares=shares, secret_threshold=threshold)

    def submit_unseal_key(self, key: str) -> dict:
        import hvac.exceptions as hx

        with translate(self.url, "unseal"):
            try:
                return self.client.sys.submit_unseal_key(key=key)
            except hx.InvalidRequest:
                with contextlib.suppress(Exception):
                    self.client.sys.submit_unseal_key(reset=True)
                raise VaultUnsealKeyError(
                    "Vault rejected an unseal key (wrong key, or the keys of another Vault); "
                    "unseal progress was reset",
                    "check the keys file belongs to this Vault (--keys-file)") from None

    def leader(self) -> dict:
        with self._t("leader status"):
            return self.client.sys.read_leader_status()

    def wait_active(self, timeout: float = 30.0) -> None:
        """After unseal, raft needs a moment to elect itself leader before writes succeed."""
        import time

        deadline = time.monotonic() + timeout
        while True:
            try:
                with translate(self.url, "health"):
                    health = self.client.sys.read_health_status(method="GET")
                if isinstance(health, dict) and not health.get("sealed") and not health.get("standby"):
                    return
            except VaultError:
                pass
            if time.monotonic() > deadline:
                raise VaultError(f"Vault at {host_of(self.url)} did not become active within {timeout:.0f}s")
            time.sleep(0.3)

    def raft_servers(self) -> list[dict]:
        """`GET sys/storage/raft/configuration`: the raft servers (node_id, address, leader, voter); [] when the
        storage is not raft (the server answers an error)."""
        try:
            with self._t("raft configuration"):
                data = self.client.sys.read_raft_config()
        except VaultError:
            return []
        config = ((data or {}).get("data") or {}).get("config") or {}
        return [s for s in config.get("servers") or [] if isinstance(s, dict)]

    # -- authenticated sys
    def seal(self) -> None:
        with self._t("seal"):
            self.client.sys.seal()

    def list_mounts(self) -> dict:
        with self._t("list secrets engines"):
            data = self.client.sys.list_mounted_secrets_engines()
        return data.get("data", data)

    def enable_kv2(self, mount: str) -> None:
        with self._t(f"enable KV v2 at {mount}/"):
            self.client.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})

    def list_auth(self) -> dict:
        with self._t("list auth methods"):
            data = self.client.sys.list_auth_methods()
        return data.get("data", data)

    def enable_auth(self, method: str) -> None:
        with self._t(f"enable auth method {method}"):
            self.client.sys.enable_auth_method(method)

    def list_audit(self) -> dict:
        with self._t("list audit devices"):
            data = self.client.sys.list_enabled_audit_devices()
        return data.get("data", data)

    def enable_audit_file(self, file_path: str) -> None:
        with self._t("enable file audit device"):
            self.client.sys.enable_audit_device("file", path="file", options={"file_path": file_path})

    def disable_audit(self, path: str) -> None:
        with self._t(f"disable audit device {path}"):
            self.client.sys.disable_audit_device(path)

    def list_policies(self) -> list[str]:
        with self._t("list policies"):
            data = self.client.sys.list_acl_policies()
        return sorted(data.get("data", data).get("keys", []))

    def read_policy(self, name: str) -> str | None:
        import hvac.exceptions as hx

        with self._t(f"read policy {name}"):
            try:
                data = self.client.sys.read_acl_policy(name)
            except hx.InvalidPath:
                return None
        return data.get("data", data).get("policy")

    def write_policy(self, name: str, text: str) -> None:
        with self._t(f"write policy {name}"):
            self.client.sys.create_or_update_acl_policy(name, text)

    def delete_policy(self, name: str) -> None:
        with self._t(f"delete policy {name}"):
            self.client.sys.delete_acl_policy(name)

    # -- userpass
    def read_user(self, name: str) -> dict | None:
        import hvac.exceptions as hx

        with self._t(f"read userpass user {name}"):
            try:
                data = self.client.read(f"auth/userpass/users/{name}")
            except hx.InvalidPath:
                return None
        return data.get("data") if data else None

    def list_users(self) -> list[str]:
        import hvac.exceptions as hx

        with self._t("list userpass users"):
            try:
                data = self.client.list("auth/userpass/users")
            except hx.InvalidPath:
                return []
        return sorted((data or {}).get("data", {}).get("keys", []))

    def write_user(self, name: str, *, password: str | None = None, **attrs) -> None:
        body = dict(attrs)
        if password is not None:
            body["password"] = password
        with self._t(f"write userpass user {name}"):
            self.client.write_data(f"auth/userpass/users/{name}", data=body)

    def set_user_password(self, name: str, password: str) -> None:
        with self._t(f"set the password of userpass user {name}"):
            self.client.write_data(f"auth/userpass/users/{name}/password", data={"password": password})

    def delete_user(self, name: str) -> None:
        with self._t(f"delete userpass user {name}"):
            self.client.delete(f"auth/userpass/users/{name}")

    def login_userpass(self, name: str, password: str) -> str:
        """Returns a client token; raises VaultLoginError when refused."""
        import hvac.exceptions as hx

        anon = self.factory(self.url, token=None, verify=self.verify)
        with translate(self.url, f"login of {name}"):
            try:
                resp = anon.auth.userpass.login(username=name, password=password)
            except (hx.InvalidRequest, hx.Forbidden, hx.Unauthorized):
                raise VaultLoginError(f"Vault refused the login of user {name!r}",
                                      "check the user name and password") from None
        return resp["auth"]["client_token"]

    def login_works(self, name: str, password: str) -> bool:
        try:
            token = self.login_userpass(name, password)
        except VaultLoginError:
            return False
        with contextlib.suppress(Exception):
            self.with_token(token).client.auth.token.revoke_self()
        return True

    def lookup_self(self) -> dict:
        with self._t("token lookup"):
            return self.client.auth.token.lookup_self()["data"]

    def revoke_self(self) -> None:
        with self._t("token revocation"):
            self.client.auth.token.revoke_self()

    def create_token(self, **kwargs) -> str:
        with self._t("token creation"):
            return self.client.auth.token.create(**kwargs)["auth"]["client_token"]

    # -- KV v2
    def kv_read(self, path: str, version: int | None = None) -> tuple[dict, int] | None:
        """(data, version) or None when the path has no live version."""
        import hvac.exceptions as hx

        with self._t(f"read {self.kv_mount}/{path}"):
            try:
                resp = self.client.secrets.kv.v2.read_secret_version(
                    path, version=version, mount_point=self.kv_mount, raise_on_deleted_version=True)
            except hx.InvalidPath:
                return None
        return resp["data"]["data"] or {}, int(resp["data"]["metadata"]["version"])

    def kv_write(self, path: str, data: dict, cas: int | None = None) -> int:
        with self._t(f"write {self.kv_mount}/{path}"):
            resp = self.client.secrets.kv.v2.create_or_update_secret(
                path, secret=data, cas=cas, mount_point=self.kv_mount)
        return int(resp["data"]["version"])

    def kv_delete_latest(self, path: str) -> None:
        """Soft-delete the latest version (KV v2 `delete`): recoverable with undelete, history kept."""
        with self._t(f"delete {self.kv_mount}/{path}"):
            self.client.secrets.kv.v2.delete_latest_version_of_secret(path, mount_point=self.kv_mount)

    def kv_metadata(self, path: str) -> dict | None:
        import hvac.exceptions as hx

        with self._t(f"read metadata of {self.kv_mount}/{path}"):
            try:
                return self.client.secrets.kv.v2.read_secret_metadata(path, mount_point=self.kv_mount)["data"]
            except hx.InvalidPath:
                return None

    def kv_list(self, path: str = "") -> list[str]:
        import hvac.exceptions as hx

        with self._t(f"list {self.kv_mount}/{path}"):
            try:
                resp = self.client.secrets.kv.v2.list_secrets(path, mount_point=self.kv_mount)
            except hx.InvalidPath:
                return []
        return sorted(resp["data"]["keys"])

    def kv_walk(self, prefix: str = "") -> list[str]:
        """Every secret path below prefix (recursive listing)."""
        out: list[str] = []
        for key in self.kv_list(prefix):
            full = f"{prefix}{key}"
            if key.endswith("/"):
                out += self.kv_walk(full)
            else:
                out.append(full)
        return sorted(out)

    # -- raft snapshots
    def snapshot(self) -> bytes:
        with self._t("raft snapshot"):
            resp = self.client.sys.take_raft_snapshot()
        return resp.content

    def restore_snapshot(self, data: bytes, force: bool = True) -> None:
        with self._t("raft snapshot restore"):
            if force:
                self.client.sys.force_restore_raft_snapshot(data)
            else:
                self.client.sys.restore_raft_snapshot(data)

    # -- PKI secrets engine and the auth methods of its clients (OpenBao/Vault PKI API)
    def _read_data(self, path: str, what: str) -> dict | None:
        import hvac.exceptions as hx

        with self._t(what):
            try:
                resp = self.client.read(path)
            except hx.InvalidPath:
                return None
        return (resp or {}).get("data") if resp else None

    def _write(self, path: str, what: str, **body) -> dict:
        with self._t(what):
            resp = self.client.write_data(path, data=body)
        return (resp or {}).get("data") or {} if isinstance(resp, dict) else {}

    def enable_pki(self, mount: str, max_ttl: str) -> None:
        with self._t(f"enable PKI at {mount}/"):
            self.client.sys.enable_secrets_engine("pki", path=mount, config={"max_lease_ttl": max_ttl})

    def pki_ca(self, mount: str) -> str | None:
        """The PEM of the mount's default issuer, or None while it has none."""
        try:
            return (self._read_data(f"{mount}/cert/ca", f"read the CA of {mount}/") or {}).get("certificate") or None
        except VaultError as exc:
            if "no default issuer" in exc.message:
                return None
            raise

    def pki_ca_chain(self, mount: str) -> str:
        data = self._read_data(f"{mount}/cert/ca_chain", f"read the CA chain of {mount}/") or {}
        return data.get("ca_chain") or data.get("certificate") or ""

    def pki_generate(self, mount: str, kind: str, common_name: str, **extra) -> dict:
        """`kind`: root/generate/internal, intermediate/generate/internal or .../exported (EC P-256 keys)."""
        return self._write(f"{mount}/{kind}", f"{kind} in {mount}/", common_name=common_name, key_type="ec",
                           key_bits=256, **extra)

    def pki_sign_intermediate(self, root_mount: str, csr: str, common_name: str, ttl: str) -> str:
        return self._write(f"{root_mount}/root/sign-intermediate", f"sign an intermediate with {root_mount}/",
                           csr=csr, common_name=common_name, ttl=ttl, format="pem_bundle")["certificate"]

    def pki_set_signed(self, mount: str, pem: str) -> None:
        self._write(f"{mount}/intermediate/set-signed", f"import the intermediate into {mount}/", certificate=pem)

    def pki_config_urls(self, mount: str, base: str) -> None:
        self._write(f"{mount}/config/urls", f"set the CA and CRL URLs of {mount}/",
                    issuing_certificates=[f"{base}/v1/{mount}/ca"], crl_distribution_points=[f"{base}/v1/{mount}/crl"])

    def pki_issue(self, mount: str, role: str, common_name: str, *, alt_names=(), ip_sans=(),
                  ttl: str | None = None) -> dict:
        """certificate, private_key, ca_chain, serial_number, expiration (the key is only ever in memory)."""
        from homelab.secrets import REDACTOR

        data = self._write(f"{mount}/issue/{role}", f"issue a certificate for {common_name}", common_name=common_name,
                           alt_names=",".join(alt_names), ip_sans=",".join(ip_sans), **({"ttl": ttl} if ttl else {}))
        if data.get("private_key"):
            REDACTOR.add(data["private_key"])
        return data

    def pki_revoke(self, mount: str, serial: str) -> dict:
        return self._write(f"{mount}/revoke", f"revoke certificate {serial}", serial_number=serial)

    def pki_crl(self, mount: str) -> str:
        return (self._read_data(f"{mount}/cert/crl", f"read the CRL of {mount}/") or {}).get("certificate") or ""

    def role_read(self, path: str) -> dict | None:
        """A PKI role (pki_int/roles/X) or a role of an auth method (auth/cert/certs/X), or None."""
        return self._read_data(path, f"read {path}")

    def role_write(self, path: str, params: dict) -> None:
        self._write(path, f"write {path}", **params)

    def approle_secret_id(self, role: str) -> str:
        from homelab.secrets import REDACTOR

        secret = self._write(f"auth/approle/role/{role}/secret-id", f"make a secret-id of AppRole {role}")["secret_id"]
        REDACTOR.add(secret)
        return secret
