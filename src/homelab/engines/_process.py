"""The process-runner seam every engine that runs a command uses.

- argv only, never a shell; secrets go in the environment overlay, never in argv (the runner refuses
  an argv that contains a value the redactor knows);
- the child runs in its own session/process group, so a timeout or Ctrl-C kills the whole group
  (terraform's provider plugins included), SIGTERM first, SIGKILL after a grace period;
- output is read line by line; every line passes through the redactor before it is handed to the
  `on_line` callback (progress display) or kept in the bounded tail;
- `run()` returns a `ProcessResult` that unpacks as `(rc, tail)`; with `capture_stdout=True` the
  full (redacted) stdout is kept separately in `.stdout` for machine-readable output (e.g.
  `terraform show -json`), and stderr alone feeds the tail.

`ProcessRunner.history` records every invocation (argv, cwd, the *names* of the overlay variables,
rc) so tests can assert what was run; it never records an environment value.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from homelab.errors import EngineError
from homelab.secrets import Redactor

DEFAULT_TAIL_LINES = 60
DEFAULT_TAIL_CHARS = 8000
KILL_GRACE_SECONDS = 5.0
_HISTORY_LOCK = threading.Lock()


@dataclass
class ProcessResult:
    rc: int
    tail: str  # redacted, bounded: the last lines of output
    stdout: str | None = None  # full redacted stdout, only with capture_stdout=True

    def __iter__(self) -> Iterator:  # `rc, tail = runner.run(...)`
        return iter((self.rc, self.tail))


@dataclass(frozen=True)
class Invocation:
    argv: tuple[str, ...]
    cwd: str | None
    env_keys: tuple[str, ...]  # names of the overlay variables (never their values)
    rc: int | None = None


class ProcessTimeout(EngineError):
    """The command ran past its timeout; its process group was killed."""


class _Tail:
    def __init__(self, max_lines: int, max_chars: int):
        self._lines: deque[str] = deque(maxlen=max_lines)
        self._max_chars = max_chars
        self._lock = threading.Lock()

    def add(self, line: str) -> None:
        with self._lock:
            self._lines.append(line)

    def text(self) -> str:
        with self._lock:
            text = "\n".join(self._lines)
        if len(text) > self._max_chars:
            text = "…" + text[-self._max_chars:]
        return text


def _kill_group(proc: subprocess.Popen, grace: float) -> None:
    """SIGTERM the child's process group, then SIGKILL whatever is left after `grace` seconds."""
    try:
        pgid = os.getpgid(proc.pid)
    except ProcessLookupError:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, grace)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        # the leader is gone; make sure no straggler of the group survives
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return


@dataclass
class ProcessRunner:
    """Runs commands for engines. One instance may be shared; `history` is append-only."""

    redactor: Redactor = field(default_factory=Redactor)
    tail_lines: int = DEFAULT_TAIL_LINES
    tail_chars: int = DEFAULT_TAIL_CHARS
    kill_grace: float = KILL_GRACE_SECONDS
    history: list[Invocation] = field(default_factory=list)

    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: str | Path | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
        on_line: Callable[[str], None] | None = None,
        capture_stdout: bool = False,
        redactor: Redactor | None = None,
    ) -> ProcessResult:
        redact = redactor or self.redactor
        argv = [os.fspath(a) for a in argv]
        if not argv:
            raise ValueError("empty argv")
        for arg in argv:
            if redact(arg) != arg:
                raise ValueError("refusing to run a command with a secret value in its argv; pass it in env")
        overlay = dict(env or {})
        full_env = {**os.environ, **overlay}
        record = Invocation(tuple(argv), os.fspath(cwd) if cwd is not None else None, tuple(sorted(overlay)))
        with _HISTORY_LOCK:  # engines may run units on several threads
            self.history.append(record)
            index = len(self.history) - 1

        tail = _Tail(self.tail_lines, self.tail_chars)
        stdout_lines: list[str] = []

        def pump(stream, keep: list[str] | None) -> None:
            for raw in iter(stream.readline, ""):
                line = redact(raw.rstrip("\r\n"))
                if keep is not None:
                    keep.append(line)
                    continue
                tail.add(line)
                if on_line is not None:
                    try:
                        on_line(line)
                    except Exception:  # noqa: BLE001 - a broken progress display must not kill the run
                        pass
            stream.close()

        try:
            proc = subprocess.Popen(  # noqa: S603 - argv list, no shell
                argv,
                cwd=cwd,
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE if capture_stdout else subprocess.STDOUT,
                text=True,
                encoding="utf-8",
                errors="replace",
                start_new_session=True,  # own process group: killable as a whole
            )
        except FileNotFoundError as exc:
            raise EngineError(f"cannot run {argv[0]}: not found", hint="is it installed and on PATH?") from exc
        except PermissionError as exc:
            raise EngineError(f"cannot run {argv[0]}: permission denied") from exc

        threads = [threading.Thread(target=pump, args=(proc.stdout, stdout_lines if capture_stdout else None),
                                    daemon=True)]
        if capture_stdout:
            threads.append(threading.Thread(target=pump, args=(proc.stderr, None), daemon=True))
        for t in threads:
            t.start()

        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                try:
                    rc = proc.wait(timeout=remaining if remaining is None else min(remaining, 0.5))
                    break
                except subprocess.TimeoutExpired:
                    if deadline is not None and time.monotonic() >= deadline:
                        _kill_group(proc, self.kill_grace)
                        for t in threads:
                            t.join(timeout=2)
                        self.history[index] = Invocation(record.argv, record.cwd, record.env_keys, proc.returncode)
                        raise ProcessTimeout(
                            f"{Path(argv[0]).name} timed out after {timeout:g}s and was stopped",
                            output_tail=tail.text(),
                        ) from None
        except KeyboardInterrupt:
            _kill_group(proc, self.kill_grace)
            for t in threads:
                t.join(timeout=2)
            raise
        # the leader exited: collect what is left in the pipes (a child that kept them open is killed)
        for t in threads:
            t.join(timeout=10)
        if any(t.is_alive() for t in threads):
            _kill_group(proc, self.kill_grace)
            for t in threads:
                t.join(timeout=2)
        self.history[index] = Invocation(record.argv, record.cwd, record.env_keys, rc)
        return ProcessResult(rc, tail.text(), "\n".join(stdout_lines) + ("\n" if stdout_lines else "")
                             if capture_stdout else None)
