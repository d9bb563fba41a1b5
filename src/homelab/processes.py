"""Processes by pid, as the state lock, the embedded Vault and the test hosts need them (Linux /proc)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def proc_stat_fields(pid: int) -> list[str] | None:
    """Fields 3.. of /proc/<pid>/stat (after the command name, which may hold spaces), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2:].split()


def pid_alive(pid: int) -> bool:
    """The process exists (a zombie does not count: it is reaped if it is our child)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    fields = proc_stat_fields(pid)
    if fields and fields[0] == "Z":
        with contextlib.suppress(OSError, ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        return False
    return True


def proc_start(pid: int) -> str | None:
    """The process start time in clock ticks, to tell a reused pid from the one recorded."""
    fields = proc_stat_fields(pid)
    return fields[19] if fields and len(fields) > 19 else None
