"""Generate a synthetic lab of any size that checks clean, for benchmarks.

    python bench/generate.py --vms 1000 > lab.yaml

The lab is the reference lab (examples/reference/homelab.yaml: its Vault, PKI, storage, GitOps,
platform and backup sections) scaled up: a /16 network, enough Proxmox nodes for the VMs' memory and
disk at ~60% use, a K3s cluster (3 or 5 servers, many agents, one GPU agent), an Elasticsearch cluster
(3 or 5 masters, many data nodes), the seed's service VMs, general-purpose VMs, and about one app per
ten VMs on top of the seed's apps. Deterministic: the same arguments give the same bytes. Some
addresses, VMIDs and nodes are pinned, the rest is left to homelab to allocate, as in a real lab.
"""

from __future__ import annotations

import argparse
import copy
import io
import math
import sys
from pathlib import Path

REFERENCE = Path(__file__).resolve().parent.parent / "examples" / "reference" / "homelab.yaml"
MIN_VMS = 16
GIB = 1024**3
TIB = 1024**4

# role -> (memory GiB, disk GiB) of the built-in roles (the seed's standards), to size the nodes.
ROLE_SIZE = {
    "k8s-control-plane": (2, 100), "k8s-worker": (8, 200), "es-data": (8, 1024), "es-master": (4, 100),
    "plex": (32, 500), "vault": (4, 50), "kibana": (4, 50), "fleet": (4, 50), "infra": (4, 50),
    "proxy": (2, 32), "torrent": (4, 100), "general": (2, 32),
}
NODE_MEMORY_GIB = 512
NODE_DISK_TIB = 48
NODE_CORES = 96
GPU_MEMORY_GIB = 24
GPU_DEVICE = "0000:01:00"


def _ip(n: int) -> str:
    """The n-th address of 10.20.0.0/16 (0 = network address)."""
    return f"10.20.{n // 256}.{n % 256}"


def plan_vms(total: int) -> list[dict]:
    """The VM list: service VMs, cluster members and general VMs, `total` in all."""
    servers = 5 if total >= 500 else 3
    masters = 5 if total >= 500 else 3
    service = [("vault", "vault", "vault"), ("kibana", "kibana", "lab"), ("fleet", "fleet", "lab"),
               ("plex", "plex", "home-apps"), ("torrent", "torrent", "home-apps"),
               ("proxy", "proxy", "home-apps"), ("infra", "infra", "home-apps")]
    rest = total - len(service) - servers - masters
    agents = max(1, round(rest * 0.4))
    data = max(1, round(rest * 0.3))
    general = rest - agents - data
    width = len(str(total))
    vms: list[dict] = []
    for name, role, env in service:
        vms.append({"name": name, "role": role, "env": env})
    vms += [{"name": f"k3s-cp-{i:02d}", "role": "k8s-control-plane", "env": "kubernetes"} for i in range(1, servers + 1)]
    vms += [{"name": f"k3s-worker-{i:0{width}d}", "role": "k8s-worker", "env": "kubernetes"}
            for i in range(1, agents + 1)]
    vms += [{"name": f"es-master-{i:02d}", "role": "es-master", "env": "lab"} for i in range(1, masters + 1)]
    vms += [{"name": f"es-data-{i:0{width}d}", "role": "es-data", "env": "lab"} for i in range(1, data + 1)]
    vms += [{"name": f"vm-{i:0{width}d}", "role": "general", "env": ("lab", "home-apps")[i % 2]}
            for i in range(1, general + 1)]
    assert len(vms) == total, (len(vms), total)
    return vms


def node_count(vms: list[dict]) -> int:
    memory = sum(ROLE_SIZE[v["role"]][0] for v in vms) + GPU_MEMORY_GIB
    disk = sum(ROLE_SIZE[v["role"]][1] for v in vms)
    by_memory = memory / (NODE_MEMORY_GIB * 0.6)
    by_disk = disk / (NODE_DISK_TIB * 1024 * 0.6)
    return max(3, math.ceil(max(by_memory, by_disk)))


