"""`homelab cluster bootstrap`: the seed's setup_initial_cluster.sh as a targeted plan.

It is `homelab apply --target 'k3s_server.*' --target 'k3s_agent.*'`: the plan's dependency graph
gives the order the cluster must form in, one step per node (addresses as in `homelab plan`):

1. `k3s_server.<first>`: the first server, with `cluster-init` (embedded etcd); its API is waited for;
2. `k3s_server.<other>`: the other servers, one at a time, joining `https://<first>:6443`;
3. `k3s_agent.<name>`: the agents; GPU nodes get their label and taint at registration.

The ansible engine runs the rendered `playbooks/k3s.yml` limited to each ready batch (the servers
after the first in one run, its play with `serial: 1`). The join token is read from the first
server's node-token file by the role (`k3s_token_source: first_server`, `no_log`) -- or from Vault
with `token_source="vault"` -- and never passes through this process. The first server's kubeconfig
is saved on the controller (mode 0600) with the first server's address (or `clusters.k3s.api_endpoint`)
instead of 127.0.0.1. What succeeds is recorded in state: a re-run plans nothing for those nodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from homelab.errors import EngineError, HomelabError

TOKEN_SOURCES = ("first_server", "vault")


@dataclass(frozen=True)
class Step:
    address: str
    host: str
    ip: str | None
    what: str

    def to_json(self) -> dict:
        return {"address": self.address, "host": self.host, "ip": self.ip, "what": self.what}


@dataclass
class ClusterRun:
    steps: list[Step]
    changed: dict[str, int] = field(default_factory=dict)
    ok: dict[str, int] = field(default_factory=dict)
    kubeconfig: Path | None = None

    def to_json(self) -> dict:
        return {"steps": [s.to_json() for s in self.steps], "changed": dict(sorted(self.changed.items())),
                "ok": dict(sorted(self.ok.items())), "kubeconfig": str(self.kubeconfig) if self.kubeconfig else None}


def require_ssh(doc, command: str) -> None:
    """Refuse unless the lab allows homelab to SSH to its VMs."""
    access = doc.lab.access
    if not access.ssh:
        raise HomelabError(
            f"`homelab {command}` configures the VMs over SSH, and access.ssh is false in {doc.file}",
            "set `access: {ssh: true, ssh_user: <user>, ssh_private_key: <path of the key>}` in homelab.yaml",
        )


def require_k3s(doc):
    k3s = doc.lab.clusters.k3s
    if k3s is None:
        raise HomelabError(f"{doc.file} declares no K3s cluster",
                           "add `clusters: {k3s: {servers: [...], agents: [...]}}` to homelab.yaml")
    return k3s


def check_token_source(token_source: str) -> str:
    value = token_source.replace("-", "_")
    if value not in TOKEN_SOURCES:
        raise HomelabError(f"unknown token source {token_source!r}", "use first-server or vault")
    return value


def node_step(doc, name: str) -> Step:
    k3s = doc.lab.clusters.k3s
    vm = doc.inventory.by_name.get(name)
    ip = vm.ip if vm else None
    gpu = " + GPU label and taint" if name in k3s.gpu.nodes else ""
    if name == k3s.servers[0]:
        return Step(f"k3s_server.{name}", name, ip, f"first server: cluster-init{gpu}")
    if name in k3s.servers:
        return Step(f"k3s_server.{name}", name, ip, f"server: join https://{_first_address(doc)}:6443{gpu}")
    return Step(f"k3s_agent.{name}", name, ip, f"agent: join https://{_first_address(doc)}:6443{gpu}")


def _first_address(doc) -> str:
    first = doc.lab.clusters.k3s.servers[0]
    vm = doc.inventory.by_name.get(first)
    return vm.ip if vm and vm.ip else first


def bootstrap_plan(doc) -> list[Step]:
    k3s = require_k3s(doc)
    return [node_step(doc, name) for name in [*k3s.servers, *k3s.agents]]


def default_kubeconfig(doc) -> Path:
    return Path("~/.kube").expanduser() / f"{doc.lab.name}.yaml"


def cluster_targets(doc) -> list[str]:
    k3s = require_k3s(doc)
    return ["k3s_server.*"] + (["k3s_agent.*"] if k3s.agents else [])


def run_targeted(session, targets, command: str) -> ClusterRun:
    """Plan the targets, apply them, and fail (exit 3) when any targeted change did not apply."""
    plan = session.plan(targets=targets)
    report = session.apply(plan)
    changed: dict[str, int] = {}
    ok: dict[str, int] = {}
    for o in report.outcomes:
        host = o.address.partition(".")[2]
        if o.status == "applied":
            ok[host] = ok.get(host, 0) + 1
            if o.changed:
                changed[host] = changed.get(host, 0) + o.changed
    not_done = [o for o in report.outcomes if o.status != "applied"]
    if not_done:
        first = next((o for o in not_done if o.status == "failed"), not_done[0])
        raise EngineError(first.message, f"fix the cause and run `homelab {command}` again: nodes already "
                          "configured are left as they are", output_tail=first.output_tail)
    return ClusterRun([], changed, ok, None)


def bootstrap(doc, session, *, kubeconfig: Path | None = None) -> ClusterRun:
    """Form the cluster (or converge it): first server, other servers one at a time, then agents.
    `session` must be opened with `bootstrap_options(...)`."""
    require_ssh(doc, "cluster bootstrap")
    steps = bootstrap_plan(doc)
    run = run_targeted(session, cluster_targets(doc), "cluster bootstrap")
    run.steps = steps
    dest = kubeconfig_dest(doc, kubeconfig)
    if dest.exists():
        dest.chmod(0o600)
        run.kubeconfig = dest
    return run


def kubeconfig_dest(doc, kubeconfig: Path | str | None) -> Path:
    return Path(kubeconfig).expanduser().resolve() if kubeconfig else default_kubeconfig(doc)


def bootstrap_options(doc, *, kubeconfig=None, token_source: str = "first_server") -> dict:
    """The engine options of a bootstrap run: extra variables for the k3s playbook."""
    return {"ansible_extravars": {"k3s_token_source": check_token_source(token_source),
                                  "k3s_kubeconfig_dest": str(kubeconfig_dest(doc, kubeconfig)),
                                  "k3s_fetch_kubeconfig": True}}
