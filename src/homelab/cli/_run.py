"""What the commands that plan and apply share: a session with progress on stderr, showing a plan,
asking for confirmation, printing an apply report. Printing only; the work is in homelab.apply/ops."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import typer

from homelab.cli._output import emit, emit_json

VERBS = {"create": "creating", "update": "updating", "delete": "destroying", "replace": "replacing"}
DONE = {"create": "created", "update": "updated", "delete": "destroyed", "replace": "replaced"}


def open_session(doc, *, state_dir=None, workdir=None, options=None):
    from homelab.ops.pipeline import session_for

    return session_for(doc, state_dir=state_dir, workdir=workdir, options=options,
                       progress=lambda message: emit(f"  | {message}", sys.stderr))


def warn_findings(diags, fmt: str) -> None:
    """Warnings of a lab that checks clean, shown before a command goes on (text mode only)."""
    if diags and fmt != "json":
        from homelab.cli._output import print_diagnostics

        print_diagnostics(diags, stream=sys.stderr)


def show_plan(plan, fmt: str = "text", verbose: bool = False, stream=None) -> None:
    from homelab.plan.show import render_json, render_text

    emit(render_json(plan) if fmt == "json" else render_text(plan, verbose=verbose), stream)


def write_plan_file(plan, path: str) -> None:
    from homelab.errors import UsageError
    from homelab.lab.edit import write_atomic

    target = Path(path)
    if target.parent and not target.parent.exists():
        raise UsageError(f"cannot write the plan to {path}: {target.parent} does not exist")
    write_atomic(target, plan.dumps())


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


def confirm(yes: bool, *, doing: str = "apply", question: str = "Apply these changes?",
            hint: str = "review the plan and pass -y, or apply a saved plan (`homelab plan -o plan.json`)") -> None:
    from homelab.errors import UsageError

    if yes:
        return
    if not sys.stdin.isatty():
        raise UsageError(f"refusing to {doing} without confirmation: there is no terminal to ask on", hint)
    answer = typer.prompt(f"{question} Only 'yes' is accepted", default="", show_default=False)
    if answer.strip() != "yes":
        emit(f"{doing.capitalize()} cancelled.", sys.stderr)
        raise typer.Exit(1)


def _few(addrs: list[str], n: int = 5) -> str:
    addrs = sorted(addrs)
    return ", ".join(addrs[:n]) + (f", and {len(addrs) - n} more" if len(addrs) > n else "")


def _print_not_run(report, err) -> None:
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


def print_report(report, fmt: str) -> None:
    if fmt == "json":
        emit_json(report.to_json())
        return
    err = sys.stderr
    _print_not_run(report, err)
    for o in report.failed:
        text = f"error: {o.address} failed: {o.message}"
        if o.output_tail:
            text += "\n  output (last lines):\n" + "\n".join("    " + ln for ln in o.output_tail.splitlines()[-20:])
        emit(text, err)
    emit(report.summary(), err if report.failed else None)
    if report.failed:
        emit("Fix the cause and run `homelab apply` again: what succeeded is recorded and will not run twice.", err)


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


def commit_and_plan(doc, new_text: str, *, summary: str, render: bool, out: str | None, state_dir: str | None,
                    fmt: str, verbose: bool = False) -> None:
    """Write the edit (ops/edit_lab.py: validated and rendered first, or nothing is written), then plan."""
    from homelab.ops.edit_lab import commit_edit

    committed = commit_edit(doc, new_text, render=render, out=out)
    stream = sys.stderr if fmt == "json" else None
    if committed.rendered is not None and fmt != "json":
        r = committed.rendered
        emit(f"render: {r.out_dir}: {len(r.files)} files ({len(r.report.created)} created, "
             f"{len(r.report.updated)} updated, {len(r.report.removed)} removed, {len(r.report.unchanged)} "
             "unchanged)", stream)
    emit(summary, stream)
    session = open_session(committed.doc, state_dir=state_dir, workdir=committed.workdir)
    try:
        plan = session.plan()
    finally:
        session.close()
    show_plan(plan, fmt, verbose)
    if fmt != "json":
        emit("Run `homelab apply` to make it so.")


def show_steps(steps, fmt: str, title: str) -> None:
    """The order a cluster day-2 command will apply its nodes in (stderr, text mode)."""
    if fmt == "json":
        return
    emit(title, sys.stderr)
    for i, step in enumerate(steps, 1):
        emit(f"  {i}. {step.address} ({step.ip or 'no address'}): {step.what}", sys.stderr)


def show_cluster_run(run, fmt: str, done: str) -> None:
    if fmt == "json":
        emit_json(run.to_json())
        return
    changed = ", ".join(f"{h}={n}" for h, n in sorted(run.changed.items())) or "nothing"
    emit(f"{done}; changed: {changed}")
    if run.kubeconfig:
        emit(f"kubeconfig: {run.kubeconfig}")


def run_k3s_command(doc, steps, *, title: str, done: str, options: dict, out, state_dir, fmt: str, work) -> None:
    """What `cluster bootstrap` and `node join` share: check, render, show the order, apply the
    targeted plan (`work(session)`), print the result."""
    from homelab.ops.pipeline import render_into, require_clean

    warn_findings(require_clean(doc), fmt)
    rendered = render_into(doc, out)
    if fmt != "json":
        emit(f"render: {rendered.out_dir}: {len(rendered.files)} files", sys.stderr)
    show_steps(steps, fmt, title)
    session = open_session(doc, state_dir=state_dir, workdir=rendered.out_dir, options=options)
    try:
        run = work(session)
    finally:
        session.close()
    show_cluster_run(run, fmt, done)
