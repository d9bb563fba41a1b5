"""State survives a process killed (SIGKILL) in the middle of an apply; the next apply resumes."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from fake_engine import fake_engines, lookup
from plan_helpers import doc_of, reference_data

from homelab.apply import open_session
from homelab.plan.desired import desired

HERE = Path(__file__).resolve()
SRC = str(HERE.parents[2] / "src")
PLAN_TESTS = str(HERE.parents[1] / "plan")

APPLIER = r"""
import sys
sys.path[:0] = [{src!r}, {plan_tests!r}]
from fake_engine import fake_engines, lookup
from plan_helpers import doc_of, reference_data
from homelab.apply import open_session

engines = fake_engines(delay=0.02, log_path={log!r})
s = open_session(doc_of(reference_data()), state_dir={state!r}, workdir={state!r}, engines=lookup(engines))
s.apply(s.plan())
print("finished", flush=True)
"""


def test_sigkill_during_apply_loses_nothing_and_resume_completes(tmp_path):
    log = tmp_path / "applied.log"
    state = tmp_path / "state"
    proc = subprocess.Popen([sys.executable, "-c", APPLIER.format(src=SRC, plan_tests=PLAN_TESTS, log=str(log),
                                                                  state=str(state))],
                            stdout=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        if log.exists() and len(log.read_text().splitlines()) >= 30:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    applied_before = log.read_text().splitlines()
    total = len(desired(doc_of(reference_data())))  # every desired resource of the reference lab
    assert 30 <= len(applied_before) < total  # killed in the middle

    db = sqlite3.connect(state / "state.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()

    # the live systems survived the kill: they hold what the engines applied
    engines = fake_engines()
    want = desired(doc_of(reference_data()))
    for addr in applied_before:
        engines[want[addr].engine].live[addr] = dict(want[addr].attrs)
    s = open_session(doc_of(reference_data()), state_dir=state, workdir=state, engines=lookup(engines))
    recorded = set(s.store.resources())
    # everything recorded was applied; at most the one resource in flight at the kill was applied
    # by the engine but not yet recorded
    assert recorded <= set(applied_before)
    assert len(set(applied_before) - recorded) <= 1
    assert s.store.serial() == len(recorded)
    lock = s.store.lock_info()
    assert lock is not None and lock.stale  # the killed apply's lock is reported as stale

    plan = s.plan()
    assert {c.address for c in plan.actionable()} == {c.address for c in plan.changes} - recorded
    for c in plan.actionable():
        if c.address in applied_before:  # the one in flight: live, not recorded -> applied again to record it
            assert c.reason == "exists on the live system but not in state; apply records it"
    report = s.apply(plan, break_lock=True)
    assert report.exit_code == 0
    assert set(engines["vault"].calls + engines["terraform"].calls + engines["ansible"].calls
               + engines["kubernetes"].calls).isdisjoint(recorded)  # nothing recorded ran again
    assert len(s.store.resources()) == total
    s.close()
