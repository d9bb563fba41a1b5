"""Render `tf/`: a reusable `proxmox_vm` module and one root per Terraform environment.

Pure: data in, `RenderedFile`s out. Facts about the providers (argument names, the exact pre-release pin)
are from `platform-facts.md` §1 (Telmate/proxmox 3.x, `proxmox_vm_qemu`) and §2 (hashicorp/vault), and
were read again in the providers' source at the pinned versions (github.com/Telmate/terraform-provider-proxmox
tag v3.0.2-rc07, github.com/hashicorp/terraform-provider-vault tags v5.0.0..v5.8.0); GPU passthrough follows
the provider's `pci` block (docs/resources/vm_qemu.md "PCI Block", `proxmox/Internal/resource/guest/qemu/
pci/schema.go`, added by PR #1162 for v3.0.1-rc5).

Bootstrap order: the root holding the Vault server's VM (`bootstrap_env`, `tf/vault` in the reference lab)
cannot read from the Vault it creates, so it has no vault provider and its Proxmox provider takes the API
token from the environment (PM_API_TOKEN_ID / PM_API_TOKEN_SECRET); every other root reads the token from
Vault through an *ephemeral* resource, so it is in neither the plan file nor the state.

Layout:

    tf/modules/proxmox_vm/{versions,variables,main,outputs}.tf
    tf/<env>/{versions,variables,provider,main,outputs}.tf     one per environment that has VMs

Every value of a module call is a literal from the resolved inventory (`doc.inventory`); no secret value is
ever written: the Proxmox API token is read from Vault KV v2 at plan/apply time.
"""

from __future__ import annotations

import ipaddress
import re
from collections import defaultdict

from homelab.errors import HomelabError
from homelab.lab.tls import CA_FILE, proxmox_verify, vault_ca_file, vault_verify
from homelab.render.base import GENERATED, RenderedFile
from homelab.render.hcl import Attribute, Blank, Block, Comment, Raw, dumps, quote

# The newest 3.x release candidate whose documented schema matches what we emit (platform-facts §1.1):
# pre-releases are only selected through an exact pin. From rc09 on `vm_state` is renamed `power_state`;
# we set neither (the default is "running" on every 3.x rc).
PROXMOX_PROVIDER = {"source": "telmate/proxmox", "version": "3.0.2-rc07"}
# hashicorp/vault: the ephemeral resource `vault_kv_secret_v2` exists from 5.0.0 (CHANGELOG 5.0.0, needs
# Terraform >= 1.11); 5.0.0..5.8.x are tested against Vault >= 1.15, 5.9.0 dropped Vault <= 1.18 (CHANGELOG
# 5.9.0 release note) and the seed runs Vault 1.18.3: so 5.x below 5.9.
VAULT_PROVIDER = {"source": "hashicorp/vault", "version": ">= 5.0.0, < 5.9.0"}
TERRAFORM_REQUIRED_VERSION = ">= 1.11.0"  # ephemeral resources and hashicorp/vault 5.x

MODULE_DIR = "tf/modules/proxmox_vm"
VAULT_USER = "terraform"
SCSIHW = "virtio-scsi-single"
CLOUDINIT_SLOT = ("ide", "ide2")

_ENV_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_TAG_BAD = re.compile(r"[^a-z0-9_-]+")
_IDENT_OK = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")

HEADER = f"# {GENERATED}"
# telmate/proxmox v3.0.2-rc07 proxmox/provider.go: pm_api_token_id / pm_api_token_secret default to these.
PM_TOKEN_ENV = ("PM_API_TOKEN_ID", "PM_API_TOKEN_SECRET")


def bootstrap_env(lab, inventory) -> str | None:
    """The Terraform environment of the Vault server's VM: it is created before that Vault exists, so it
    takes its Proxmox credentials from the environment, not from Vault. None without a Vault server VM."""
    vm = inventory.by_name.get(lab.vault.server) if lab.vault.server else None
    return vm.env if vm is not None else None


