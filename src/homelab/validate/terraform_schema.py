"""The argument schema of the pinned Terraform providers, as data: which arguments and nested blocks each
resource, data source and provider block accepts. Written from the providers' sources, not from the
renderer (the facts in shared/reference/platform-facts.md):

- Telmate/proxmox 3.x `proxmox_vm_qemu` — docs/resources/vm_qemu.md and the schema code
  proxmox/Internal/resource/guest/qemu/{cpu,disk,network,cloudinit}/schema*.go: §1.3 top-level arguments
  (without the deprecated ones that conflict with the blocks: top-level cores/sockets/cpu_type/numa/vcpus
  conflict with `cpu {}`, the legacy `disk {}` with `disks {}`, `hostpci` is deprecated for `pci`), §1.4
  `cpu`, §1.5 `disks`, §1.6 `network`, §1.7 `serial`, the "PCI Block" (PR #1162, v3.0.1-rc5+); the power
  state argument is `vm_state` up to rc08 and `power_state` from rc09;
- provider "proxmox" arguments — docs/index.md (§1.2);
- hashicorp/vault — website/docs/index.html.markdown (provider, auth_login_userpass, auth_login) and
  d/kv_secret_v2.html.md (§2).
"""

from __future__ import annotations

import re

VM_TOP_LEVEL = frozenset({
    "name", "target_node", "target_nodes", "vmid", "clone", "clone_id", "full_clone", "agent", "os_type",
    "memory", "balloon", "scsihw", "boot", "bios", "ciuser", "cipassword", "cicustom", "ciupgrade",
    "searchdomain", "nameserver", "sshkeys", *(f"ipconfig{i}" for i in range(16)), "skip_ipv4", "skip_ipv6",
    "agent_timeout", "tags", "pool", "description", "start_at_node_boot", "protection", "hastate", "hagroup",
    "machine",
})
DISK_ARGS = frozenset({
    "size", "storage", "cache", "discard", "iothread", "emulatessd", "format", "backup", "replicate", "serial",
    "asyncio", "iops_r_burst", "iops_r_burst_length", "iops_r_concurrent", "iops_wr_burst", "iops_wr_burst_length",
    "iops_wr_concurrent", "mbps_r_burst", "mbps_r_concurrent", "mbps_wr_burst", "mbps_wr_concurrent", "readonly",
    "wwn",
})
SLOT_COUNT = {"ide": 4, "sata": 6, "scsi": 31, "virtio": 16}
PCI_ARGS = frozenset({"id", "mapping_id", "raw_id", "pcie", "primary_gpu", "rombar", "device_id", "vendor_id",
                      "sub_device_id", "sub_vendor_id", "mdev"})
CPU_FLAGS = frozenset({"md_clear", "pcid", "spec_ctrl", "ssbd", "ibpb", "virt_ssbd", "amd_ssbd", "amd_no_ssb",
                       "pbpe1gb", "hv_tlbflush", "hv_evmcs", "aes"})


def slot(args=(), blocks=None) -> dict:
    return {"args": frozenset(args), "blocks": blocks or {}}


def _slot_kinds(ctrl: str) -> dict:
    no_iothread = DISK_ARGS - {"iothread"}  # iothread on scsi/virtio only
    cdrom = slot({"iso", "passthrough"})
    if ctrl in ("ide", "sata"):
        return slot({"ignore"}, {"cdrom": cdrom, "cloudinit": slot({"storage"}), "disk": slot(no_iothread - {"readonly"}),
                                 "passthrough": slot()})
    if ctrl == "scsi":
        return slot({"ignore"}, {"cdrom": cdrom, "cloudinit": slot({"storage"}), "disk": slot(DISK_ARGS),
                                 "passthrough": slot()})
    return slot({"ignore"}, {"cdrom": cdrom, "disk": slot(DISK_ARGS - {"emulatessd"}), "passthrough": slot()})


def power_state(rc: int) -> str:
    return "vm_state" if rc < 9 else "power_state"


def vm_qemu(rc: int) -> dict:
    return slot(VM_TOP_LEVEL | {power_state(rc)}, {
        "cpu": slot({"cores", "sockets", "type", "vcores", "numa", "limit", "units", "affinity"},
                    {"flags": slot(CPU_FLAGS)}),
        "disks": slot((), {c: slot((), {f"{c}{i}": _slot_kinds(c) for i in range(n)}) for c, n in SLOT_COUNT.items()}),
        "network": slot({"id", "model", "bridge", "tag", "firewall", "link_down", "macaddr", "mtu", "rate", "queues"}),
        "serial": slot({"id", "type"}),
        "pci": slot(PCI_ARGS),
    })


PROXMOX_PROVIDER = slot({
    "pm_api_url", "pm_user", "pm_password", "pm_api_token_id", "pm_api_token_secret", "pm_otp", "pm_tls_insecure",
    "pm_parallel", "pm_log_enable", "pm_log_levels", "pm_log_file", "pm_timeout", "pm_debug", "pm_proxy_server",
    "pm_minimum_permission_check", "pm_minimum_permission_list",
})
VAULT_PROVIDER = slot(
    {"address", "skip_tls_verify", "ca_cert_file", "ca_cert_dir", "token", "skip_child_token",
     "max_lease_ttl_seconds", "namespace", "tls_server_name", "add_address_to_env", "token_name",
     "skip_get_vault_version", "set_namespace_from_token"},
    {"auth_login_userpass": slot({"username", "password", "password_file", "mount", "namespace"}),
     "auth_login": slot({"path", "parameters", "namespace", "method"})},
)
KV_V2_DATA = slot({"mount", "name", "version", "namespace"})
PROVIDERS = {"proxmox": lambda rc: PROXMOX_PROVIDER, "vault": lambda rc: VAULT_PROVIDER}
RESOURCES = {"proxmox_vm_qemu": vm_qemu}
DATA_SOURCES = {"vault_kv_secret_v2": lambda rc: KV_V2_DATA}
# Meta-arguments Terraform accepts on every resource/data block (language/meta-arguments).
META = frozenset({"count", "for_each", "depends_on", "provider", "lifecycle", "provisioner", "connection"})


def proxmox_rc(version: str) -> int:
    """The rc number of a 3.0.x-rcN pin (99 for anything else: the newest schema)."""
    m = re.fullmatch(r"3\.0\.\d+-?rc0*(\d+)", version.strip())
    return int(m.group(1)) if m else 99


def violations(body: dict, schema: dict, where: str) -> list[str]:
    """Every argument or nested block of `body` (python-hcl2, unquoted keys) that `schema` does not have."""
    problems = []
    for key, value in body.items():
        if key.startswith("__") or key in META:
            continue
        if key == "dynamic" and isinstance(value, list):
            for dyn in value:
                for name, inner in dyn.items():
                    if name.startswith("__"):
                        continue
                    name = name.strip('"')
                    if name not in schema["blocks"]:
                        problems.append(f"{where}: block {name!r} (dynamic) is not in the schema")
                        continue
                    for content in (inner.get("content") or []) if isinstance(inner, dict) else []:
                        problems += violations(content, schema["blocks"][name], f"{where}.{name}")
            continue
        if isinstance(value, list) and value and all(isinstance(v, dict) and v.get("__is_block__") for v in value):
            if key not in schema["blocks"]:
                problems.append(f"{where}: block {key!r} is not in the schema")
                continue
            for block in value:
                problems += violations(block, schema["blocks"][key], f"{where}.{key}")
        elif key not in schema["args"]:
            problems.append(f"{where}: argument {key!r} is not in the schema")
    return problems
