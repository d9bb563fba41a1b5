"""`docs/inventory.md`: every VM, what each Terraform environment holds, what each Proxmox node carries.

Values homelab allocated (node, IP, VMID) are marked *(auto)* so the reader knows what to pin. The
node table sets committed vCPU, memory and disk against the node's capacity, the same sums the
`node-*-overcommit` rules check.
"""

from __future__ import annotations

from homelab.render.docs.markdown import NONE, by_name, md_header, percent, section, size, table


def _gpu(vm) -> str:
    if not vm.gpu:
        return NONE
    return f"{vm.gpu.model} ({vm.gpu.device})"


def _auto(value, allocated: bool) -> str:
    if value is None:
        return "unallocated"
    return f"{value} (auto)" if allocated else str(value)


def _vms(vms) -> str:
    return table(
        ["Name", "FQDN", "Role", "Env", "Node", "IP", "VMID", "Cores", "Memory", "Disk", "GPU"],
        [[vm.name, vm.fqdn, vm.role, vm.env, _auto(vm.node, vm.node_placed), _auto(vm.ip, vm.ip_allocated),
          _auto(vm.vmid, vm.vmid_allocated), vm.cores, size(vm.memory), size(vm.disk), _gpu(vm)] for vm in vms],
        "lllllllrrrl",
    )


def _totals(label: str, vms) -> list:
    return [label, len(vms), sum(v.cores for v in vms), size(sum(v.memory for v in vms)),
            size(sum(v.disk for v in vms))]


def _environments(lab, vms) -> str:
    envs = sorted(set(lab.environments) | {vm.env for vm in vms})
    rows = [_totals(f"`tf/{env}/`", [vm for vm in vms if vm.env == env]) for env in envs]
    rows.append(_totals("**total**", vms))
    return table(["Environment", "VMs", "Cores", "Memory", "Disk"], rows, "lrrrr")


def _node_disks(node, members) -> str:
    disks = []
    for storage in sorted(set(node.storages) | {v.storage for v in members}):
        used = sum(v.disk for v in members if v.storage == storage)
        cap = node.storages.get(storage)
        if cap is None:
            disks.append(f"{storage}: {size(used)} / not on this node")
        else:
            disks.append(f"{storage}: {size(used)} / {size(cap)} ({percent(used, cap)})")
    return "<br>".join(disks)


def _nodes(lab, vms) -> str:
    rows = []
    for node in by_name(lab.proxmox.nodes):
        members = [vm for vm in vms if vm.node == node.name]
        cores = sum(v.cores for v in members)
        memory = sum(v.memory for v in members)
        rows.append([
            node.name, len(members),
            f"{cores} / {node.cores} ({percent(cores, node.cores)})",
            f"{size(memory)} / {size(node.memory)} ({percent(memory, node.memory)})",
            _node_disks(node, members), ", ".join(sorted(node.gpus)) or NONE,
        ])
    return table(["Node", "VMs", "vCPU / cores", "Memory", "Disk by storage", "GPUs"], rows, "lrrrll")


def render_inventory(doc) -> str:
    lab = doc.lab
    vms = by_name(doc.inventory.vms)
    out = [md_header(f"Inventory — {lab.name}")]
    out.append(
        f"{len(vms)} virtual machines on {len(lab.proxmox.nodes)} Proxmox VE nodes, cloned from the "
        f"`{lab.proxmox.template.name}` template ({lab.proxmox.template.os}, cloud-init). "
        "Values marked *(auto)* were allocated by homelab; pin them in `homelab.yaml` to keep them "
        "stable for ever.\n"
    )
    out.append(section("Virtual machines", _vms(vms)))
    out.append(section("Terraform environments", _environments(lab, vms)))
    out.append(section("Proxmox nodes: committed vs capacity", _nodes(lab, vms)))
    out.append("\nvCPUs may be over-committed; memory and disk may not (rules `node-memory-overcommit` and `node-disk-overcommit`).\n")
    known = {n.name for n in lab.proxmox.nodes}
    stray = [vm for vm in vms if vm.node not in known]
    if stray:
        out.append("\nVMs on no known node: " + ", ".join(f"`{vm.name}` ({vm.node or 'unplaced'})" for vm in stray)
                   + ".\n")
    return "".join(out)