def render(doc):
    lab = doc.lab
    files = list(_module_files(lab))
    by_env: dict[str, list] = defaultdict(list)
    for vm in doc.inventory.vms:
        by_env[vm.env].append(vm)
    for env in sorted(by_env):
        if not _ENV_NAME.match(env):
            index = by_env[env][0].index
            loc = doc.locate(("vms", index, "env"))
            raise HomelabError(
                f"{loc.file}:{loc.line}:{loc.col}: environment {env!r} cannot be a directory name under tf/",
                "use lower-case letters, digits, '-' and '_' (e.g. home-apps)",
            )
        vms = sorted(by_env[env], key=lambda v: v.name)
        files.extend(_root_files(lab, doc.inventory, env, vms, bootstrap=env == bootstrap_env(lab, doc.inventory)))
    return files


def _file(path: str, items) -> RenderedFile:
    return RenderedFile(path, dumps(items, header=HEADER))


# ---------------------------------------------------------------------------------------------- module


def _variable(name: str, type_: str, description: str, default=..., sensitive: bool = False,
              ephemeral: bool = False) -> Block:
    body = [Attribute("description", description), Attribute("type", Raw(type_))]
    if default is not ...:
        body.append(Attribute("default", default))
    if sensitive:
        body.append(Attribute("sensitive", True))
    if ephemeral:  # Terraform >= 1.10: kept out of the plan file and the state
        body.append(Attribute("ephemeral", True))
    return Block("variable", (name,), body)


def _output(name: str, description: str, value: str, sensitive: bool = False) -> Block:
    body = [Attribute("description", description), Attribute("value", Raw(value))]
    if sensitive:
        body.append(Attribute("sensitive", True))
    return Block("output", (name,), body)


def _versions(with_vault: bool, backend: bool) -> list:
    providers = {"proxmox": dict(PROXMOX_PROVIDER)}
    if with_vault:
        providers["vault"] = dict(VAULT_PROVIDER)
    body: list = [
        Attribute("required_version", TERRAFORM_REQUIRED_VERSION),
        Block("required_providers", (), providers),
    ]
    if backend:
        body += [
            Comment("Local state, one per environment. It holds what the providers report about the VMs (the\n"
                    "Proxmox token is read ephemerally and is not in it); still keep *.tfstate* out of git\n"
                    "(the rendered .gitignore does)."),
            Block("backend", ("local",), {"path": "terraform.tfstate"}),
        ]
    comments = [Comment("Telmate/proxmox has no stable 3.x release: Terraform selects a pre-release only\n"
                        "through an exact version pin.")]
    return [*comments, Block("terraform", (), body)]


MODULE_VARIABLES = [
    ("name", "string", "VM name (hostname) in Proxmox.", ...),
    ("target_node", "string", "Proxmox node the VM is created on.", ...),
    ("vmid", "number", "Proxmox VMID; null lets Proxmox pick the next free one.", None),
    ("description", "string", "Notes shown in the Proxmox UI.", ""),
    ("tags", "list(string)", "Proxmox tags ([a-z0-9_-]), written comma-separated.", []),
    ("clone", "string", "Name of the cloud-init template VM to clone.", ...),
    ("full_clone", "bool", "Full clone (true) or linked clone (false).", True),
    ("cores", "number", "CPU cores per socket.", ...),
    ("sockets", "number", "CPU sockets.", 1),
    ("cpu_type", "string", "Emulated CPU type (\"host\" passes the host CPU through).", "host"),
    ("memory", "number", "Memory in MiB.", ...),
    ("disk_size", "string", "OS disk size with a unit suffix (e.g. \"100G\"); at least the template's disk.", ...),
    ("disk_storage", "string", "Proxmox storage pool of the OS disk.", ...),
    ("cloudinit_storage", "string", "Proxmox storage pool of the cloud-init drive.", ...),
    ("network_bridge", "string", "Bridge the NIC is attached to.", "vmbr0"),
    ("network_model", "string", "NIC model.", "virtio"),
    ("vlan_tag", "number", "802.1Q VLAN tag of the NIC; 0 = untagged.", 0),
    ("ip_address", "string", "Static IPv4 address; null = DHCP.", None),
    ("cidr_prefix", "number", "Prefix length of the network (e.g. 24).", ...),
    ("gateway", "string", "Default IPv4 gateway.", ...),
    ("nameservers", "list(string)", "DNS servers, in order.", ...),
    ("searchdomain", "string", "DNS search domain.", ...),
    ("ciuser", "string", "cloud-init default user.", ...),
    ("ssh_keys", "list(string)", "SSH public keys installed for the cloud-init user.", []),
    ("guest_agent", "bool", "Enable the QEMU guest agent (qemu-guest-agent must run in the guest).", True),
    ("pci_devices", "list(object({ raw_id = string, pcie = bool }))",
     "Host PCI devices passed through (e.g. a GPU), by raw PCI id such as \"0000:01:00\".", []),
    ("machine", "string", "QEMU machine type (\"q35\" for PCIe passthrough); null keeps the template's.", None),
    ("start_at_node_boot", "bool", "Start the VM when its Proxmox node boots.", True),
]


