"""Resolve the lab into concrete VMs: effective resources, allocated IPs and VMIDs, placement.

Pure and deterministic. Allocation walks VMs in name order so reordering the file changes
nothing. Allocation never fails: what cannot be allocated stays None and a check reports it.
Pinning addresses in the file (what `homelab vm add` does) keeps them stable for ever; so does the
lock (lab/lock.py): an allocation recorded there is kept while it stays valid, and only VMs with
none are allocated afresh. Precedence: pinned in the lab > recorded in the lock > allocated.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from homelab.lab.lock import Allocation, Allocations
from homelab.lab.models import Lab
from homelab.lab.models.roles import Role, builtin_roles
from homelab.lab.types import GIB, MIB, parse_range


@dataclass(frozen=True)
class ResolvedVm:
    name: str
    index: int  # position in lab.vms (for locations)
    role: str
    env: str
    node: str | None
    ip: str | None
    vmid: int | None
    cores: int
    memory: int  # bytes
    disk: int  # bytes
    storage: str
    tags: tuple[str, ...]
    gpu: object | None
    fqdn: str
    ip_allocated: bool = False
    vmid_allocated: bool = False
    node_placed: bool = False
    description: str = ""

    @property
    def memory_mib(self) -> int:
        return self.memory // MIB

    @property
    def disk_gib(self) -> int:
        return max(1, -(-self.disk // GIB))

    @property
    def groups(self) -> tuple[str, ...]:
        return ()


@dataclass
class Inventory:
    vms: list[ResolvedVm] = field(default_factory=list)
    roles: dict[str, Role] = field(default_factory=dict)
    held: dict[str, Allocation] = field(default_factory=dict)  # lock entries of VMs gone from the lab

    @property
    def by_name(self) -> dict[str, ResolvedVm]:
        return {vm.name: vm for vm in self.vms}

    def env(self, env: str) -> list[ResolvedVm]:
        return [vm for vm in self.vms if vm.env == env]


def effective_roles(lab: Lab) -> dict[str, Role]:
    roles = builtin_roles()
    roles.update(lab.roles)
    return roles


def spread_group(lab: Lab, name: str) -> str | None:
    """VMs in the same group should sit on different Proxmox nodes (HA)."""
    k3s, es = lab.clusters.k3s, lab.clusters.elasticsearch
    if k3s and name in k3s.servers:
        return "k3s-servers"
    if es and name in es.master_nodes:
        return "es-masters"
    if es and name in es.data_nodes:
        return "es-data"
    if k3s and name in k3s.agents:
        return "k3s-agents"
    return None


def reserved_addresses(lab: Lab) -> set[str]:
    net = ipaddress.IPv4Network(lab.network.cidr)
    reserved = {str(net.network_address), str(net.broadcast_address), lab.network.gateway, *lab.network.dns}
    return reserved


def _pool_candidates(lab: Lab):
    # Integer arithmetic, clamped to the network's host addresses, skipping the MetalLB range in one
    # step: a pool outside the network (reported by a check) must not make this loop run for ever.
    net = ipaddress.IPv4Network(lab.network.cidr)
    first, last = int(net.network_address) + 1, int(net.broadcast_address) - 1
    if lab.network.pools.vms:
        lo, hi = (int(a) for a in parse_range(lab.network.pools.vms))
        lo, hi = max(lo, first), min(hi, last)
    else:
        lo, hi = first, last
    metallb = tuple(int(a) for a in parse_range(lab.network.pools.metallb)) if lab.network.pools.metallb else None
    addr = lo
    while addr <= hi:
        if metallb and metallb[0] <= addr <= metallb[1]:
            addr = metallb[1] + 1
            continue
        yield str(ipaddress.IPv4Address(addr))
        addr += 1


def _held(lab: Lab, lock: Allocations) -> dict[str, Allocation]:
    names = {vm.name for vm in lab.vms}
    return {name: alloc for name, alloc in lock.items() if name not in names}


def _ip_checker(lab: Lab):
    """(ip, taken) -> may this recorded address be kept? In the network, not its network or broadcast
    address, not in the MetalLB pool, not taken. The network is parsed once, not per VM."""
    net = ipaddress.IPv4Network(lab.network.cidr)
    lo, hi = int(net.network_address) + 1, int(net.broadcast_address) - 1
    metallb = tuple(int(a) for a in parse_range(lab.network.pools.metallb)) if lab.network.pools.metallb else None

    def ok(ip: str | None, taken: set[str]) -> bool:
        if not ip or ip in taken:
            return False
        n = int(ipaddress.IPv4Address(ip))
        return lo <= n <= hi and not (metallb and metallb[0] <= n <= metallb[1])

    return ok


def _allocate_ips(lab: Lab, lock: Allocations) -> dict[str, tuple[str | None, bool]]:
    """Pinned addresses first, then the lock's, then allocate in name order: name -> (ip, allocated)."""
    taken_ips = reserved_addresses(lab) | {vm.ip for vm in lab.vms if vm.ip}
    taken_ips |= {a.ip for a in _held(lab, lock).values() if a.ip}
    ips: dict[str, tuple[str | None, bool]] = {}
    locked_ok = _ip_checker(lab) if lock else None
    for vm in sorted(lab.vms, key=lambda v: v.name):
        if vm.ip:
            ips.setdefault(vm.name, (vm.ip, False))
        elif vm.name not in ips and locked_ok and locked_ok(lock.get(vm.name, Allocation()).ip, taken_ips):
            ips[vm.name] = (lock[vm.name].ip, True)
            taken_ips.add(lock[vm.name].ip)
    candidates = None
    for vm in sorted(lab.vms, key=lambda v: v.name):
        if vm.name in ips:
            continue
        if candidates is None:
            candidates = (ip for ip in _pool_candidates(lab) if ip not in taken_ips)
        ip = next(candidates, None)
        if ip:
            taken_ips.add(ip)
        ips[vm.name] = (ip, True)
    return ips


