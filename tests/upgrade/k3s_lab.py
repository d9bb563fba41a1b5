"""A small lab for the upgrade tests: k1-k3 servers, k4 (and more) agents, K3s v1.33.4+k3s1; and a
kubeconfig for a fake API server."""

from __future__ import annotations

from pathlib import Path

LAB = """\
# the upgrade tests' lab
version: 1
name: upg
network:
  cidr: 10.213.99.0/24
  gateway: 10.213.99.1
  dns: [10.213.99.1]
  domain: upg.test
  pools: {{vms: 10.213.99.10-10.213.99.199, metallb: 10.213.99.200-10.213.99.250}}
proxmox:
  nodes:
    - {{name: pve, cores: 64, memory: 256GiB, storages: {{local-lvm: 8TiB}}}}
  ci_user: ubuntu
  ssh_keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHomelabTestKeyNotARealKey0000000000000 test@ci"]
vault:
  secrets:
    - {{path: infra/proxmox, fields: [api_token_id, api_token_secret]}}
    - {{path: k3s/cluster, fields: [token]}}
access: {{ssh: true, ssh_user: root, ssh_private_key: /nonexistent/key}}
vms:
{vms}
clusters:
  k3s:
    version: v1.33.4+k3s1  # pinned; `homelab upgrade k3s` edits it
    servers: [{servers}]
    agents: [{agents}]
    upgrade: {{agent_batch: {batch}, drain_timeout: {drain}, ready_timeout: {ready}}}
"""


def write_lab(directory: Path, *, servers=("k1", "k2", "k3"), agents=("k4",), batch: int = 1, drain: int = 30,
              ready: int = 20) -> Path:
    names = [*servers, *agents]
    vms = "\n".join(f"  - {{name: {n}, role: general, env: kubernetes, ip: 10.213.99.{11 + i}}}"
                    for i, n in enumerate(names))
    path = directory / "homelab.yaml"
    path.write_text(LAB.format(vms=vms, servers=", ".join(servers), agents=", ".join(agents), batch=batch,
                               drain=drain, ready=ready))
    return path


def write_kubeconfig(path: Path, url: str) -> Path:
    path.write_text(f"apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c\n  cluster: "
                    f"{{server: '{url}'}}\ncontexts:\n- name: c\n  context: {{cluster: c, user: u}}\nusers:\n"
                    "- name: u\n  user: {token: test-token}\n")
    return path


class FakeClock:
    """Monotonic time that moves only when slept: waits and timeouts without waiting."""

    def __init__(self):
        self.t = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds

    def now(self) -> float:
        return self.t
