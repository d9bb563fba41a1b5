"""`homelab.lock`: the allocations homelab made, beside the lab file, so that they never move.

A VM without `ip:`, `vmid:` or `node:` in the lab gets them from `lab/resolve.py` (the first free
address of the pool, the lowest free VMID, the least committed node — in name order). Computed afresh,
those would change whenever another VM is added, removed or resized: a VM sorted before the others
takes their addresses, freed memory moves a VM to another node — and a changed VMID or node is a new
machine. So the first plan that sees an allocation records it here, and every later load keeps it:

    # homelab.lock -- written by `homelab plan` ...
    version: 1
    vms:
      kibana: {node: pve1}
      kube04: {ip: 192.168.10.20, vmid: 100, node: pve2}

* Only allocated values are recorded; a value pinned in the lab always wins (pin one to move a VM on
  purpose, or delete its entry to let homelab allocate it anew).
* A recorded value is kept while it is still valid (address in the network, not reserved, not in the
  MetalLB pool, not pinned by another VM; VMID in `proxmox.vmid_range`; node declared) — otherwise that
  VM is allocated anew and the plan shows it.
* Entries of VMs no longer in the lab stay while their machine is in state (`proxmox_vm.NAME`): their
  address and VMID are not handed to a new VM before the old one is destroyed. The next plan after
  the destroy drops them.
* A lab applied before this file existed (or whose lock was lost) adopts the allocations recorded in
  state for the VMs there, so nothing that exists moves either.

Written atomically by `Session.plan` (apply/session.py), only when it changes; keep it with the lab in
git. Read by `load_lab` (next to the lab file: `homelab.yaml` → `homelab.lock`).
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from pathlib import Path

from homelab.diagnostics import Diagnostic, Location, Severity
from homelab.errors import LoadError

VERSION = 1
HEADER = """\
# {name} -- written by `homelab plan`: the address, VMID and Proxmox node homelab
# allocated to each VM that {lab} does not pin. Recorded once, they never change when
# other VMs are added, removed or resized. Keep this file with {lab} (commit it).
# To move a VM on purpose, pin the value in {lab}; delete an entry to let homelab
# allocate that VM anew.
"""

@dataclass(frozen=True)
class Allocation:
    ip: str | None = None
    vmid: int | None = None
    node: str | None = None

    def to_json(self) -> dict:
        return {k: v for k, v in (("ip", self.ip), ("vmid", self.vmid), ("node", self.node)) if v is not None}

    def __bool__(self) -> bool:
        return bool(self.to_json())


Allocations = dict[str, Allocation]


def lock_path(lab_file: str | os.PathLike) -> Path:
    p = Path(lab_file)
    return p.with_name(f"{p.stem}.lock") if p.suffix in (".yaml", ".yml") else p.with_name(f"{p.name}.lock")


def beside(lab_path: str | os.PathLike) -> dict:
    """`lock` and `lock_file` of the lab file at `lab_path` (a file, or a directory holding homelab.yaml);
    no lock file for what is not a regular file (a pipe has no place beside it)."""
    p = Path(lab_path)
    real = p / "homelab.yaml" if p.is_dir() else p
    path = lock_path(real) if real.is_file() else None
    return {"lock": read_lock(path), "lock_file": path}


def _bad(path: Path, message: str) -> LoadError:
    return LoadError([Diagnostic("lock-invalid", Severity.ERROR, f"{path.name}: {message}", Location(str(path), 1, 1),
                                 f"fix it, or delete {path.name}: the next plan writes it again from the state")])


def _entry(path: Path, name, value) -> Allocation:
    if not isinstance(name, str) or not isinstance(value, dict) or set(value) - {"ip", "vmid", "node"}:
        raise _bad(path, f"entry {name!r} must map ip, vmid and node")
    ip, vmid, node = value.get("ip"), value.get("vmid"), value.get("node")
    try:
        ip = str(ipaddress.IPv4Address(ip)) if ip is not None else None
    except ValueError:
        raise _bad(path, f"{name}: {ip!r} is not an IPv4 address") from None
    if vmid is not None and (not isinstance(vmid, int) or isinstance(vmid, bool)):
        raise _bad(path, f"{name}: vmid {vmid!r} is not a number")
    if node is not None and not isinstance(node, str):
        raise _bad(path, f"{name}: node {node!r} is not a name")
    return Allocation(ip, vmid, node)


def read_lock(path: str | os.PathLike | None) -> Allocations:
    """The recorded allocations ({} when there is no lock file). A malformed file is a LoadError (exit 2)."""
    if path is None:
        return {}
    path = Path(path)
    if not path.is_file():
        return {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _bad(path, f"cannot be read: {type(exc).__name__}") from None
    data = _as_written(text)
    if data is None:  # edited into another YAML shape: read it as YAML
        import yaml  # PyYAML (libyaml), as the lab file itself is parsed

        try:
            data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError as exc:
            raise _bad(path, f"is not valid YAML ({type(exc).__name__})") from None
    if data is None:
        return {}
    if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("vms") or {}, dict):
        raise _bad(path, f"is not a version {VERSION} lock file (version: 1, vms: NAME: {{ip, vmid, node}})")
    return {name: _entry(path, name, value) for name, value in sorted((data.get("vms") or {}).items())}


_LINE = re.compile(r"^  ([A-Za-z0-9._-]+): \{([^{}]*)\}$")
_K3S = re.compile(r"^k3s_version: (v\d+\.\d+\.\d+\+k3s\d+)$")
_PAIR = re.compile(r"^(ip|vmid|node): ([A-Za-z0-9._-]+)$")


def _as_written(text: str) -> dict | None:
    """The lock in the exact shape `lock_text` writes, parsed line by line (PyYAML takes ~40 ms for 1,000
    VMs, this ~2 ms); None when the text has another shape."""
    vms: dict = {}
    head = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")
            and not _K3S.match(ln)]
    if head[:2] == [f"version: {VERSION}", "vms: {}"] and len(head) == 2:
        return {"version": VERSION, "vms": {}}
    if head[:2] != [f"version: {VERSION}", "vms:"]:
        return None
    for line in head[2:]:
        m = _LINE.match(line)
        if not m:
            return None
        entry = {}
        for pair in filter(None, (p.strip() for p in m.group(2).split(","))):
            pm = _PAIR.match(pair)
            if not pm:
                return None
            entry[pm.group(1)] = int(pm.group(2)) if pm.group(1) == "vmid" and pm.group(2).isdigit() else pm.group(2)
        vms[m.group(1)] = entry
    return {"version": VERSION, "vms": vms}


def read_k3s_version(path: str | os.PathLike | None) -> str | None:
    """The K3s version the lock records as running (written from state by `homelab plan`, and by
    `homelab upgrade k3s` when it finishes); None without one. Read by the k3s-version-skip check."""
    try:
        text = Path(path).read_text(encoding="utf-8") if path else ""
    except (OSError, UnicodeDecodeError):
        return None
    for line in text.splitlines():
        m = _K3S.match(line.strip())
        if m:
            return m.group(1)
    return None


def lock_text(allocations: Allocations, lab_name: str = "homelab.yaml", name: str = "homelab.lock",
              k3s_version: str | None = None) -> str:
    lines = [HEADER.format(name=name, lab=lab_name).rstrip("\n"), f"version: {VERSION}"]
    if k3s_version:
        lines.append(f"k3s_version: {k3s_version}")
    entries = {n: a.to_json() for n, a in sorted(allocations.items()) if a}
    if not entries:
        lines.append("vms: {}")
    else:
        lines.append("vms:")
        for vm, values in entries.items():
            inner = ", ".join(f"{k}: {v}" for k, v in values.items())
            lines.append(f"  {vm}: {{{inner}}}")
    return "\n".join(lines) + "\n"


def recorded(inventory, held_in_state: set[str], previous: Allocations) -> Allocations:
    """What the lock should hold now: the allocated values of every VM of the lab, and the previous
    entries of VMs gone from the lab whose machine is still in state."""
    out: Allocations = {}
    for vm in inventory.vms:
        out[vm.name] = Allocation(vm.ip if vm.ip_allocated else None, vm.vmid if vm.vmid_allocated else None,
                                  vm.node if vm.node_placed else None)
    names = {vm.name for vm in inventory.vms}
    for name, alloc in previous.items():
        if name not in names and name in held_in_state:
            out[name] = alloc
    return {n: a for n, a in sorted(out.items()) if a}


def _stored(ip, vmid, node) -> Allocation:
    return Allocation(ip if isinstance(ip, str) else None,
                      vmid if isinstance(vmid, int) and not isinstance(vmid, bool) else None,
                      node if isinstance(node, str) else None)


def adopt(lock: Allocations, lab, state_vms: dict[str, dict]) -> Allocations:
    """The lock, completed with what the state recorded: for VMs of the lab, the values the lab does not pin
    and the lock has not; VMs gone from the lab but still in state are held as they are there."""
    out = dict(lock)
    in_lab = {vm.name for vm in lab.vms}
    for vm in lab.vms:
        stored = state_vms.get(vm.name)
        if not stored:
            continue
        have = out.get(vm.name, Allocation())
        out[vm.name] = _stored(have.ip or (stored.get("ip") if vm.ip is None else None),
                               have.vmid if have.vmid is not None else (stored.get("vmid") if vm.vmid is None
                                                                        else None),
                               have.node or (stored.get("node") if vm.node is None else None))
    for name, stored in state_vms.items():
        if name not in in_lab and name not in out:
            out[name] = _stored(stored.get("ip"), stored.get("vmid"), stored.get("node"))
    return {n: a for n, a in out.items() if a}


def lock_update(path: Path, allocations: Allocations, lab_name: str, k3s_version: str | None = None) -> str | None:
    """The new text of the lock file, or None when nothing changes (no lock file is created for a lab
    that has nothing to record). `k3s_version`: the K3s version running (None keeps what is recorded).
    The caller writes it atomically."""
    text = lock_text(allocations, Path(lab_name).name, path.name, k3s_version or read_k3s_version(path))
    try:
        if path.read_text(encoding="utf-8") == text:
            return None
    except OSError:
        if not allocations and not k3s_version:
            return None
    return text
