"""The process-runner seam, tested with real subprocesses."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import pytest

from homelab.engines._process import ProcessRunner, ProcessTimeout
from homelab.errors import EngineError
from homelab.secrets import MASK, Redactor

PY = sys.executable

OPTS = {"redactor": Redactor(), "timeout": 30}  # nothing secret: no test adds to this redactor


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); read its state
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_streams_lines_returns_rc_and_tail(tmp_path):
    seen: list[str] = []
    result = ProcessRunner().run([PY, "-c", "import os, sys\nprint(os.getcwd()); print('two', file=sys.stderr); "
                                            "sys.exit(3)"], cwd=tmp_path, on_line=seen.append, **OPTS)
    assert result.rc == 3
    assert sorted(seen) == sorted([str(tmp_path), "two"])
    assert set(result.tail.splitlines()) == {str(tmp_path), "two"}


def test_tail_is_bounded_to_the_last_lines():
    runner = ProcessRunner(tail_lines=5)
    result = runner.run([PY, "-c", "for i in range(1000): print(f'line {i}')"], **OPTS)
    assert result.rc == 0
    assert result.tail.splitlines() == [f"line {i}" for i in range(995, 1000)]


def test_tail_is_bounded_in_characters():
    runner = ProcessRunner(tail_lines=100, tail_chars=50)
    tail = runner.run([PY, "-c", "print('x' * 400)"], **OPTS).tail
    assert len(tail) <= 51 and tail.endswith("x" * 10)


def test_secret_only_in_env_and_redacted_everywhere():
    secret = "s3cr3t-Value-9876"
    red = Redactor()
    red.add(secret)
    seen: list[str] = []
    code = "import os; print('token=' + os.environ['HL_TOKEN']); print('len', len(os.environ['HL_TOKEN']))"
    result = ProcessRunner().run([PY, "-c", code], env={"HL_TOKEN": secret}, on_line=seen.append, redactor=red,
                                 timeout=30)
    assert result.rc == 0
    # the child really received it (length matches) but nothing we keep or show contains it
    assert f"len {len(secret)}" in seen
    assert f"token={MASK}" in seen
    assert secret not in result.tail and secret not in "".join(seen)


def test_argv_with_a_secret_is_refused():
    red = Redactor()
    red.add("hunter2-long-secret")
    with pytest.raises(ValueError, match="argv"):
        ProcessRunner().run([PY, "-c", "print(1)", "--password=hunter2-long-secret"], redactor=red, timeout=30)


def test_capture_stdout_keeps_stdout_whole_and_stderr_in_tail():
    runner = ProcessRunner(tail_lines=2)
    code = "import sys\nfor i in range(10): print(i)\nprint('warn', file=sys.stderr)"
    result = runner.run([PY, "-c", code], capture_stdout=True, **OPTS)
    assert result.rc == 0
    assert result.stdout == "".join(f"{i}\n" for i in range(10))
    assert result.tail == "warn"


def test_missing_binary_is_an_engine_error():
    with pytest.raises(EngineError, match="not found"):
        ProcessRunner().run(["/nonexistent/definitely-not-here"], **OPTS)


def test_timeout_kills_the_whole_process_group(tmp_path):
    pidfile = tmp_path / "grandchild.pid"
    code = (
        "import subprocess, sys, time\n"
        f"p = subprocess.Popen([{PY!r}, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pidfile)!r}, 'w').write(str(p.pid))\n"
        "print('started', flush=True)\n"
        "time.sleep(60)\n"
    )
    runner = ProcessRunner(kill_grace=1)
    start = time.monotonic()
    with pytest.raises(ProcessTimeout) as info:
        runner.run([PY, "-c", code], timeout=1.5, redactor=Redactor())
    assert time.monotonic() - start < 10
    assert "started" in info.value.output_tail
    grandchild = int(pidfile.read_text())
    for _ in range(50):
        if not _alive(grandchild):
            break
        time.sleep(0.1)
    assert not _alive(grandchild)


def test_keyboard_interrupt_kills_the_group_and_propagates(tmp_path):
    pidfile = tmp_path / "child.pid"
    code = f"import os, time\nopen({str(pidfile)!r}, 'w').write(str(os.getpid()))\ntime.sleep(60)\n"
    runner = ProcessRunner(kill_grace=1)

    def interrupt():
        for _ in range(100):
            if pidfile.exists() and pidfile.read_text():
                break
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Thread(target=interrupt)
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        runner.run([PY, "-c", code], **OPTS)
    timer.join()
    child = int(pidfile.read_text())
    for _ in range(50):
        if not _alive(child):
            break
        time.sleep(0.1)
    assert not _alive(child)
