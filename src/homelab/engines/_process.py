"""The process-runner seam every engine that runs a command uses.

- argv only, never a shell; secrets go in the environment overlay, never in argv (the runner refuses
  an argv that contains a value the redactor knows);
- the child runs in its own session/process group, so a timeout or Ctrl-C kills the whole group
  (terraform's provider plugins included), SIGTERM first, SIGKILL after a grace period;
- output is read line by line; every line passes through the redactor before it is handed to the
  `on_line` callback (progress display) or kept in the bounded tail;
- `run()` returns a `ProcessResult` (rc and the redacted tail); with `capture_stdout=True` the full
  (redacted) stdout is kept separately in `.stdout` for machine-readable output (e.g.
  `terraform show -json`), and stderr alone feeds the tail.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from homelab.errors import EngineError
from homelab.secrets import Redactor

DEFAULT_TAIL_LINES = 60
DEFAULT_TAIL_CHARS = 8000
KILL_GRACE_SECONDS = 5.0


@dataclass
class ProcessResult:
    rc: int
    tail: str  # redacted, bounded: the last lines of output
    stdout: str | None = None  # full redacted stdout, only with capture_stdout=True


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


class _Output:
    """Reads the child's pipes on daemon threads: every line redacted, then kept whole (captured stdout)
    or added to the tail and handed to `on_line`."""

    def __init__(self, redact: Redactor, tail: _Tail, on_line: Callable[[str], None] | None, capture_stdout: bool):
        self.redact = redact
        self.tail = tail
        self.on_line = on_line
        self.stdout_lines: list[str] | None = [] if capture_stdout else None
        self.threads: list[threading.Thread] = []

    def start(self, proc: subprocess.Popen) -> None:
        self.threads = [threading.Thread(target=self._pump, args=(proc.stdout, self.stdout_lines), daemon=True)]
        if self.stdout_lines is not None:
            self.threads.append(threading.Thread(target=self._pump, args=(proc.stderr, None), daemon=True))
        for t in self.threads:
            t.start()

    def _pump(self, stream, keep: list[str] | None) -> None:
        for raw in iter(stream.readline, ""):
            line = self.redact(raw.rstrip("\r\n"))
            if keep is not None:
                keep.append(line)
                continue
            self.tail.add(line)
            if self.on_line is not None:
                try:
                    self.on_line(line)
                except Exception:  # noqa: BLE001 - a broken progress display must not kill the run
                    pass
        stream.close()

    def join(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds per pipe; True when every pipe reached its end."""
        for t in self.threads:
            t.join(timeout=timeout)
        return not any(t.is_alive() for t in self.threads)

    def stdout(self) -> str | None:
        if self.stdout_lines is None:
            return None
        return "\n".join(self.stdout_lines) + ("\n" if self.stdout_lines else "")


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


def _checked_argv(argv: Sequence[str], redact: Redactor) -> list[str]:
    argv = [os.fspath(a) for a in argv]
    if not argv:
        raise ValueError("empty argv")
    for arg in argv:
        if redact(arg) != arg:
            raise ValueError("refusing to run a command with a secret value in its argv; pass it in env")
    return argv


def _spawn(argv: list[str], cwd: str | Path | None, env: Mapping[str, str], capture_stdout: bool) -> subprocess.Popen:
    try:
        return subprocess.Popen(  # noqa: S603 - argv list, no shell
            argv,
            cwd=cwd,
            env={**os.environ, **env},
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


@dataclass
class ProcessRunner:
    """Runs commands for engines. One instance may be shared (by engines running units on several threads)."""

    tail_lines: int = DEFAULT_TAIL_LINES
    tail_chars: int = DEFAULT_TAIL_CHARS
    kill_grace: float = KILL_GRACE_SECONDS

    def run(
        self,
        argv: Sequence[str],
        *,
        redactor: Redactor,
        timeout: float,
        cwd: str | Path | None = None,
        env: Mapping[str, str] | None = None,
        on_line: Callable[[str], None] | None = None,
        capture_stdout: bool = False,
    ) -> ProcessResult:
        """Run `argv` with `env` laid over this process's environment; stop its group after `timeout` s."""
        argv = _checked_argv(argv, redactor)
        output = _Output(redactor, _Tail(self.tail_lines, self.tail_chars), on_line, capture_stdout)
        proc = _spawn(argv, cwd, env or {}, capture_stdout)
        output.start(proc)
        rc = self._wait(proc, output, timeout, Path(argv[0]).name)
        # the leader exited: collect what is left in the pipes (a child that kept them open is killed)
        if not output.join(timeout=10):
            self._stop(proc, output)
        return ProcessResult(rc, output.tail.text(), output.stdout())

    def _wait(self, proc: subprocess.Popen, output: _Output, timeout: float, name: str) -> int:
        """The leader's exit code; past the deadline (or on Ctrl-C) the whole group is stopped."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                remaining = max(0.0, deadline - time.monotonic())
                try:
                    return proc.wait(timeout=min(remaining, 0.5))
                except subprocess.TimeoutExpired:
                    if time.monotonic() >= deadline:
                        self._stop(proc, output)
                        raise ProcessTimeout(f"{name} timed out after {timeout:g}s and was stopped",
                                             output_tail=output.tail.text()) from None
        except KeyboardInterrupt:
            self._stop(proc, output)
            raise

    def _stop(self, proc: subprocess.Popen, output: _Output) -> None:
        _kill_group(proc, self.kill_grace)
        output.join(timeout=2)