def _module_variables() -> list:
    return [_variable(n, t, d, default) for n, t, d, default in MODULE_VARIABLES]


def _disk_controller(slot: str) -> str:
    return re.sub(r"\d+$", "", slot)


def _module_main(lab) -> list:
    slot = lab.proxmox.template.disk_slot
    controller = _disk_controller(slot)
    disk: dict = {"storage": Raw("var.disk_storage"), "size": Raw("var.disk_size")}
    if controller in ("scsi", "virtio"):
        disk["iothread"] = True  # effective with scsihw = virtio-scsi-single (platform-facts §1.5)
    disk["discard"] = True
    ide, ide_slot = CLOUDINIT_SLOT
    disks = Block("disks", (), [
        Comment(f"The OS disk sits in the template's slot ({slot}) so Terraform adopts it instead of\n"
                "removing it; the cloud-init drive is on ide2."),
        Block(controller, (), [Block(slot, (), [Block("disk", (), disk)])]),
        Block(ide, (), [Block(ide_slot, (), [Block("cloudinit", (), {"storage": Raw("var.cloudinit_storage")})])]),
    ])
    pci = Block("dynamic", ("pci",), [
        Attribute("for_each", Raw("var.pci_devices")),
        Block("content", (), [
            Attribute("id", Raw("pci.key")),
            Attribute("raw_id", Raw("pci.value.raw_id")),
            Attribute("pcie", Raw("pci.value.pcie")),
        ]),
    ])
    resource = Block("resource", ("proxmox_vm_qemu", "this"), [
        Attribute("name", Raw("var.name")),
        Attribute("target_node", Raw("var.target_node")),
        Attribute("vmid", Raw("var.vmid")),
        Attribute("description", Raw("var.description")),
        Attribute("tags", Raw('join(",", var.tags)')),
        Blank(),
        Attribute("clone", Raw("var.clone")),
        Attribute("full_clone", Raw("var.full_clone")),
        Blank(),
        Attribute("agent", Raw("var.guest_agent ? 1 : 0")),
        Attribute("os_type", "cloud-init"),
        Block("cpu", (), {"cores": Raw("var.cores"), "sockets": Raw("var.sockets"), "type": Raw("var.cpu_type")}),
        Attribute("memory", Raw("var.memory")),
        Attribute("scsihw", SCSIHW),
        Attribute("boot", f"order={slot}"),
        Comment("Most cloud-init images need a serial console."),
        Block("serial", (), {"id": 0, "type": "socket"}),
        disks,
        Block("network", (), {
            "id": 0, "model": Raw("var.network_model"), "bridge": Raw("var.network_bridge"),
            "tag": Raw("var.vlan_tag"),
        }),
        Comment("PCI passthrough (GPU). A PCIe device (pcie = true) needs the q35 machine type, which Proxmox\n"
                "checks at start; the module call sets machine = \"q35\" for such a VM."),
        pci,
        # telmate/proxmox v3.0.2-rc07 resource_vm_qemu.go `machine` (must match ^pc|^q35|^virt; an empty
        # value keeps the VM's current type) and startatnodeboot/schem.go `start_at_node_boot` (default false).
        Attribute("machine", Raw("var.machine")),
        Attribute("start_at_node_boot", Raw("var.start_at_node_boot")),
        Attribute("ipconfig0", Raw(
            'var.ip_address == null ? "ip=dhcp" : "ip=${var.ip_address}/${var.cidr_prefix},gw=${var.gateway}"')),
        Attribute("nameserver", Raw('join(" ", var.nameservers)')),
        Attribute("searchdomain", Raw("var.searchdomain")),
        Attribute("ciuser", Raw("var.ciuser")),
        Attribute("sshkeys", Raw('join("\\n", var.ssh_keys)')),
        Attribute("skip_ipv6", True),
        Blank(),
        Block("lifecycle", (), [
            Block("precondition", (), [
                Attribute("condition", Raw(
                    '!anytrue([for d in var.pci_devices : d.pcie]) || strcontains(var.machine == null ? "" : var.machine, "q35")')),
                Attribute("error_message", "A PCIe passthrough device (pcie = true) needs machine = \"q35\"."),
            ]),
        ]),
    ])
    return [resource]


