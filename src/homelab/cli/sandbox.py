from __future__ import annotations

import typer

from homelab.cli._output import check_format, emit, emit_json
from homelab.cli.options import FormatOption

sandbox_app = typer.Typer(help="Isolated test hosts on this machine (network namespaces + sshd). Needs root.",
                          no_args_is_help=True)

DEFAULT_DIR = ".homelab/sandbox"


@sandbox_app.command("up")
def up(
    hosts: str = typer.Option("host1,host2,host3", "--hosts", help="Comma-separated host names."),
    workdir: str = typer.Option(DEFAULT_DIR, "--dir", help="Where the SSH key and state are kept."),
    subnet: str = typer.Option(None, "--subnet", help="Private test subnet (default 10.213.0.0/24)."),
    timeout: float = typer.Option(180, "--timeout", help="Seconds to wait (the first run builds a root fs)."),
):
    """Start test hosts in the background; `homelab sandbox down` stops them."""
    import json
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    from homelab.errors import UsageError
    from homelab.sandbox.hosts import SandboxError, require_root, sweep_stale

    require_root()
    sweep_stale(emit)
    names = [h.strip() for h in hosts.split(",") if h.strip()]
    if not names or len(set(names)) != len(names):
        raise UsageError("--hosts needs distinct, non-empty names")
    wd = Path(workdir).resolve()
    state = wd / "sandbox.json"
    if state.exists() and _holder_alive(wd):
        raise UsageError(f"a sandbox is already running in {workdir}", "run `homelab sandbox down` first")
    wd.mkdir(parents=True, exist_ok=True)
    (wd / "holder-status.json").unlink(missing_ok=True)
    args = [sys.executable, "-m", "homelab.sandbox.holder", "--workdir", str(wd), "--hosts", ",".join(names)]
    if subnet:
        args += ["--subnet", subnet]
    log = open(wd / "holder.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    (wd / "holder.pid").write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + timeout
    status_file = wd / "holder-status.json"
    while time.monotonic() < deadline and not status_file.exists():
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    if not status_file.exists():
        os.killpg(proc.pid, 15) if proc.poll() is None else None
        raise SandboxError("the sandbox did not come up", f"see {wd / 'holder.log'}")
    status = json.loads(status_file.read_text())
    if not status["ok"]:
        raise SandboxError(f"the sandbox failed to start: {status['error']}")
    _print_state(json.loads(state.read_text()), "text")


def _holder_alive(wd) -> bool:
    import os

    try:
        pid = int((wd / "holder.pid").read_text())
        os.kill(pid, 0)
        return True
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return False


def _print_state(state: dict, fmt: str) -> None:
    if fmt == "json":
        emit_json(state)
        return
    emit(f"sandbox {state['tag']} on {state['subnet']} (controller {state['controller_ip']}), key {state['key_file']}")
    for name, host in sorted(state["hosts"].items()):
        emit(f"  {name:<12} {host['ip']:<15} ssh -i {state['key_file']} root@{host['ip']}")


@sandbox_app.command("down")
def down(workdir: str = typer.Option(DEFAULT_DIR, "--dir")):
    """Stop the test hosts and remove every namespace, interface and file they used."""
    import os
    import signal
    import time
    from pathlib import Path

    from homelab.sandbox.hosts import sweep_stale

    wd = Path(workdir).resolve()
    stopped = False
    if _holder_alive(wd):
        pid = int((wd / "holder.pid").read_text())
        os.kill(pid, signal.SIGTERM)
        for _ in range(300):
            if not _holder_alive(wd):
                break
            time.sleep(0.1)
        stopped = True
    removed = sweep_stale()
    (wd / "holder.pid").unlink(missing_ok=True)
    emit("sandbox stopped" if stopped else ("removed a stale sandbox" if removed else "no sandbox was running"))


@sandbox_app.command("status")
def status(workdir: str = typer.Option(DEFAULT_DIR, "--dir"), fmt: str = FormatOption):
    """Show the running test hosts."""
    import json
    from pathlib import Path

    check_format(fmt)
    wd = Path(workdir).resolve()
    if not (wd / "sandbox.json").exists() or not _holder_alive(wd):
        emit_json({"running": False}) if fmt == "json" else emit("no sandbox is running")
        raise typer.Exit(1)
    _print_state(json.loads((wd / "sandbox.json").read_text()), fmt)


def register(app: typer.Typer) -> None:
    app.add_typer(sandbox_app, name="sandbox")
