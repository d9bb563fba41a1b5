"""Where Vault is and how homelab gets in: the ONE place that resolves the target (embedded or a URL,
the keys file, the token) for the engine, the day-2 workflows and the commands.

Address, first match wins:
  1. `--address URL|embedded` (command-line option),
  2. `HOMELAB_VAULT_ADDR` (environment; URL or `embedded`),
  3. `--embedded` or `HOMELAB_VAULT_EMBEDDED=1` (what `make run` uses to keep the reference lab's real
     address out of the way),
  4. `vault.address` from the lab file.
"embedded" means the local OpenBao started by `homelab vault up`; its URL is read from
`<state dir>/vault/address`.

State directory: `--state-dir`, else `HOMELAB_STATE_DIR`, else `.homelab` in the current directory.
Keys file: `--keys-file`, else `HOMELAB_VAULT_KEYS_FILE`, else `<state dir>/vault/init-keys.json`.

Token, first match wins:
  1. `--user NAME`: a userpass login; the password is read with a hidden prompt (or one line of stdin
     when stdin is not a terminal) — never from the command line;
  2. `VAULT_TOKEN` (environment);
  3. the keys file: the admin user's credentials if `configure --revoke-root` stored them there,
     else the initial root token.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from homelab.engines.vault.client import ClientFactory, VaultApi, VaultError, VaultTokenError, hvac_client
from homelab.engines.vault.server import running_address
from homelab.errors import EngineError, StateError, UsageError
from homelab.lab.tls import vault_verify
from homelab.lab.vault_access import EMBEDDED
from homelab.secrets import REDACTOR, Secret

ENV_ADDR = "HOMELAB_VAULT_ADDR"
ENV_EMBEDDED = "HOMELAB_VAULT_EMBEDDED"
ENV_STATE = "HOMELAB_STATE_DIR"
ENV_KEYS = "HOMELAB_VAULT_KEYS_FILE"


class VaultNotRunningError(VaultError):
    """The embedded server is not running."""


class KeysFileError(StateError):
    """The keys file is missing, unreadable, insecure or would be overwritten."""


@dataclass(frozen=True)
class VaultTarget:
    address: str  # URL ("" when embedded and not running, with require_running=False)
    embedded: bool
    state_dir: Path
    keys_file: Path
    verify: bool | str = True  # False, True, or the CA file to verify against

    @property
    def vault_dir(self) -> Path:
        return self.state_dir / "vault"


def state_dir_for(state_dir: str | os.PathLike | None = None) -> Path:
    return Path(state_dir or os.environ.get(ENV_STATE) or ".homelab")


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def address_spec(lab, address: str | None = None, embedded: bool = False) -> str:
    """`embedded` or the URL, by the precedence in the module doc."""
    spec = address or os.environ.get(ENV_ADDR) or (EMBEDDED if embedded or _truthy(os.environ.get(ENV_EMBEDDED))
                                                    else lab.vault.address)
    spec = spec.strip()
    if spec != EMBEDDED and not spec.startswith(("http://", "https://")):
        raise UsageError(f"invalid Vault address {spec!r}", "give a URL like https://vault.example:8200 or 'embedded'")
    return spec.rstrip("/")


def resolve_target(lab, *, address: str | None = None, embedded: bool = False,
                   state_dir: str | os.PathLike | None = None, keys_file: str | os.PathLike | None = None,
                   require_running: bool = True) -> VaultTarget:
    sdir = state_dir_for(state_dir)
    kfile = Path(keys_file or os.environ.get(ENV_KEYS) or sdir / "vault" / "init-keys.json")
    spec = address_spec(lab, address, embedded)
    if spec == EMBEDDED:
        url = running_address(sdir)
        if url is None and require_running:
            raise VaultNotRunningError("the embedded Vault is not running",
                                       "start it with `homelab vault up`")
        return VaultTarget(url or "", True, sdir, kfile, True)
    # VAULT_CACERT (what the Vault CLI reads; the README exports it) names the CA file requests verifies
    # against; requests' own bundle (certifi) does not know the lab's internal CA.
    verify: bool | str = vault_verify(lab) and (os.environ.get("VAULT_CACERT") or True)
    return VaultTarget(spec, False, sdir, kfile, verify)


# --------------------------------------------------------------------------------------- keys file


def register_secrets(data) -> None:
    """Teach the redactor every secret string in a keys-file structure."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key in ("keys", "keys_base64", "root_token", "admin_password", "password"):
                register_secrets_value(value)
            else:
                register_secrets(value)
    elif isinstance(data, list):
        for v in data:
            register_secrets(v)


def register_secrets_value(value) -> None:
    if isinstance(value, list):
        for v in value:
            register_secrets_value(v)
    elif isinstance(value, str):
        REDACTOR.add(value)


def reserve_keys_file(path: Path) -> int:
    """Create the keys file empty, exclusively, mode 0600 from the first byte. Returns the fd."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeysFileError(f"keys file {path} already exists; refusing to overwrite it",
                            "keep it safe; choose another file with --keys-file") from None
    except OSError as exc:
        raise KeysFileError(f"cannot create keys file {path}: {exc.strerror}") from None


def write_fd_json(fd: int, data: dict) -> None:
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())


def replace_keys_file(path: Path, data: dict) -> None:
    """Atomically replace the keys file (new file created 0600 exclusively, then renamed)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    write_fd_json(fd, data)
    os.replace(tmp, path)


