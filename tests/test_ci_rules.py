"""CI runs everything: under .ci/run (HOMELAB_CI=1) a skipped test fails the session, with the reason it gave;
elsewhere a skip stays a skip that says what the test needs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = ROOT / "tests" / "probes" / "skips.py"


def _session(tmp_path, *args: str, **env_extra) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("HOMELAB_CI", "CI", "PYTEST_ADDOPTS",
                                                              "HOMELAB_NETGUARD_LOG", "HOMELAB_NETGUARD_REEXEC")}
    env.update(HOMELAB_NETGUARD_LOG_DIR=str(tmp_path), **env_extra)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs", "-n", "0",
                           "-o", "addopts=", *args, str(PROBE)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


def test_a_skip_is_a_failure_in_ci(tmp_path):
    proc = _session(tmp_path, HOMELAB_CI="1")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "skipped in CI, where every test must run: Skipped: needs root (probe)" in proc.stdout
    assert "1 failed, 1 passed" in proc.stdout


def test_a_module_level_skip_is_a_failure_in_ci(tmp_path):
    proc = _session(tmp_path, HOMELAB_CI="1", PROBE_SKIP_MODULE="1")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "CI: 1 test(s) were skipped; in CI every test must run" in proc.stdout
    assert "needs a binary this machine lacks (probe)" in proc.stdout


def test_outside_ci_a_skip_says_what_it_needs(tmp_path):
    proc = _session(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SKIPPED [1]" in proc.stdout and "needs root (probe)" in proc.stdout


def test_the_ci_script_checks_the_junit_report_for_skips(tmp_path):
    assert "export HOMELAB_CI=1 HOMELAB_NETGUARD_NETNS=require" in (ROOT / ".ci" / "run").read_text()
    check = [sys.executable, str(ROOT / "scripts" / "ci-junit-check.py")]
    skipped = tmp_path / "skipped.xml"
    _session(tmp_path, f"--junitxml={skipped}")  # outside CI: the skip stays a skip in the report
    proc = subprocess.run([*check, str(skipped)], capture_output=True, text=True)
    assert proc.returncode == 1 and "1 skipped of 2 test(s)" in proc.stdout and "needs root (probe)" in proc.stdout
    clean = tmp_path / "clean.xml"
    _session(tmp_path, f"--junitxml={clean}", "-k", "passes")
    proc = subprocess.run([*check, str(clean)], capture_output=True, text=True)
    assert proc.returncode == 0 and "ci: 1 tests, none skipped" in proc.stdout
