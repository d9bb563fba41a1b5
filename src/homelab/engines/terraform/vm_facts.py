"""Live attributes of a Proxmox VM, read from a `proxmox_vm_qemu` (telmate/proxmox 3.x) in Terraform's state.

In `terraform show -json` state every nested block is a list: `cpu = [{cores, sockets, type}]`,
`network = [{id, model, bridge, tag}]` (tag 0 = untagged), and the disks nest by bus and slot,
`disks = [{scsi = [{scsi0 = [{disk = [{size, storage}]}]}], ide = [...]}]`. A size is a string such as
"100G" or "1T". `ipconfig0` is cloud-init's "ip=192.168.10.71/24,gw=192.168.10.1" (or "ip=dhcp").
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)B?\s*$", re.IGNORECASE)
_GIB_PER = {"": 1, "K": 1 / (1024 * 1024), "M": 1 / 1024, "G": 1, "T": 1024}


def _size_gib(size) -> int | None:
    if isinstance(size, (int, float)):
        return int(size)
    m = _SIZE_RE.match(str(size or ""))
    if not m:
        return None
    return max(1, round(float(m.group(1)) * _GIB_PER[m.group(2).upper()]))


def _first_disk(tree):
    """The first `disk {}` (size, storage) inside the provider's nested `disks` structure."""
    if isinstance(tree, dict):
        disk = tree.get("disk")
        if isinstance(disk, list) and disk and isinstance(disk[0], dict) and "size" in disk[0]:
            return disk[0]
        for key in sorted(tree):
            found = _first_disk(tree[key])
            if found:
                return found
    elif isinstance(tree, list):
        for item in tree:
            found = _first_disk(item)
            if found:
                return found
    return None


def proxmox_vm_facts(values: Mapping) -> dict:
    """Live attributes of a `proxmox_vm_qemu` in the planner's vocabulary (plan/desired.py `proxmox_vm`).
    Only what can be read reliably is reported: the planner compares only the keys an engine reports."""
    out: dict = {}
    if values.get("target_node"):
        out["node"] = values["target_node"]
    if values.get("vmid") is not None:
        out["vmid"] = values["vmid"]
    cpu = values.get("cpu")
    if isinstance(cpu, list) and cpu and isinstance(cpu[0], dict) and cpu[0].get("cores") is not None:
        out["cores"] = cpu[0]["cores"]
    elif values.get("cores") is not None:
        out["cores"] = values["cores"]
    if values.get("memory") is not None:
        out["memory_mib"] = values["memory"]
    if values.get("clone"):
        out["template"] = values["clone"]
    out.update(_disk_facts(values.get("disks")))
    out.update(_network_facts(values.get("network"), values.get("ipconfig0")))
    return out


def _disk_facts(disks) -> dict:
    out: dict = {}
    disk = _first_disk(disks)
    if disk:
        if _size_gib(disk.get("size")) is not None:
            out["disk_gib"] = _size_gib(disk.get("size"))
        if disk.get("storage"):
            out["storage"] = disk["storage"]
    return out


def _network_facts(net, ipconfig) -> dict:
    out: dict = {}
    if isinstance(net, list) and net and isinstance(net[0], dict):
        if net[0].get("bridge"):
            out["bridge"] = net[0]["bridge"]
        if "tag" in net[0]:
            tag = net[0].get("tag")
            out["vlan"] = tag if isinstance(tag, int) and tag > 0 else None
    if isinstance(ipconfig, str):
        parts = dict(p.split("=", 1) for p in ipconfig.split(",") if "=" in p)
        ip = parts.get("ip")
        if ip and ip != "dhcp":
            out["ip"] = ip.split("/", 1)[0]
        if parts.get("gw"):
            out["gateway"] = parts["gw"]
    return out
