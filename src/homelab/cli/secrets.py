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


# ---------------------------------------------------------------------------- scan and purge (git)
ScanFormatOption = typer.Option("text", "--format", "-f", help="Output format: text, json or sarif.")


def _scan_rules():
    from dataclasses import dataclass as _dc

    from homelab.diagnostics import Severity
    from homelab.scan.detectors import DETECTORS

    @_dc(frozen=True)
    class _Rule:
        id: str
        severity: Severity
        summary: str

    return [_Rule(f"secret-{d.id}", Severity.ERROR, f"a {d.summary} in the repository") for d in DETECTORS]


@secrets_app.command()
def scan(repo: str = typer.Argument(".", help="The repository (working tree and whole git history)."),
         no_history: bool = typer.Option(False, "--no-history", help="Only the working tree."),
         fmt: str = ScanFormatOption):
    """Scan a repository's working tree and whole git history for secrets (Vault and K3s tokens, Proxmox
    token secrets, private keys, cloud keys, passwords). Exit 1 when something is found."""
    from pathlib import Path

    from homelab.cli._output import CURRENT
    from homelab.errors import UsageError
    from homelab.scan.scanner import scan as run

    if fmt not in ("text", "json", "sarif"):
        raise UsageError(f"unknown format {fmt!r}", "use --format text, json or sarif")
    CURRENT["format"] = "json" if fmt != "text" else "text"
    if not Path(repo).is_dir():
        raise UsageError(f"{repo} is not a directory")
    found = run(repo, history=not no_history)
    if fmt == "sarif":
        from homelab import __version__
        from homelab.diagnostics import Location, Severity
        from homelab.validate.base import ValidateDiagnostic
        from homelab.validate.sarif import to_sarif

        diags = [ValidateDiagnostic(f"secret-{f.rule}", Severity.ERROR, f"{f.preview} (secret id {f.id})"
                                    + (f" in commit {f.commit}" if f.commit else ""), Location(f.file, f.line, 1),
                                    "remove it, rotate it, and purge it from history") for f in found]
        emit_json(to_sarif(diags, _scan_rules(), tool="homelab secrets scan", version=__version__))
    elif fmt == "json":
        emit_json({"repo": repo, "findings": [f.to_json() for f in found]})
    else:
        for f in found:
            where = f"{f.file}:{f.line}" + (f" (commit {f.commit[:12]})" if f.commit else "")
            emit(f"{where}: error[secret-{f.rule}]: {f.preview}, id {f.id}\n  hint: "
                 + ("rotate it, then `homelab secrets purge --finding " + f.id + "` rewrites history"
                    if f.commit else "move it to Vault (`homelab secrets put`) and reference it by path"))
        emit(f"{repo}: {len(found)} secret(s) found" if found else f"{repo}: no secrets found",
             sys.stderr if found else None)
    raise typer.Exit(1 if found else 0)


@secrets_app.command()
def purge(pattern: str = typer.Argument(None, help="A literal string to remove from history (prefer --finding: "
                                        "a pattern on the command line lands in your shell history)."),
          finding: list[str] = typer.Option(None, "--finding", help="The id of a `secrets scan` finding (repeatable)."),
          repo: str = typer.Option(".", "--repo", help="The repository."),
          yes: bool = typer.Option(False, "-y", "--yes", help="Do not ask before rewriting history.")):
    """Rewrite git history without the secret (git-filter-repo), keeping a backup ref; scans again after."""
    from homelab.errors import UsageError
    from homelab.scan.purge import purge as run
    from homelab.scan.scanner import scan as scan_repo

    secrets_: list[str] = [pattern] if pattern else []
    if finding:
        by_id: dict[str, str] = {}
        for f in scan_repo(repo):
            by_id.setdefault(f.id, f._secret)
        missing = [i for i in finding if i not in by_id]
        if missing:
            raise UsageError(f"no finding with id {', '.join(missing)}", "run `homelab secrets scan` for the ids")
        secrets_ += [by_id[i] for i in finding]
    if not secrets_:
        raise UsageError("name what to purge", "homelab secrets purge --finding ID (ids from `homelab secrets scan`)")
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError("refusing to rewrite history without confirmation", "pass -y")
        if typer.prompt("Rewrite every branch and tag of this repository? Only 'yes' is accepted",
                        default="", show_default=False).strip() != "yes":
            raise typer.Exit(1)
    result = run(repo, secrets_)
    emit(f"history rewritten ({len(result.refs)} refs); backup of the old refs: {result.backup}/")
    if result.remaining:
        for f in result.remaining:
            emit(f"still present: {f.where()}", sys.stderr)
        raise typer.Exit(1)
    emit(f"a new scan finds none of the {result.removed} purged secret(s).")
    emit("ROTATE what leaked: anyone who cloned or fetched before still has it. Then push with --force, "
         f"and once you have checked the result delete the backup: git for-each-ref --format='%(refname)' "
         f"{result.backup}/ | xargs -n1 git update-ref -d; git gc --prune=now")
