"""`homelab node join NAME`: the seed's add_node_to_cluster.sh as a plan over the ansible engine.

The node must already be in the lab (`clusters.k3s.servers` or `.agents`, e.g. after
`homelab vm add NAME --join k3s`). The rendered `playbooks/k3s.yml` runs limited to that node: the
other nodes are not connected to, except the first server, from which the role reads the join token
(a `slurp` delegated to it, `no_log`; nothing on it changes). A GPU node gets its label and taint
at registration. The first server cannot be joined (it forms the cluster: `homelab cluster bootstrap`).
"""

from __future__ import annotations

from pathlib import Path

from homelab.errors import HomelabError
from homelab.ops.cluster import ClusterRun, check_token_source, node_step, require_k3s, require_ssh, run_k3s


def join_plan(doc, name: str) -> list:
    k3s = require_k3s(doc)
    if doc.inventory.by_name.get(name) is None:
        raise HomelabError(f"{name} is not a VM of {doc.file}", f"add it first: `homelab vm add {name} --join k3s`")
    if name not in [*k3s.servers, *k3s.agents]:
        raise HomelabError(f"{name} is not in clusters.k3s.servers or clusters.k3s.agents",
                           f"add {name} to clusters.k3s.agents (or servers) in homelab.yaml")
    if name == k3s.servers[0]:
        raise HomelabError(f"{name} is the first server: it forms the cluster and joins nothing",
                           "run `homelab cluster bootstrap` instead")
    return [node_step(doc, name)]


def join(doc, ansible_dir: Path, name: str, *, token_source: str = "first_server", progress=None, redactor=None,
         runner=None) -> ClusterRun:
    require_ssh(doc, "node join")
    steps = join_plan(doc, name)
    extravars = {"k3s_token_source": check_token_source(token_source), "k3s_fetch_kubeconfig": False}
    result = run_k3s(doc, ansible_dir, command=f"node join {name}", limit=name, extravars=extravars,
                     progress=progress, redactor=redactor, runner=runner)
    return ClusterRun(steps, dict(result.changed), dict(result.ok), None)
