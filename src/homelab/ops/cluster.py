"""`homelab cluster bootstrap`: the seed's setup_initial_cluster.sh as a plan over the ansible engine.

The plan is the order the cluster must form in, one step per node (addresses as in `homelab plan`):

1. `k3s_server.<first>`: the first server, with `cluster-init` (embedded etcd); its API is waited for;
2. `k3s_server.<other>`: the other servers, one at a time, joining `https://<first>:6443`;
3. `k3s_agent.<name>`: the agents; GPU nodes get their label and taint at registration.

It runs as one run of the rendered `playbooks/k3s.yml` (whose three plays are exactly these steps,
the second with `serial: 1`). The join token is read from the first server's node-token file by the
role (`k3s_token_source: first_server`, `no_log`) -- or from Vault with `token_source="vault"` --
and never passes through this process. The first server's kubeconfig is saved on the controller
(mode 0600) with the first server's address (or `clusters.k3s.api_endpoint`) instead of 127.0.0.1.

A re-run converges: nodes already configured report no change and are not restarted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from homelab.errors import EngineError, HomelabError

PLAYBOOK = "playbooks/k3s.yml"
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


def failure(result, command: str) -> EngineError:
    detail = "; ".join(str(f) for f in result.failures[:5]) or f"{result.playbook} ended {result.status}"
    return EngineError(f"ansible: {detail}",
                       f"fix the cause and run `homelab {command}` again: nodes already configured are left as they are",
                       output_tail=result.tail)


def run_k3s(doc, ansible_dir: Path, *, command: str, limit: str | None, extravars: dict, progress=None,
            redactor=None, runner=None):
    if runner is None:
        from homelab.engines.ansible import run_playbook as runner
    access = doc.lab.access
    key = os.path.expanduser(access.ssh_private_key) if access.ssh_private_key else None
    result = runner(Path(ansible_dir), PLAYBOOK, limit=limit, extravars=extravars, private_key=key,
                    progress=progress, redactor=redactor)
    if not result.succeeded:
        raise failure(result, command)
    return result


def bootstrap(doc, ansible_dir: Path, *, kubeconfig: Path | None = None, token_source: str = "first_server",
              progress=None, redactor=None, runner=None) -> ClusterRun:
    """Form the cluster (or converge it): first server, other servers one at a time, then agents."""
    require_ssh(doc, "cluster bootstrap")
    steps = bootstrap_plan(doc)
    dest = Path(kubeconfig).expanduser().resolve() if kubeconfig else default_kubeconfig(doc)
    extravars = {"k3s_token_source": check_token_source(token_source), "k3s_kubeconfig_dest": str(dest),
                 "k3s_fetch_kubeconfig": True}
    result = run_k3s(doc, ansible_dir, command="cluster bootstrap", limit=None, extravars=extravars,
                     progress=progress, redactor=redactor, runner=runner)
    if dest.exists():
        dest.chmod(0o600)
    return ClusterRun(steps, dict(result.changed), dict(result.ok), dest if dest.exists() else None)