def read_keys_file(path: Path) -> dict:
    if not path.exists():
        raise KeysFileError(f"keys file {path} does not exist",
                            "pass the file `homelab vault init` wrote with --keys-file (or set HOMELAB_VAULT_KEYS_FILE)")
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise KeysFileError(f"keys file {path} is readable by others (mode {mode:04o}); refusing to use it",
                            f"restrict it: chmod 600 {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise KeysFileError(f"keys file {path} is not a readable JSON keys file",
                            "restore it from your backup of the keys") from None
    if not isinstance(data, dict):
        raise KeysFileError(f"keys file {path} is not a keys file")
    register_secrets(data)
    return data


# --------------------------------------------------------------------------------------- token


def read_password(prompt: str) -> str:
    """A hidden prompt on a terminal, else one line of stdin. Never argv."""
    if sys.stdin is not None and sys.stdin.isatty():
        import getpass

        value = getpass.getpass(prompt)
    else:
        value = (sys.stdin.readline() if sys.stdin is not None else "").rstrip("\r\n")
    if not value:
        raise UsageError("no password given", "type it at the prompt or pipe it on stdin")
    REDACTOR.add(value)
    return value


def authenticate(target: VaultTarget, lab, *, user: str | None = None, factory: ClientFactory = hvac_client,
                 password: str | None = None, check_ready: bool = True) -> VaultApi:
    """An authenticated VaultApi, following the documented token precedence.

    With check_ready (the default) Vault must answer, be initialised and unsealed first, so the user
    hears about the real problem (sealed, not initialised, unreachable) before any token question."""
    if not target.address:
        raise VaultNotRunningError("the embedded Vault is not running", "start it with `homelab vault up`")
    api = VaultApi(target.address, verify=target.verify, factory=factory, kv_mount=lab.vault.kv_mount)
    if check_ready:
        api.require_ready()
    if user:
        pw = password if password is not None else read_password(f"Vault password for {user}: ")
        REDACTOR.add(pw)
        token = api.login_userpass(user, pw)
        REDACTOR.add(token)
        return api.with_token(token)
    env_token = os.environ.get("VAULT_TOKEN")
    if env_token:
        REDACTOR.add(env_token)
        return api.with_token(env_token)
    if not target.keys_file.exists():
        raise VaultTokenError(
            f"no Vault token: VAULT_TOKEN is not set and the keys file {target.keys_file} does not exist",
            "set VAULT_TOKEN, log in with --user NAME, or pass --keys-file")
    keys = read_keys_file(target.keys_file)
    admin = keys.get("admin") or {}
    if admin.get("user") and admin.get("password"):
        token = api.login_userpass(admin["user"], admin["password"])
        REDACTOR.add(token)
        return api.with_token(token)
    if keys.get("root_token"):
        return api.with_token(keys["root_token"])
    raise VaultTokenError(f"the keys file {target.keys_file} holds no usable credentials",
                          "set VAULT_TOKEN or log in with --user NAME")


# --------------------------------------------------------------------------------------- for engines


def target_for(ctx, *, require_running: bool = True) -> VaultTarget:
    """The target of an engine run: the context's state directory, and the overrides a command put in
    `ctx.options` (`vault_address`, `vault_keys_file`)."""
    return resolve_target(ctx.doc.lab, address=ctx.options.get("vault_address"), state_dir=ctx.state_dir,
                          keys_file=ctx.options.get("vault_keys_file"), require_running=require_running)


def api_for(ctx, *, factory: ClientFactory = hvac_client) -> VaultApi:
    """An authenticated client for an engine run: the token a command logged in with
    (`ctx.options["vault_token"]`, a Secret), else the usual precedence (`authenticate`)."""
    target = target_for(ctx)
    token = ctx.options.get("vault_token")
    if token is not None:
        api = VaultApi(target.address, verify=target.verify, factory=factory, kv_mount=ctx.doc.lab.vault.kv_mount)
        api.require_ready()
        return api.with_token(token.reveal())
    return authenticate(target, ctx.doc.lab, factory=factory)


def secret_reader(doc, state_dir, options: dict | None = None):
    """A lazy `(path, field) -> Secret` reading Vault KV v2 the way the vault commands do (same address,
    keys file and token precedence). Nothing is contacted until the first read."""
    cache: dict = {}

    def read(path: str, field: str) -> Secret:
        if "api" not in cache:
            target = resolve_target(doc.lab, state_dir=state_dir, address=(options or {}).get("vault_address"),
                                    keys_file=(options or {}).get("vault_keys_file"))
            cache["api"] = authenticate(target, doc.lab)
        got = cache["api"].kv_read(path)
        if got is None or field not in got[0]:
            raise EngineError(f"Vault has no value for {path}#{field}",
                              f"set it with `homelab secrets put {path}` (or generate it with the vault layer)")
        value = Secret(got[0][field])
        REDACTOR.add(value)
        return value

    return read