def _module_outputs() -> list:
    return [
        _output("id", "Terraform id of the VM (<node>/qemu/<vmid>).", "proxmox_vm_qemu.this.id"),
        _output("name", "VM name.", "proxmox_vm_qemu.this.name"),
        _output("vmid", "Proxmox VMID.", "proxmox_vm_qemu.this.vmid"),
        _output("target_node", "Proxmox node the VM was created on.", "proxmox_vm_qemu.this.target_node"),
        _output("ip_address", "Static IPv4 address given by cloud-init (null with DHCP).", "var.ip_address"),
        _output("default_ipv4_address", "IPv4 address reported by the QEMU guest agent.",
                "proxmox_vm_qemu.this.default_ipv4_address"),
    ]


def _module_files(lab):
    yield _file(f"{MODULE_DIR}/versions.tf", _versions(with_vault=False, backend=False))
    yield _file(f"{MODULE_DIR}/variables.tf", _module_variables())
    yield _file(f"{MODULE_DIR}/main.tf", _module_main(lab))
    yield _file(f"{MODULE_DIR}/outputs.tf", _module_outputs())


# ----------------------------------------------------------------------------------------------- roots


def _api_url(endpoint: str) -> str:
    url = endpoint.rstrip("/")
    return url if url.endswith("/api2/json") else url + "/api2/json"


def _data_name(path: str) -> str:
    name = re.sub(r"[^a-z0-9_]+", "_", path.lower()).strip("_") or "secret"
    return name if name[0].isalpha() else f"kv_{name}"


def _credential_sources(lab) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """KV paths -> data source names, and provider arg -> (data source, field)."""
    creds = lab.proxmox.credentials
    refs = {"pm_api_token_id": creds.token_id, "pm_api_token_secret": creds.token_secret}
    paths = sorted({ref.path.strip("/") for ref in refs.values()})
    names: dict[str, str] = {}
    for p in paths:  # sorted, so a suffix for two paths that sanitise alike is stable
        name, n = _data_name(p), 2
        while name in names.values():
            name, n = f"{_data_name(p)}_{n}", n + 1
        names[p] = name
    return names, {arg: (names[ref.path.strip("/")], ref.field) for arg, ref in refs.items()}


def _root_variables(lab, bootstrap: bool) -> list:
    items: list = []
    if not bootstrap:
        items.append(_variable(
            "vault_password", "string",
            f"Password of the Vault userpass account '{VAULT_USER}'. Pass it as TF_VAR_vault_password; "
            "never write it to a file. Ephemeral: Terraform keeps it out of plan files and state.",
            sensitive=True, ephemeral=True))
        if vault_ca_file(lab):
            items.append(_variable(
                "vault_ca_cert_file", "string",
                "CA certificate Vault's certificate is verified against: the internal CA's root (or the Vault "
                "server's self-signed bootstrap certificate until that CA exists), relative to this directory.",
                f"../../{CA_FILE}"))
    if lab.proxmox.endpoint:
        items.append(_variable("proxmox_api_url", "string", "Proxmox VE API URL (proxmox.endpoint in homelab.yaml).",
                               _api_url(lab.proxmox.endpoint)))
    else:
        items += [
            Comment("proxmox.endpoint is not set in homelab.yaml: pass TF_VAR_proxmox_api_url\n"
                    "(e.g. https://pve1.example:8006/api2/json) or set it there and render again."),
            _variable("proxmox_api_url", "string", "Proxmox VE API URL, e.g. https://pve1.example:8006/api2/json."),
        ]
    return items


