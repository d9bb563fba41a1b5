"""Details of individual rules that one pass/fail fixture pair cannot show."""

from __future__ import annotations

import pytest

from homelab.checks import run_checks
from homelab.checks.rules.chart_unpinned import EXACT
from homelab.checks.rules.gpu_device_unknown import normalise
from homelab.lab.load import load_text
from homelab.lab.models.roles import STANDARD_ROLES
from homelab.lab.types import GIB

BASE = """version: 1
name: t
network: {cidr: 10.0.0.0/24, gateway: 10.0.0.1, dns: [10.0.0.1], domain: lab.example.org,
          pools: {vms: 10.0.0.20-10.0.0.99, metallb: 10.0.0.200-10.0.0.220}}
proxmox:
  vmid_range: [100, 999]
  nodes:
    - {name: pve1, cores: 16, memory: 256GiB, storages: {local-lvm: 8TiB}}
    - {name: pve2, cores: 16, memory: 256GiB, storages: {local-lvm: 8TiB}}
vault:
  secrets:
    - {path: infra/proxmox, fields: [api_token_id, api_token_secret]}
    - {path: k3s/cluster, fields: [token]}
"""


def check(extra: str, base: str = BASE):
    return [(d.rule, d.severity.value, d.message) for d in run_checks(load_text(base + extra, "t.yaml"))]


@pytest.mark.parametrize("version", ["4.1.1", "v1.21.1", "75.18.1", "1.0.0-rc.1", "2.0.0+build.5", "0.3.72"])
def test_exact_chart_versions(version):
    assert EXACT.match(version)


@pytest.mark.parametrize("version", ["^1.0.0", "~1.2.0", ">=41", "1.x", "*", "latest", "1.2", "1", "", "1.0.0 || 2.0.0",
                                     ">1.0.0 <2.0.0", "1.0.*"])
def test_chart_version_ranges_are_not_pinned(version):
    assert not EXACT.match(version)


def test_gpu_addresses_are_compared_normalised():
    assert normalise("01:00") == normalise("0000:01:00") == normalise("0000:01:00.0") == normalise("01:00.0")
    assert normalise("0000:01:00.1") != normalise("0000:01:00")
    assert normalise("0000:02:00") != normalise("0000:01:00")


def test_standard_roles_are_the_seed_resource_standards():
    # tech-stack.md "Resource Allocation Standards" (Plex's disk is "high storage allocation": not a number)
    seed = {"k8s-control-plane": (2, 2, 100), "k8s-worker": (4, 8, 200), "es-data": (4, 8, 1024),
            "es-master": (2, 4, 100), "vault": (2, 4, 50)}
    from homelab.lab.types import parse_size

    for role, (cores, mem, disk) in seed.items():
        spec = STANDARD_ROLES[role]
        assert (spec["cores"], parse_size(spec["memory"]) // GIB, parse_size(spec["disk"]) // GIB) == (cores, mem, disk)
    assert STANDARD_ROLES["plex"]["cores"] == 4 and parse_size(STANDARD_ROLES["plex"]["memory"]) == 32 * GIB


@pytest.mark.parametrize("role", sorted(STANDARD_ROLES))
def test_role_at_the_standard_is_fine_and_below_is_reported(role):
    spec = STANDARD_ROLES[role]
    at = f"vms:\n  - {{name: a, role: {role}, env: lab, cores: {spec['cores']}, memory: {spec['memory']}, " \
         f"disk: {spec['disk']}}}\n"
    assert [f for f in check(at) if f[0] == "role-below-standard"] == []
    below = f"vms:\n  - {{name: a, role: {role}, env: lab, cores: 1, memory: 1GiB, disk: 10GiB}}\n"
    found = [f for f in check(below) if f[0] == "role-below-standard"]
    assert len(found) == 3 and all(sev == "warning" for _, sev, _ in found)


def test_servers_placed_on_too_few_nodes_are_reported_as_placed():
    found = check("""vms:
  - {name: kube01, role: k8s-control-plane, env: kubernetes}
  - {name: kube02, role: k8s-control-plane, env: kubernetes}
  - {name: kube03, role: k8s-control-plane, env: kubernetes}
clusters:
  k3s: {servers: [kube01, kube02, kube03]}
""")
    assert found == [("ha-same-node", "warning",
                      "k3s servers kube01 and kube03 both run on Proxmox node pve1 (placed automatically)")]


def test_invalid_vmid_range_is_reported_once_and_vms_against_proxmox_limits():
    found = check("vms:\n  - {name: a, role: general, env: lab, vmid: 150}\n  - {name: b, role: general, env: lab}\n",
                  BASE.replace("vmid_range: [100, 999]", "vmid_range: [500, 200]"))
    assert [f[0] for f in found] == ["vmid-out-of-range", "vmid-range-exhausted"]
    assert found[0][2] == "proxmox.vmid_range [500, 200] is not a valid VMID range"


def test_gateway_on_the_broadcast_address():
    found = check("", BASE.replace("gateway: 10.0.0.1,", "gateway: 10.0.0.255,"))
    assert ("gateway-outside-network", "error",
            "gateway 10.0.0.255 is the network or broadcast address of 10.0.0.0/24") in found


def test_secret_references_of_every_layer_are_checked():
    found = check("""vms:
  - {name: kube01, role: k8s-control-plane, env: kubernetes}
clusters:
  k3s: {servers: [kube01], token: k3s/join#token}
storage:
  truenas: {host: nas, api_key: storage/truenas#api_key}
""")
    msgs = [m for rule, _, m in found if rule == "unknown-secret"]
    assert msgs == ["secret 'k3s/join' is not in the catalogue (vault.secrets)",
                    "secret 'storage/truenas' is not in the catalogue (vault.secrets)"]


def test_platform_components_off_disable_the_k3s_and_metallb_rules():
    text = """vms:
  - {name: kube01, role: k8s-control-plane, env: kubernetes}
  - {name: kube02, role: k8s-control-plane, env: kubernetes}
  - {name: kube03, role: k8s-control-plane, env: kubernetes}
clusters:
  k3s: {servers: [kube01, kube02, kube03], disable: []}
platform:
  metallb: {enabled: false, namespace: metallb-system, chart: {repo: "https://x", name: metallb, version: 0.16.1}}
  traefik: {enabled: false, namespace: traefik, chart: {repo: "https://x", name: traefik, version: 41.3.0}}
"""
    base = BASE.replace("pools: {vms: 10.0.0.20-10.0.0.99, metallb: 10.0.0.200-10.0.0.220}",
                        "pools: {vms: 10.0.0.20-10.0.0.99}")
    rules = {f[0] for f in check(text, base)}
    assert not rules & {"k3s-disable-conflict", "metallb-pool-missing"}
    rules = {f[0] for f in check(text.split("platform:")[0], base)}
    assert {"k3s-disable-conflict", "metallb-pool-missing"} <= rules
