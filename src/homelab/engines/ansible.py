"""The ansible engine: runs the rendered playbooks through ansible-runner.

Events are streamed to the progress callback as they happen; a failure is reported with the
failing host and task (and the module's message, redacted). Secrets never pass through argv or
files written by us: ansible-runner gets `suppress_env_files=True`, and the playbooks read secrets
from Vault themselves (hashi_vault lookups) with the credentials in environment variables.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from homelab.engines.base import ApplyResult, Change, Engine, EngineContext, EngineStatus
from homelab.errors import EngineError
from homelab.lab.tls import CA_FILE

# Which playbook configures which kind of resource (addresses are "<kind>.<name>").
PLAYBOOKS = {
    "host": "playbooks/baseline.yml",
    "k3s_server": "playbooks/k3s.yml",
    "k3s_agent": "playbooks/k3s.yml",
    "es_node": "playbooks/elasticsearch.yml",
    "kibana": "playbooks/kibana.yml",
    "fleet_server": "playbooks/fleet.yml",
    "vault_server": "playbooks/vault.yml",
    "host_pki": "playbooks/pki.yml",  # trust store, step-ca, host certificates (after Vault, before clusters)
}
ORDER = ["host", "vault_server", "host_pki", "k3s_server", "k3s_agent", "es_node", "kibana", "fleet_server"]
# Which playbook undoes a kind (a `delete`); a kind without one is forgotten (state only), and says so.
UNINSTALL = {"k3s_server": "playbooks/k3s-uninstall.yml", "k3s_agent": "playbooks/k3s-uninstall.yml"}


@dataclass
class TaskFailure:
    host: str
    task: str
    message: str
    unreachable: bool = False

    def __str__(self) -> str:
        kind = "unreachable" if self.unreachable else "failed"
        return f"{self.host}: {kind} at task '{self.task}': {self.message}"


@dataclass
class PlaybookResult:
    playbook: str
    status: str  # successful | failed | timeout | canceled
    rc: int
    changed: dict[str, int] = field(default_factory=dict)
    ok: dict[str, int] = field(default_factory=dict)
    failures: list[TaskFailure] = field(default_factory=list)
    tail: str = ""
    changed_tasks: list[str] = field(default_factory=list)  # "host: task" of every task that reported a change

    @property
    def succeeded(self) -> bool:
        return self.status == "successful" and self.rc == 0


def _message(res: dict) -> str:
    for key in ("msg", "stderr", "module_stderr", "stdout"):
        value = res.get(key)
        if value:
            return str(value).strip().splitlines()[-1][:300] if isinstance(value, str) else str(value)[:300]
    return "failed"


def _ansible_runner():
    """The ansible_runner module, once ansible-playbook is known to be installed (on PATH or beside Python)."""
    try:
        import ansible_runner
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise EngineError("ansible-runner is not installed", "pip install ansible-runner ansible-core") from exc
    if shutil.which("ansible-playbook") is None and not (Path(sys.executable).parent / "ansible-playbook").exists():
        raise EngineError("ansible-playbook is not installed", "pip install ansible-core")
    return ansible_runner


def _environment(project_dir: Path, private_data_dir: Path, private_key: str | None, envvars: dict | None) -> dict:
    env = {
        "ANSIBLE_CONFIG": str(project_dir / "ansible.cfg"),
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        # One SSH control-master directory per run: a connection opened with another key (or by
        # another run) is never reused.
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(private_data_dir / "cp"),
    }
    if private_key:
        env["ANSIBLE_PRIVATE_KEY_FILE"] = str(private_key)
    env.update(envvars or {})
    # community.hashi_vault's lookups verify Vault against VAULT_CACERT (group_vars cannot carry it: the
    # collection does not template its ansible_hashi_vault_ca_cert variable): the rendered tls/ca.crt, unless
    # the caller or the user's environment names one.
    ca = project_dir.parent / CA_FILE
    if "VAULT_CACERT" not in env and "VAULT_CACERT" not in os.environ and ca.is_file():
        env["VAULT_CACERT"] = str(ca)
    # the ansible-playbook of this Python environment first
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    return env


class _Events:
    """ansible-runner's event handler: task starts go to progress, failed (not ignored) and unreachable hosts
    are collected, and the last lines of output are kept; everything redacted."""

    def __init__(self, playbook: str, say, redact):
        self.stem = Path(playbook).stem
        self.say = say
        self.redact = redact
        self.failures: list[TaskFailure] = []
        self.lines: list[str] = []
        self.changed: list[str] = []

    def __call__(self, event: dict) -> bool:
        data = event.get("event_data", {})
        kind = event.get("event")
        host = data.get("host", "")
        task = data.get("task", "")
        if kind == "playbook_on_task_start":
            self.say(f"[{self.stem}] {task}")
        elif kind == "runner_on_failed" and not data.get("ignore_errors"):
            self.failures.append(TaskFailure(host, task, self.redact(_message(data.get("res", {})))))
        elif kind == "runner_on_ok" and (data.get("res") or {}).get("changed"):
            self.changed.append(f"{host}: {task}")
        elif kind == "runner_on_unreachable":
            self.failures.append(TaskFailure(host, task, self.redact(_message(data.get("res", {}))), unreachable=True))
        stdout = event.get("stdout")
        if stdout:
            self.lines.extend(self.redact(stdout).splitlines())
            del self.lines[:-60]
        return True  # keep the event (ansible-runner's contract)


def run_playbook(
    project_dir: Path,
    playbook: str,
    *,
    limit: str | None = None,
    extravars: dict | None = None,
    envvars: dict | None = None,
    private_key: str | None = None,
    progress=None,
    redactor=None,
) -> PlaybookResult:
    """Run one playbook of the rendered `ansible/` directory and summarise it. `envvars` are laid over the
    run's ANSIBLE_* settings (the sandbox tests use it for a known_hosts file of their own)."""
    ansible_runner = _ansible_runner()
    events = _Events(playbook, progress or (lambda message: None), redactor or (lambda text: text))
    project_dir = Path(project_dir).resolve()
    private_data_dir = Path(tempfile.mkdtemp(prefix="homelab-ansible-"))
    try:
        runner = ansible_runner.run(
            private_data_dir=str(private_data_dir),
            project_dir=str(project_dir),
            playbook=playbook,
            inventory=str(project_dir / "inventory.yml"),
            envvars=_environment(project_dir, private_data_dir, private_key, envvars),
            extravars=extravars or {},
            limit=limit,
            quiet=True,
            suppress_env_files=True,
            event_handler=events,
        )
        stats = runner.stats or {}
        return PlaybookResult(
            playbook=playbook, status=runner.status, rc=runner.rc if runner.rc is not None else -1,
            changed=dict(stats.get("changed", {})), ok=dict(stats.get("ok", {})),
            failures=events.failures, tail="\n".join(events.lines[-30:]), changed_tasks=events.changed,
        )
    finally:
        shutil.rmtree(private_data_dir, ignore_errors=True)


