"""`homelab secrets put|get|list PATH` — app secrets in Vault KV v2 (below vault.kv_mount).

Values are never taken from the command line: `put` prompts for each field with a hidden prompt
(getpass) on a terminal, or reads one line per field from stdin (or a JSON object with --json).
Without field names, `put` asks for the fields the lab's catalogue (vault.secrets) declares for PATH.
`get` shows field names and version; values only with --reveal. Vault address and token as for
`homelab vault` (see cli/vault.py). With `--user NAME` and a piped stdin, the first line is the
password and the values follow.
"""

from __future__ import annotations

import sys

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
)


def _api(lab, address, embedded, state_dir, keys_file, user, fmt):
    c = vault_ctx(lab, address, embedded, state_dir, keys_file, fmt)
    return c, login(c, user)


def _read_values(fields: list[str], as_json: bool) -> dict:
    from homelab.errors import UsageError
    from homelab.secrets import REDACTOR, Secret

    values: dict[str, Secret] = {}
    if as_json:
        import json

        try:
            data = json.loads(sys.stdin.read())
        except ValueError:
            raise UsageError("stdin is not a JSON object", 'pipe e.g. {"field": "value"}') from None
        if not isinstance(data, dict) or not all(isinstance(v, str | int | float | bool) for v in data.values()):
            raise UsageError("stdin must be a JSON object of field names to string values")
        wanted = fields or sorted(data)
        missing = [f for f in wanted if f not in data]
        if missing:
            raise UsageError(f"field(s) {', '.join(missing)} not in the JSON on stdin")
        for f in wanted:  # numbers and booleans as JSON writes them ("true", not Python's "True")
            v = data[f]
            values[f] = Secret(v if isinstance(v, str) else json.dumps(v))
            if not values[f].reveal():
                raise UsageError(f"empty value for {f}")
    else:
        if not fields:
            raise UsageError("name the fields to set", "homelab secrets put apps/plex claim_token")
        tty = sys.stdin is not None and sys.stdin.isatty()
        for f in fields:
            if tty:
                import getpass

                raw = getpass.getpass(f"value for {f}: ")
            else:
                line = sys.stdin.readline() if sys.stdin is not None else ""
                if not line:
                    raise UsageError(f"no value for {f} on stdin", "give one line per field, in order")
                raw = line.rstrip("\r\n")
            if not raw:
                raise UsageError(f"empty value for {f}")
            values[f] = Secret(raw)
    for v in values.values():
        REDACTOR.add(v)
    return values


secrets_app = typer.Typer(help="Put, get and list app secrets in Vault (values never on the command line).",
                          no_args_is_help=True)


@secrets_app.command()
def put(path: str = typer.Argument(..., help="Path below the KV mount, e.g. apps/plex."),
        fields: list[str] = typer.Argument(None, help="Field names (default: the catalogue's fields of PATH); "
                                           "values are prompted (or read from stdin, one line each)."),
        as_json: bool = typer.Option(False, "--json", help="Read a JSON object of field -> value from stdin."),
        lab: str = LabOption, address: str = AddressOption, embedded: bool = EmbeddedOption,
        state_dir: str = StateDirOption, keys_file: str = KeysOption, user: str = UserOption,
        fmt: str = FormatOption):
    """Write fields of a secret (a new KV version; other fields are kept)."""
    from homelab.ops import secrets_kv

    c, api = _api(lab, address, embedded, state_dir, keys_file, user, fmt)
    fields = list(fields or [])
    if not fields and not as_json:  # the catalogue's fields, prompted (or read from stdin) in its order
        fields = secrets_kv.catalogue_fields(c.doc.lab, path)
    values = _read_values(fields, as_json)
    version = secrets_kv.put(api, path, values)
    if fmt == "json":
        emit_json({"path": path.strip("/"), "version": version, "fields": sorted(values)})
    else:
        emit(f"{c.doc.lab.vault.kv_mount}/{path.strip('/')}: version {version} "
             f"(set {', '.join(sorted(values))})")

@secrets_app.command()
def get(path: str = typer.Argument(..., help="Path below the KV mount."),
        reveal: bool = typer.Option(False, "--reveal", help="Print the values (otherwise only field names)."),
        field: str = typer.Option(None, "--field", help="Only this field (with --reveal: its bare value)."),
        version: int = typer.Option(None, "--version", help="A past version (KV v2 keeps them)."),
        lab: str = LabOption, address: str = AddressOption, embedded: bool = EmbeddedOption,
        state_dir: str = StateDirOption, keys_file: str = KeysOption, user: str = UserOption,
        fmt: str = FormatOption):
    """Show a secret's fields and version; values only with --reveal."""
    from homelab.errors import UsageError
    from homelab.ops import secrets_kv

    c, api = _api(lab, address, embedded, state_dir, keys_file, user, fmt)
    view = secrets_kv.get(api, path, version)
    if field is not None:
        if field not in view.values:
            raise UsageError(f"{path} has no field {field!r}", "fields: " + ", ".join(view.fields))
        view.fields = [field]
        view.values = {field: view.values[field]}
    out = sys.stdout
    if fmt == "json":
        import json

        # Values appear only with --reveal, which is why this bypasses the redactor.
        out.write(json.dumps(view.to_json(reveal), indent=2, sort_keys=True) + "\n")
        return
    if reveal:
        if field is not None:
            out.write(view.values[field].reveal() + "\n")
            return
        out.write(f"{c.doc.lab.vault.kv_mount}/{view.path} (version {view.version})\n")
        for k in view.fields:
            out.write(f"{k}={view.values[k].reveal()}\n")
        return
    emit(f"{c.doc.lab.vault.kv_mount}/{view.path} (version {view.version}"
         + (f", created {view.created_time}" if view.created_time else "") + ")")
    for k in view.fields:
        emit(f"  {k}")
    emit("  (values hidden; add --reveal to print them)")

@secrets_app.command("list")
def list_(path: str = typer.Argument("", help="Path below the KV mount (default: the top)."),
          lab: str = LabOption, address: str = AddressOption, embedded: bool = EmbeddedOption,
          state_dir: str = StateDirOption, keys_file: str = KeysOption, user: str = UserOption,
          fmt: str = FormatOption):
    """List the keys below a path."""
    from homelab.ops import secrets_kv

    c, api = _api(lab, address, embedded, state_dir, keys_file, user, fmt)
    keys = secrets_kv.list_keys(api, path)
    if fmt == "json":
        emit_json({"path": path.strip("/"), "keys": keys})
        return
    for k in keys:
        emit(k)


def register(app: typer.Typer) -> None:
    app.add_typer(secrets_app, name="secrets")
