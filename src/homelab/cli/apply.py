"""`homelab apply [FILE|PLAN.json] [-y] [--parallelism N] [--break-lock]`.

With a saved plan: apply exactly that plan (refused when stale). With a lab file: plan, show, ask
(`-y` skips the question; without a terminal and without -y it refuses). Progress goes to stderr
(rich on a terminal, plain lines otherwise). Exit 0 done, 1 stale plan/locked state, 3 an engine
failed (the failing resource and the tail of its output are shown), 130 interrupted.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import typer

from homelab.cli._output import FormatOption, check_format, emit, emit_json
from homelab.cli.plan import LabArg, StateDirOption, WorkdirOption, open_lab_session, show_plan

VERBS = {"create": "creating", "update": "updating", "delete": "destroying", "replace": "replacing"}
DONE = {"create": "created", "update": "updated", "delete": "destroyed", "replace": "replaced"}


class CliProgress:
    """Progress on stderr: one line per start/finish; coloured by rich on a terminal."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._lock = threading.Lock()
        self.console = None
        if self.tty:
            from rich.console import Console

            self.console = Console(file=self.stream, highlight=False)

    def _line(self, text: str, style: str | None = None) -> None:
        from homelab.secrets import REDACTOR

        text = REDACTOR(text)
        with self._lock:
            if self.console is not None:
                self.console.print(text, style=style, markup=False)
            else:
                self.stream.write(text + "\n")
                self.stream.flush()

    def start(self, change) -> None:
        self._line(f"{change.address}: {VERBS.get(change.action, change.action)}...")

    def finish(self, outcome) -> None:
        if outcome.status == "applied":
            self._line(f"{outcome.address}: {DONE.get(outcome.action, 'done')} ({outcome.seconds:.1f}s)", "green")
        elif outcome.status == "failed":
            self._line(f"{outcome.address}: FAILED: {outcome.message}", "bold red")
        # skipped and blocked resources are summarised per layer/cause at the end

    def message(self, text: str) -> None:
        self._line(f"  | {text}")


def is_plan_file(path: str) -> bool:
    """A saved plan is JSON with a `format_version`; a lab file (YAML, possibly written as JSON) is not."""
    p = Path(path)
    if p.suffix in (".yaml", ".yml") or not p.is_file():
        return False
    try:
        with p.open("rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    if p.suffix == ".json" and b'"version"' not in head:
        return True
    return head.lstrip()[:1] == b"{" and b'"format_version"' in head


def _plan_lab_file(plan, plan_path: str) -> str:
    """The lab file a saved plan was made from. The plan records it as given to `homelab plan`
    (relative to where that ran); from another directory, look beside the rendered repository (the
    default) and beside the plan file. Whatever is found must still match the plan's digest."""
    from homelab.errors import UsageError

    recorded = Path(plan.lab_file)
    if recorded.is_file():
        return plan.lab_file
    if not recorded.is_absolute():
        for base in (Path(plan.workdir), Path(plan_path).parent):
            candidate = base / recorded.name
            if candidate.is_file():
                return str(candidate)
    raise UsageError(f"the plan {plan_path} was made from {plan.lab_file}, which is not here",
                     "run `homelab apply` from the directory `homelab plan` ran in, or make a new plan here")


def confirm(yes: bool) -> None:
    from homelab.errors import UsageError

    if yes:
        return
    if not sys.stdin.isatty():
        raise UsageError("refusing to apply without confirmation: there is no terminal to ask on",
                         "review the plan and pass -y, or apply a saved plan (`homelab plan -o plan.json`)")
    answer = typer.prompt("Apply these changes? Only 'yes' is accepted", default="", show_default=False)
    if answer.strip() != "yes":
        emit("Apply cancelled.", sys.stderr)
        raise typer.Exit(1)


def print_report(report, fmt: str) -> None:
    if fmt == "json":
        emit_json(report.to_json())
        return
    err = sys.stderr
    skipped: dict[str, list[str]] = {}
    for o in report.of("skipped"):
        skipped.setdefault(o.message, []).append(o.address)
    for why, addrs in sorted(skipped.items()):
        emit(f"{why} — {len(addrs)} resource(s) not applied: {_few(addrs)}", err)
    by_address = {o.address: o for o in report.outcomes}
    blocked: dict[str, list[str]] = {}
    for o in report.of("blocked"):
        root = by_address.get(o.cause)
        if root is not None and root.status == "skipped":  # one line per skipped layer, not per resource
            why = f"not started: they depend on resources {root.message}"
        else:
            why = o.message
        blocked.setdefault(why, []).append(o.address)
    for why, addrs in sorted(blocked.items()):
        emit(f"{why} — {len(addrs)} dependent resource(s) not started: {_few(addrs)}", err)
    for o in report.failed:
        text = f"error: {o.address} failed: {o.message}"
        if o.output_tail:
            text += "\n  output (last lines):\n" + "\n".join("    " + ln for ln in o.output_tail.splitlines()[-20:])
        emit(text, err)
    emit(report.summary(), err if report.failed else None)
    if report.failed:
        emit("Fix the cause and run `homelab apply` again: what succeeded is recorded and will not run twice.", err)


def _few(addrs: list[str], n: int = 5) -> str:
    addrs = sorted(addrs)
    return ", ".join(addrs[:n]) + (f", and {len(addrs) - n} more" if len(addrs) > n else "")


def run_apply(session, plan, *, yes: bool, saved: bool, parallelism: int, break_lock: bool, fmt: str,
              verbose: bool = False) -> int:
    if not saved:
        show_plan(plan, fmt, verbose, stream=sys.stderr if fmt == "json" else None)
        if not plan.has_changes:
            return 0
        confirm(yes)
    report = session.apply(plan, parallelism=parallelism, progress=CliProgress(), break_lock=break_lock)
    print_report(report, fmt)
    return report.exit_code


def register(app: typer.Typer) -> None:
    @app.command()
    def apply(
        file: str = LabArg,
        yes: bool = typer.Option(False, "-y", "--yes", help="Do not ask for confirmation."),
        parallelism: int = typer.Option(1, "--parallelism", "-p", min=1, max=64,
                                        help="Independent resources of a batch applied at once."),
        break_lock: bool = typer.Option(False, "--break-lock", help="Break a stale state lock first."),
        fmt: str = FormatOption,
        state_dir: str = StateDirOption,
        out: str = WorkdirOption,
    ):
        """Apply a saved plan (PLAN.json), or plan the lab and apply it after confirmation."""
        check_format(fmt)
        from homelab.cli._output import load_or_exit
        from homelab.cli.up import check_clean

        if is_plan_file(file):
            from homelab.errors import UsageError
            from homelab.plan.model import Plan

            try:
                text = Path(file).read_text(encoding="utf-8")
            except OSError as exc:
                raise UsageError(f"cannot read the plan {file}: {exc.strerror}") from None
            plan = Plan.loads(text)
            doc = load_or_exit(_plan_lab_file(plan, file), fmt)
            check_clean(doc, fmt)
            session = open_lab_session(doc, state_dir=state_dir, workdir=out or plan.workdir)
            saved = True
        else:
            doc = load_or_exit(file, fmt)
            check_clean(doc, fmt)
            session = open_lab_session(doc, state_dir=state_dir, workdir=out)
            plan = session.plan()
            saved = False
        try:
            code = run_apply(session, plan, yes=yes, saved=saved, parallelism=parallelism,
                             break_lock=break_lock, fmt=fmt)
        finally:
            session.close()
        raise typer.Exit(code)