def _tls_comment(lab) -> Comment:
    if proxmox_verify(lab):
        return Comment(f"The Proxmox API certificate is verified. telmate/proxmox has no CA argument (provider.go):\n"
                       f"Go reads SSL_CERT_FILE, so run plan/apply with SSL_CERT_FILE=<repo>/{CA_FILE} (homelab\n"
                       "apply does) or trust the internal CA system-wide.")
    return Comment("proxmox.tls_insecure: the Proxmox API certificate is not verified (PVE's own self-signed\n"
                   "certificate); give pveproxy a certificate from the internal CA and set it to false.")


def _bootstrap_provider(lab) -> list:
    return [
        Comment("This environment creates the Vault server, so it cannot read anything from that Vault: the\n"
                f"Proxmox provider takes the API token from the environment, {PM_TOKEN_ENV[0]} and\n"
                f"{PM_TOKEN_ENV[1]} (telmate/proxmox v3.0.2-rc07 proxmox/provider.go, EnvDefaultFunc of\n"
                "pm_api_token_id / pm_api_token_secret). See the README, step 1."),
        _tls_comment(lab),
        Block("provider", ("proxmox",), [
            Attribute("pm_api_url", Raw("var.proxmox_api_url")),
            Attribute("pm_tls_insecure", not proxmox_verify(lab)),
        ]),
    ]


def _root_provider(lab, bootstrap: bool) -> list:
    if bootstrap:
        return _bootstrap_provider(lab)
    vault = lab.vault
    names, args = _credential_sources(lab)
    login = [Attribute("skip_tls_verify", not vault_verify(lab))]
    if vault_ca_file(lab):
        login.append(Attribute("ca_cert_file", Raw("var.vault_ca_cert_file")))
    login.append(Block("auth_login_userpass", (), {"username": VAULT_USER, "password": Raw("var.vault_password")}))
    items: list = [
        Comment(f"Terraform logs in to Vault as '{VAULT_USER}' (userpass) and reads the Proxmox API token from\n"
                "KV v2 with an ephemeral resource (hashicorp/vault >= 5.0.0, Terraform >= 1.11): the token is\n"
                "in neither the plan file nor the state. Nothing secret is stored in these files."),
        # No `address`: the provider then reads VAULT_ADDR (hashicorp/vault provider docs, `address`), which
        # `homelab apply` sets to the Vault it resolved (the lab's URL, or the embedded server's port).
        Block("provider", ("vault",), login),
    ]
    for path in sorted(names):
        # hashicorp/vault v5.0.0 internal/vault/secrets/ephemeral/kv_secret_v2.go: mount, name (no "data/")
        items.append(Block("ephemeral", ("vault_kv_secret_v2", names[path]), {"mount": vault.kv_mount, "name": path}))
    provider = [Attribute("pm_api_url", Raw("var.proxmox_api_url"))]
    for arg in ("pm_api_token_id", "pm_api_token_secret"):
        data, field = args[arg]
        provider.append(Attribute(arg, Raw(f"ephemeral.vault_kv_secret_v2.{data}.data[{quote(field)}]")))
    provider.append(Attribute("pm_tls_insecure", not proxmox_verify(lab)))
    items += [_tls_comment(lab), Block("provider", ("proxmox",), provider)]
    return items


def module_name(vm_name: str) -> str:
    """The module call's name for a VM: the VM name when it is an HCL identifier."""
    name = vm_name.replace(".", "_")
    return name if _IDENT_OK.match(name) else f"vm_{name}"


def _tags(tags) -> list[str]:
    out = set()
    for tag in tags:
        clean = _TAG_BAD.sub("-", tag.lower()).lstrip("-")
        if clean:
            out.add(clean)
    return sorted(out)