def generate(total: int) -> dict:
    from ruamel.yaml import YAML

    if total < MIN_VMS:
        raise ValueError(f"a generated lab needs at least {MIN_VMS} VMs (service VMs and HA clusters)")
    base = YAML(typ="safe", pure=True).load(REFERENCE.read_text(encoding="utf-8"))
    lab = copy.deepcopy(base)
    lab["name"] = f"bench-{total}"
    metallb_first = _ip(255 * 256 + 200)
    lab["network"] = {
        "cidr": "10.20.0.0/16",
        "gateway": _ip(1),
        "dns": [_ip(1), metallb_first],
        "domain": base["network"]["domain"],
        "pools": {"vms": f"{_ip(20)}-{_ip(254 * 256 + 254)}", "metallb": f"{metallb_first}-{_ip(255 * 256 + 250)}"},
        # the reference lab's machines outside the VMs (TrueNAS), below the VM pool
        "hosts": [{**h, "ip": _ip(10 + i)} for i, h in enumerate(base["network"].get("hosts", []))],
    }
    vms = plan_vms(total)
    n_nodes = node_count(vms)
    nodes = [{"name": f"pve{i:02d}", "cores": NODE_CORES, "memory": f"{NODE_MEMORY_GIB}GiB",
              "storages": {"local-lvm": f"{NODE_DISK_TIB}TiB"}} for i in range(1, n_nodes + 1)]
    nodes[0]["gpus"] = [GPU_DEVICE]
    lab["proxmox"]["nodes"] = nodes
    lab["proxmox"]["vmid_range"] = [100, 100 + 2 * total + 1000]

    # Pin what a real operator pins: the HA members (one per node), the service VMs' addresses and
    # VMIDs, and every fourth VM's address; the rest is allocated by homelab.
    servers = [v["name"] for v in vms if v["role"] == "k8s-control-plane"]
    agents = [v["name"] for v in vms if v["role"] == "k8s-worker"]
    masters = [v["name"] for v in vms if v["role"] == "es-master"]
    data = [v["name"] for v in vms if v["role"] == "es-data"]
    pinned_nodes = {name: nodes[i % n_nodes]["name"] for i, name in enumerate(servers)}
    pinned_nodes.update({name: nodes[(i + 1) % n_nodes]["name"] for i, name in enumerate(masters)})
    gpu_agent = agents[0]
    pinned_nodes[gpu_agent] = nodes[0]["name"]
    for i, vm in enumerate(vms):
        if i < 7 or vm["name"] in pinned_nodes or i % 4 == 0:
            vm["ip"] = _ip(20 + i)
            vm["vmid"] = 100 + i
        if vm["name"] in pinned_nodes:
            vm["node"] = pinned_nodes[vm["name"]]
    gpu_vm = next(v for v in vms if v["name"] == gpu_agent)
    gpu_vm["memory"] = f"{GPU_MEMORY_GIB}GiB"
    gpu_vm["gpu"] = {"device": GPU_DEVICE, "model": "nvidia-tesla"}
    lab["vms"] = vms
    domain = lab["network"]["domain"]

    k3s = lab["clusters"]["k3s"]
    k3s["servers"], k3s["agents"] = servers, agents
    k3s["tls_sans"] = [f"cp.{domain}"] + [v["ip"] for v in vms if v["name"] in servers]
    k3s["gpu"]["nodes"] = [gpu_agent]
    es = lab["clusters"]["elasticsearch"]
    es["data_nodes"], es["master_nodes"] = data, masters
    lab["storage"]["truenas"]["allowed_networks"] = [lab["network"]["cidr"]]

    # Apps: the seed's, plus synthetic ones (one per ten VMs) spread over team namespaces.
    apps = lab["apps"]
    for app in apps:
        if app["name"] == "pihole":
            app["values"]["serviceDns"]["loadBalancerIP"] = metallb_first
    if lab["platform"].get("traefik", {}).get("load_balancer_ip"):
        lab["platform"]["traefik"]["load_balancer_ip"] = _ip(255 * 256 + 201)  # the next pool address
    extra = max(0, total // 10)
    teams = max(1, extra // 10)
    namespaces = list(lab["namespaces"]) + [f"team-{t:02d}" for t in range(teams)]
    lab["namespaces"] = namespaces
    width = len(str(extra))
    for i in range(extra):
        name = f"svc-{i:0{width}d}"
        app = {
            "name": name,
            "namespace": f"team-{i % teams:02d}",
            "chart": {"repo": "https://bjw-s-labs.github.io/helm-charts", "name": "app-template", "version": "4.1.1"},
            "image": {"repository": f"ghcr.io/example/{name}", "tag": f"1.{i % 7}.{i % 5}"},
            "port": 8000 + i % 1000,
            "ingress": f"{name}.{domain}",
            "storage": [{"name": "data", "size": f"{1 + i % 20}GiB", "mount": "/data"}],
            "resources": {"cpu": "500m", "memory": "512MiB", "memory_limit": "1GiB"},
        }
        if i % 3 == 0:
            app["secrets"] = [{"path": f"apps/{name}", "field": "api_key", "env": "API_KEY"}]
            lab["vault"]["secrets"].append({"path": f"apps/{name}", "fields": ["api_key"],
                                            "generate": {"length": 32}})
        if i % 2 == 0:
            app["backup"] = {"schedule": "daily", "retention_days": 7 + i % 24}
        apps.append(app)
    return lab


def dump(lab: dict) -> str:
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.width = 4096
    yaml.sort_base_mapping_type_on_output = False
    buf = io.StringIO()
    buf.write(f"# Synthetic lab generated by bench/generate.py ({len(lab['vms'])} VMs). Not a real lab.\n")
    yaml.dump(lab, buf)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=1000, help=f"number of VMs (at least {MIN_VMS})")
    parser.add_argument("-o", "--output", help="write here instead of stdout")
    args = parser.parse_args(argv)
    if args.vms < MIN_VMS:
        parser.error(f"--vms must be at least {MIN_VMS}")
    text = dump(generate(args.vms))
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
