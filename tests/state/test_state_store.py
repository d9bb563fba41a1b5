"""The state store: SQLite in WAL mode, a serial, history, atomic writes, the apply lock."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from homelab.errors import StateError
from homelab.state.store import StateStore

SRC = str(Path(__file__).resolve().parents[2] / "src")


def test_records_serial_history_and_file_modes(tmp_path):
    store = StateStore(tmp_path / ".homelab")
    assert store.serial() == 0
    s1 = store.record("proxmox_vm.a", layer="vms", engine="terraform", attrs={"memory_mib": 2048},
                      lab_digest="d1", depends_on=["vault_mount.secret"], outputs={"vm_id": 171})
    s2 = store.record("proxmox_vm.a", layer="vms", engine="terraform", attrs={"memory_mib": 4096}, lab_digest="d2")
    s3 = store.remove("proxmox_vm.a", lab_digest="d3")
    assert (s1, s2, s3) == (1, 2, 3) and store.serial() == 3
    assert store.resources() == {}
    assert [(h["serial"], h["action"]) for h in store.history()] == [(3, "delete"), (2, "apply"), (1, "apply")]
    assert store.history()[1]["attrs"] == {"memory_mib": 4096}
    store.record("host.a", layer="hosts", engine="ansible", attrs={"ip": "10.0.0.5"}, lab_digest="d4",
                 depends_on=("proxmox_vm.a",))
    r = store.get("host.a")
    assert (r.attrs, r.depends_on, r.lab_digest, r.serial) == ({"ip": "10.0.0.5"}, ("proxmox_vm.a",), "d4", 4)
    assert (tmp_path / ".homelab" / "state.db-wal").stat().st_mode & 0o777 == 0o600
    store.close()
    assert (tmp_path / ".homelab").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / ".homelab" / "state.db").stat().st_mode & 0o777 == 0o600
    db = sqlite3.connect(tmp_path / ".homelab" / "state.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    # reopened: everything is still there
    again = StateStore(tmp_path / ".homelab")
    assert again.serial() == 4 and list(again.resources()) == ["host.a"]
    again.close()


def test_a_failed_write_leaves_nothing_behind(tmp_path):
    store = StateStore(tmp_path)
    with pytest.raises(TypeError):  # not JSON: the transaction never starts, the serial does not move
        store.record("host.a", layer="hosts", engine="ansible", attrs={"x": object()}, lab_digest="d")
    assert store.serial() == 0 and store.resources() == {} and store.history() == []
    store.close()


def test_a_damaged_state_file_is_a_clear_error(tmp_path):
    (tmp_path / "state.db").write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StateError) as err:
        StateStore(tmp_path)
    assert "cannot open the state database" in err.value.message


HOLDER = r"""
import sys, time
sys.path.insert(0, {src!r})
from homelab.state.store import StateStore
store = StateStore({dir!r})
store.acquire("homelab apply (test holder)")
print("locked", flush=True)
time.sleep(60)
"""


def _holder(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER.format(src=SRC, dir=str(tmp_path))],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_two_applies_never_run_at_once_and_a_dead_holder_is_reported_then_broken(tmp_path):
    holder = _holder(tmp_path)
    try:
        store = StateStore(tmp_path)
        with pytest.raises(StateError) as err:
            store.acquire()
        assert f"the state is locked: another apply is running (pid {holder.pid} on" in err.value.message
        assert "homelab apply (test holder)" in err.value.message
        with pytest.raises(StateError):  # still held: unlock without --force refuses
            store.acquire()
    finally:
        holder.kill()
        holder.wait()
    info = store.lock_info()
    assert info is not None and info.pid == holder.pid and info.stale
    with pytest.raises(StateError) as err:
        store.acquire()
    assert "the state lock is stale" in err.value.message and "gone" in err.value.message
    assert "--break-lock" in err.value.hint
    store.acquire(break_lock=True)
    assert store.lock_info().pid == os.getpid()
    store.release()
    assert store.lock_info() is None
    store.close()


RACER = r"""
import sys, time
sys.path.insert(0, {src!r})
from homelab.errors import StateError
from homelab.state.store import StateStore
store = StateStore({dir!r})
while time.time() < {start}:
    time.sleep(0.001)
try:
    store.acquire()
except StateError:
    print("refused", flush=True)
else:
    print("won", flush=True)
    time.sleep(1.5)
    store.release()
"""


def test_two_processes_racing_for_the_lock_exactly_one_wins(tmp_path):
    StateStore(tmp_path).close()
    start = time.time() + 1.0
    procs = [subprocess.Popen([sys.executable, "-c", RACER.format(src=SRC, dir=str(tmp_path), start=start)],
                              stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = sorted(p.communicate(timeout=30)[0].strip() for p in procs)
    assert outs == ["refused", "won"]
    assert StateStore(tmp_path).lock_info() is None


def test_unlock_force_from_the_cli(tmp_path, capsys, monkeypatch):
    from homelab.cli.main import main

    holder = _holder(tmp_path)
    holder.kill()
    holder.wait()
    with pytest.raises(SystemExit) as ex:
        main(["state", "unlock", "--state-dir", str(tmp_path)])
    assert ex.value.code == 1
    assert "stale" in capsys.readouterr().err
    with pytest.raises(SystemExit) as ex:
        main(["state", "unlock", "--force", "--state-dir", str(tmp_path)])
    assert ex.value.code == 0
    assert f"broke the state lock of pid {holder.pid}" in capsys.readouterr().out
    assert StateStore(tmp_path).lock_info() is None
