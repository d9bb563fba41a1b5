from __future__ import annotations

import typer

from homelab.cli._output import check_format, emit, emit_json, load_or_exit
from homelab.cli.options import FormatOption


def inventory(file: str = typer.Argument("homelab.yaml", help="The lab file."), fmt: str = FormatOption):
    """List the VMs: name, role, env, node, IP, VMID, cores, memory, disk."""
    check_format(fmt)
    from homelab.lab.types import format_size

    doc = load_or_exit(file, fmt)
    rows = []
    for vm in sorted(doc.inventory.vms, key=lambda v: v.name):
        rows.append({
            "name": vm.name, "role": vm.role, "env": vm.env, "node": vm.node, "ip": vm.ip,
            "vmid": vm.vmid, "cores": vm.cores, "memory_mib": vm.memory_mib, "disk_gib": vm.disk_gib,
            "fqdn": vm.fqdn, "gpu": bool(vm.gpu),
            "allocated": sorted(k for k, v in (("ip", vm.ip_allocated), ("vmid", vm.vmid_allocated),
                                               ("node", vm.node_placed)) if v),
        })
    if fmt == "json":
        emit_json({"vms": rows})
        return
    headers = ["NAME", "ROLE", "ENV", "NODE", "IP", "VMID", "CORES", "MEMORY", "DISK"]
    table = [headers]
    for r, vm in zip(rows, sorted(doc.inventory.vms, key=lambda v: v.name), strict=True):
        table.append([r["name"], r["role"], r["env"], r["node"] or "-", r["ip"] or "-",
                      str(r["vmid"] or "-"), str(r["cores"]), format_size(vm.memory), format_size(vm.disk)])
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    for row in table:
        emit("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def register(app: typer.Typer) -> None:
    app.command()(inventory)