def _description(vm, inventory) -> str:
    if vm.description:
        text = vm.description
    else:
        role = inventory.roles.get(vm.role)
        text = (role.description if role and role.description else vm.role)
    return f"{text} ({vm.fqdn}). Managed by homelab from homelab.yaml."


def _disk_size(vm) -> str:
    return f"{vm.disk_gib}G"


def module_values(lab, inventory, vm) -> dict:
    """The literal inputs of one VM's module call, from the resolved inventory."""
    net = ipaddress.IPv4Network(lab.network.cidr)
    values: dict = {
        "name": vm.name,
        "target_node": vm.node,
        "vmid": vm.vmid,
        "description": _description(vm, inventory),
        "tags": _tags(vm.tags),
        "clone": lab.proxmox.template.name,
        "full_clone": True,
        "cores": vm.cores,
        "sockets": 1,
        "memory": vm.memory_mib,
        "disk_size": _disk_size(vm),
        "disk_storage": vm.storage,
        "cloudinit_storage": lab.proxmox.storage,
        "network_bridge": lab.proxmox.bridge,
        "vlan_tag": lab.network.vlan or 0,
        "ip_address": vm.ip,
        "cidr_prefix": net.prefixlen,
        "gateway": lab.network.gateway,
        "nameservers": list(lab.network.dns),
        "searchdomain": lab.network.domain,
        "ciuser": lab.proxmox.ci_user,
        "ssh_keys": list(lab.proxmox.ssh_keys),
        "guest_agent": lab.proxmox.guest_agent,
    }
    if vm.gpu is not None:
        values["pci_devices"] = [{"raw_id": vm.gpu.device, "pcie": vm.gpu.pcie}]
        if vm.gpu.pcie:
            values["machine"] = "q35"  # Proxmox refuses to start a VM with a pcie=1 device on i440fx
    return values


_GROUPS = (
    ("name", "target_node", "vmid", "description", "tags"),
    ("clone", "full_clone"),
    ("cores", "sockets", "memory"),
    ("disk_size", "disk_storage", "cloudinit_storage"),
    ("network_bridge", "vlan_tag", "ip_address", "cidr_prefix", "gateway", "nameservers", "searchdomain"),
    ("ciuser", "ssh_keys", "guest_agent"),
    ("pci_devices", "machine"),
)


def _module_call(lab, inventory, vm) -> Block:
    values = module_values(lab, inventory, vm)
    body: list = [Attribute("source", "../modules/proxmox_vm")]
    for group in _GROUPS:
        present = [k for k in group if k in values]
        if not present:
            continue
        body.append(Blank())
        if group == ("pci_devices", "machine"):
            body.append(Comment(f"GPU passthrough: {vm.gpu.model} at {vm.gpu.device}."))
        for key in present:
            body.append(Attribute(key, values[key]))
    return Block("module", (module_name(vm.name),), body)


def _root_main(lab, inventory, vms) -> list:
    return [_module_call(lab, inventory, vm) for vm in vms]


def _root_outputs(vms) -> list:
    def by_name(attr):
        return {vm.name: Raw(f"module.{module_name(vm.name)}.{attr}") for vm in vms}

    return [
        Block("output", ("ip_addresses",), [
            Attribute("description", "Static IPv4 address of each VM, by VM name."),
            Attribute("value", by_name("ip_address")),
        ]),
        Block("output", ("vmids",), [
            Attribute("description", "Proxmox VMID of each VM, by VM name."),
            Attribute("value", by_name("vmid")),
        ]),
        Block("output", ("nodes",), [
            Attribute("description", "Proxmox node of each VM, by VM name."),
            Attribute("value", by_name("target_node")),
        ]),
    ]


def _root_files(lab, inventory, env: str, vms, bootstrap: bool):
    root = f"tf/{env}"
    yield _file(f"{root}/versions.tf", _versions(with_vault=not bootstrap, backend=True))
    yield _file(f"{root}/variables.tf", _root_variables(lab, bootstrap))
    yield _file(f"{root}/provider.tf", _root_provider(lab, bootstrap))
    yield _file(f"{root}/main.tf", _root_main(lab, inventory, vms))
    yield _file(f"{root}/outputs.tf", _root_outputs(vms))