def _allocate_vmids(lab: Lab, lock: Allocations) -> dict[str, tuple[int | None, bool]]:
    lo, hi = lab.proxmox.vmid_range
    taken_ids = {vm.vmid for vm in lab.vms if vm.vmid is not None}
    taken_ids |= {a.vmid for a in _held(lab, lock).values() if a.vmid is not None}
    vmids: dict[str, tuple[int | None, bool]] = {}
    for vm in sorted(lab.vms, key=lambda v: v.name):
        if vm.vmid is not None:
            vmids.setdefault(vm.name, (vm.vmid, False))
            continue
        locked = lock.get(vm.name, Allocation()).vmid
        if vm.name not in vmids and locked is not None and lo <= locked <= hi and locked not in taken_ids:
            vmids[vm.name] = (locked, True)
            taken_ids.add(locked)
    next_id = lo
    for vm in sorted(lab.vms, key=lambda v: v.name):
        if vm.name in vmids:
            continue
        while next_id in taken_ids and next_id <= hi:
            next_id += 1
        if next_id <= hi:
            taken_ids.add(next_id)
            vmids[vm.name] = (next_id, True)
            next_id += 1
        else:
            vmids[vm.name] = (None, True)
    return vmids


def _place(lab: Lab, memory_of, lock: Allocations) -> dict[str, tuple[str | None, bool]]:
    """Pinned first, then the lock's; then name order, spreading HA groups, then least memory committed."""
    node_names = sorted(n.name for n in lab.proxmox.nodes)
    capacity = {n.name: n.memory for n in lab.proxmox.nodes}
    committed = dict.fromkeys(node_names, 0)
    group_nodes: dict[str, dict[str, int]] = {}
    placement: dict[str, tuple[str | None, bool]] = {}
    for vm in lab.vms:
        locked = lock.get(vm.name, Allocation()).node
        if vm.node or (locked in committed and vm.name not in placement):
            node = vm.node or locked
            placement.setdefault(vm.name, (node, not vm.node))
            if node in committed:
                committed[node] += memory_of(vm)
                group = spread_group(lab, vm.name)
                if group:
                    counts = group_nodes.setdefault(group, {})
                    counts[node] = counts.get(node, 0) + 1
    for vm in sorted(lab.vms, key=lambda v: v.name):
        if vm.name in placement or not node_names:
            continue
        group = spread_group(lab, vm.name)
        counts = group_nodes.setdefault(group, {}) if group else {}
        mem = memory_of(vm)
        best = min(node_names, key=lambda n: (counts.get(n, 0), (committed[n] + mem) / max(capacity[n], 1), n))
        committed[best] += mem
        if group:
            counts[best] = counts.get(best, 0) + 1
        placement[vm.name] = (best, True)
    return placement


def resolve(lab: Lab, lock: Allocations | None = None) -> Inventory:
    """The lab's VMs, resolved. `lock`: allocations recorded before (lab/lock.py), kept while valid."""
    lock = lock or {}
    roles = effective_roles(lab)
    default_role = Role(cores=2, memory="2GiB", disk="32GiB")

    def resources(vm):
        role = roles.get(vm.role, default_role)
        return (vm.cores or role.cores, vm.memory or role.memory, vm.disk or role.disk)

    ips, vmids = _allocate_ips(lab, lock), _allocate_vmids(lab, lock)
    placement = _place(lab, lambda vm: resources(vm)[1], lock)
    inv = Inventory(roles=roles, held=_held(lab, lock))
    for index, vm in enumerate(lab.vms):
        cores, memory, disk = resources(vm)
        ip, ip_alloc = ips.get(vm.name, (vm.ip, False))
        vmid, id_alloc = vmids.get(vm.name, (vm.vmid, False))
        node, placed = placement.get(vm.name, (vm.node, False))
        inv.vms.append(ResolvedVm(
            name=vm.name, index=index, role=vm.role, env=vm.env, node=node, ip=ip, vmid=vmid,
            cores=cores, memory=memory, disk=disk, storage=vm.storage or lab.proxmox.storage,
            tags=tuple(sorted(set(vm.tags) | {vm.role, vm.env})), gpu=vm.gpu,
            fqdn=f"{vm.name}.{lab.network.domain}", ip_allocated=ip_alloc, vmid_allocated=id_alloc,
            node_placed=placed, description=vm.description,
        ))
    return inv