def playbook_for(address: str) -> str | None:
    return PLAYBOOKS.get(address.split(".", 1)[0])


class AnsibleEngine(Engine):
    """Configures hosts and clusters by running the rendered playbooks."""

    name = "ansible"

    def __init__(self, runner=run_playbook):
        self._run = runner

    def status(self, ctx: EngineContext) -> EngineStatus:
        """Configured when the lab allows SSH and the playbooks are rendered. Hosts are not probed here:
        a host that does not answer fails its own change at apply ("unreachable at task ..."), and one
        host down never stops the plan or a change on another host."""
        if not ctx.doc.lab.access.ssh:
            return EngineStatus(False, False, "access.ssh is false: homelab does not SSH to the VMs until you allow it")
        if not (Path(ctx.workdir) / "ansible" / "site.yml").exists():
            return EngineStatus(True, False, "the rendered ansible/ directory is missing; run `homelab render`")
        return EngineStatus(True, True, "access.ssh is true; each host is reached when its playbook runs")

    def read_facts(self, ctx: EngineContext, addresses: list[str]) -> dict[str, dict]:
        # Host facts would need a full Ansible run; the plan uses state for this layer.
        return {}

    def apply(self, ctx: EngineContext, changes: list[Change]) -> list[ApplyResult]:
        by_playbook: dict[str, list[Change]] = {}
        results: list[ApplyResult] = []
        for change in changes:
            if change.action == "no-op":
                continue
            if change.action == "delete":
                playbook = UNINSTALL.get(change.address.split(".", 1)[0])
                if playbook is None:
                    results.append(ApplyResult(change.address, True, "forgotten: homelab has no uninstall for "
                                               "it (the machine keeps this configuration until it is destroyed)"))
                    continue
                by_playbook.setdefault(playbook, []).append(change)
                continue
            playbook = playbook_for(change.address)
            if playbook is None:
                raise EngineError(f"no playbook configures {change.address}")
            by_playbook.setdefault(playbook, []).append(change)
        order = {PLAYBOOKS[k]: i for i, k in reversed(list(enumerate(ORDER)))}
        access = ctx.doc.lab.access
        for playbook in sorted(by_playbook, key=lambda p: (order.get(p, 99), p)):
            group = by_playbook[playbook]
            hosts = sorted({c.address.split(".", 1)[1] for c in group})
            result = self._run(
                Path(ctx.workdir) / "ansible", playbook, limit=",".join(hosts),
                extravars=dict(ctx.options.get("ansible_extravars") or {}),
                private_key=os.path.expanduser(access.ssh_private_key) if access.ssh_private_key else None,
                progress=ctx.progress, redactor=ctx.redactor,
            )
            if not result.succeeded:
                detail = "; ".join(str(f) for f in result.failures[:5]) or f"{playbook} ended {result.status}"
                raise EngineError(f"ansible: {detail}", "fix the cause and run `homelab apply` again to resume",
                                  output_tail=result.tail)
            for change in group:
                host = change.address.split(".", 1)[1]
                n = int(result.changed.get(host, 0))
                results.append(ApplyResult(change.address, True, f"{playbook}: ok ({n} changed)", changed=n))
        return results
