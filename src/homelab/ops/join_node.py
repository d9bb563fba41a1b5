"""`homelab node join NAME`: the seed's add_node_to_cluster.sh as a targeted plan.

It is `homelab apply --target k3s_agent.NAME` (or `k3s_server.NAME`). The node must already be in the
lab (`clusters.k3s.servers` or `.agents`, e.g. after `homelab vm add NAME --join k3s`). The rendered
`playbooks/k3s.yml` runs limited to that node: the other nodes are not connected to, except the first
server, from which the role reads the join token (a `slurp` delegated to it, `no_log`; nothing on it
changes). A GPU node gets its label and taint at registration. The first server cannot be joined (it
forms the cluster: `homelab cluster bootstrap`). Once joined, the node is in state: a re-run plans nothing.
"""

from __future__ import annotations

from homelab.errors import HomelabError
from homelab.ops.cluster import (
    ClusterRun,
    check_token_source,
    node_step,
    require_k3s,
    require_ssh,
    run_targeted,
)


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


def join(doc, session, name: str) -> ClusterRun:
    """Join one node; `session` must be opened with `join_options(...)`."""
    require_ssh(doc, "node join")
    steps = join_plan(doc, name)
    run = run_targeted(session, [steps[0].address], f"node join {name}")
    run.steps = steps
    return run


def join_options(token_source: str = "first_server") -> dict:
    return {"ansible_extravars": {"k3s_token_source": check_token_source(token_source),
                                  "k3s_fetch_kubeconfig": False}}
