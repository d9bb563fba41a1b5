"""`homelab state list|show ADDRESS|history|unlock [--force]`: inspect the local state (never secrets)."""

from __future__ import annotations

import time

import typer

from homelab.cli._output import check_format, emit, emit_json
from homelab.cli.options import FormatOption, StateDirOption


def _store(state_dir):
    from homelab.apply import state_dir_for
    from homelab.errors import StateError
    from homelab.state.store import StateStore

    sdir = state_dir_for(state_dir)
    if not (sdir / "state.db").exists():
        raise StateError(f"no state in {sdir} (nothing was applied yet)",
                         "run `homelab apply`, or pass --state-dir / set HOMELAB_STATE_DIR")
    return StateStore(sdir)


state_app = typer.Typer(help="Inspect the local state (.homelab/state.db) and its lock.", no_args_is_help=True)


@state_app.command("list")
def list_(fmt: str = FormatOption, state_dir: str = StateDirOption):
    """Every applied resource, with the serial it was recorded at."""
    check_format(fmt)
    store = _store(state_dir)
    try:
        resources, serial = store.resources(), store.serial()
    finally:
        store.close()
    if fmt == "json":
        emit_json({"serial": serial, "resources": [
            {"address": r.address, "layer": r.layer, "engine": r.engine, "serial": r.serial}
            for r in resources.values()]})
        return
    for r in resources.values():
        emit(f"{r.address}  (serial {r.serial})")
    emit(f"{len(resources)} resource(s), state serial {serial}")

@state_app.command("show")
def show(address: str, fmt: str = FormatOption, state_dir: str = StateDirOption):
    """One resource's recorded attributes (non-secret by construction)."""
    check_format(fmt)
    from homelab.errors import UsageError

    store = _store(state_dir)
    try:
        r = store.get(address)
    finally:
        store.close()
    if r is None:
        raise UsageError(f"{address} is not in the state", "list what is with `homelab state list`")
    data = {"address": r.address, "layer": r.layer, "engine": r.engine, "attrs": r.attrs, "outputs": r.outputs,
            "depends_on": list(r.depends_on), "lab_digest": r.lab_digest, "serial": r.serial}
    emit_json(data)

@state_app.command("history")
def history(limit: int = typer.Option(50, "--limit", "-n"), fmt: str = FormatOption,
            state_dir: str = StateDirOption):
    """The last writes to the state, newest first."""
    check_format(fmt)
    store = _store(state_dir)
    try:
        rows = store.history(limit)
    finally:
        store.close()
    if fmt == "json":
        emit_json(rows)
        return
    for h in rows:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(h["at"]))
        emit(f"{h['serial']:>6}  {when}  {h['action']:<8} {h['address']}")

@state_app.command("unlock")
def unlock(force: bool = typer.Option(False, "--force", help="Break the lock even if its holder may be alive."),
           state_dir: str = StateDirOption):
    """Show the apply lock; with --force, break it."""
    from homelab.errors import StateError

    store = _store(state_dir)
    try:
        held = store.lock_info()
        if held is None:
            emit("the state is not locked")
            return
        if not force:
            kind = "stale (its process is gone)" if held.stale else "held"
            raise StateError(f"the state lock is {kind}: {held.describe()}",
                             "break it with `homelab state unlock --force` if no apply is running")
        store.break_lock()
        emit(f"broke the state lock of {held.describe()}")
    finally:
        store.close()


def register(app: typer.Typer) -> None:
    app.add_typer(state_app, name="state")
