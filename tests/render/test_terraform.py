"""tf/ rendering: parses (python-hcl2), uses only arguments the pinned provider versions have, is
`terraform fmt` canonical (real terraform binary), deterministic, and carries the seed's resources.

The allow-lists below are written from the reference facts, not from the renderer:
`/work/shared/reference/platform-facts.md` §1 (Telmate/proxmox `proxmox_vm_qemu` 3.x: §1.2 provider
arguments, §1.3 top-level arguments, §1.4 `cpu`, §1.5 `disks`, §1.6 `network`, §1.7 `serial`) and §2
(hashicorp/vault provider and `vault_kv_secret_v2`). The `pci` block is from the provider's
docs/resources/vm_qemu.md "PCI Block" (PR #1162, v3.0.1-rc5 and later). Read in the provider source at
the pinned tags (github.com/Telmate/terraform-provider-proxmox v3.0.2-rc07, github.com/hashicorp/
terraform-provider-vault v5.0.0..v5.8.0): `machine` (proxmox/resource_vm_qemu.go, validated against
`^pc|^q35|^virt`, proxmox/util.go), `start_at_node_boot` (proxmox/Internal/resource/guest/startatnodeboot/
schem.go), the provider's PM_API_TOKEN_ID / PM_API_TOKEN_SECRET environment defaults (proxmox/provider.go),
the ephemeral resource `vault_kv_secret_v2` (internal/vault/secrets/ephemeral/kv_secret_v2.go: mount,
name, version; internal/framework/base/schema.go baseEphemeralSchema: namespace, mount_id).
"""

from __future__ import annotations

import io
import os
import re
import subprocess
from pathlib import Path

import hcl2
import pytest

from homelab.errors import HomelabError
from homelab.lab.load import load_text
from homelab.render import terraform

SEED = Path(__file__).resolve().parents[2] / "examples" / "reference" / "homelab.yaml"

# ------------------------------------------------------------------------------ allow-lists (facts)

# §1.3 top-level arguments of proxmox_vm_qemu (HEAD docs table), without the deprecated ones that
# conflict with the blocks we use: top-level `cores`/`sockets`/`cpu_type`/`numa`/`vcpus` (§1.4, conflict
# with `cpu {}`), the legacy repeatable `disk {}` (§1.5, conflicts with `disks {}`), `hostpci` (deprecated
# for `pci`). The power-state argument is version dependent (see POWER_STATE below).
VM_TOP_LEVEL = {
    "name", "target_node", "target_nodes", "vmid", "clone", "clone_id", "full_clone", "agent", "os_type",
    "memory", "balloon", "scsihw", "boot", "bios", "ciuser", "cipassword", "cicustom", "ciupgrade",
    "searchdomain", "nameserver", "sshkeys", *(f"ipconfig{i}" for i in range(16)), "skip_ipv4", "skip_ipv6",
    "agent_timeout", "tags", "pool", "description", "start_at_node_boot", "protection", "hastate", "hagroup",
    "machine",  # proxmox/resource_vm_qemu.go @ v3.0.2-rc07 (TypeString, Optional, MachineTypeValidator)
}
# §1.3: `vm_state` up to rc07 (rc08 too: the rename came with rc09), `power_state` from rc09 (where
# `vm_state` is deprecated).
def POWER_STATE(rc: int) -> str:  # noqa: N802 - reads like the constant it stands for
    return "vm_state" if rc < 9 else "power_state"


def _slot(args=(), blocks=None):
    return {"args": set(args), "blocks": blocks or {}}


DISK_ARGS = {"size", "storage", "cache", "discard", "iothread", "emulatessd", "format", "backup", "replicate",
             "serial", "asyncio", "iops_r_burst", "iops_r_burst_length", "iops_r_concurrent", "iops_wr_burst",
             "iops_wr_burst_length", "iops_wr_concurrent", "mbps_r_burst", "mbps_r_concurrent",
             "mbps_wr_burst", "mbps_wr_concurrent", "readonly", "wwn"}
DISK_ARGS_NO_IOTHREAD = DISK_ARGS - {"iothread"}  # §1.5: iothread on scsi/virtio only
SLOT_KINDS = {
    # §1.5: cdrom{} | cloudinit{} | disk{} | passthrough{} | ignore = true; no cloudinit on virtio.
    "ide": lambda: _slot({"ignore"}, {"cdrom": _slot({"iso", "passthrough"}), "cloudinit": _slot({"storage"}),
                                      "disk": _slot(DISK_ARGS_NO_IOTHREAD - {"readonly"}), "passthrough": _slot()}),
    "sata": lambda: _slot({"ignore"}, {"cdrom": _slot({"iso", "passthrough"}), "cloudinit": _slot({"storage"}),
                                       "disk": _slot(DISK_ARGS_NO_IOTHREAD - {"readonly"}), "passthrough": _slot()}),
    "scsi": lambda: _slot({"ignore"}, {"cdrom": _slot({"iso", "passthrough"}), "cloudinit": _slot({"storage"}),
                                       "disk": _slot(DISK_ARGS), "passthrough": _slot()}),
    "virtio": lambda: _slot({"ignore"}, {"cdrom": _slot({"iso", "passthrough"}),
                                         "disk": _slot(DISK_ARGS - {"emulatessd"}), "passthrough": _slot()}),
}
SLOT_COUNT = {"ide": 4, "sata": 6, "scsi": 31, "virtio": 16}

PCI_ARGS = {"id", "mapping_id", "raw_id", "pcie", "primary_gpu", "rombar", "device_id", "vendor_id",
            "sub_device_id", "sub_vendor_id", "mdev"}


def vm_qemu_schema(rc: int) -> dict:
    return _slot(VM_TOP_LEVEL | {POWER_STATE(rc)}, {
        # §1.4 cpu block
        "cpu": _slot({"cores", "sockets", "type", "vcores", "numa", "limit", "units", "affinity"},
                     {"flags": _slot({"md_clear", "pcid", "spec_ctrl", "ssbd", "ibpb", "virt_ssbd", "amd_ssbd",
                                      "amd_no_ssb", "pbpe1gb", "hv_tlbflush", "hv_evmcs", "aes"})}),
        # §1.5 disks block
        "disks": _slot((), {ctrl: _slot((), {f"{ctrl}{i}": SLOT_KINDS[ctrl]() for i in range(SLOT_COUNT[ctrl])})
                            for ctrl in SLOT_COUNT}),
        # §1.6 network block
        "network": _slot({"id", "model", "bridge", "tag", "firewall", "link_down", "macaddr", "mtu", "rate",
                          "queues"}),
        # §1.7 serial block
        "serial": _slot({"id", "type"}),
        # vm_qemu.md "PCI Block" (repeatable, the form meant for modules)
        "pci": _slot(PCI_ARGS),
        # not a provider argument: the Terraform language's meta-argument block (custom conditions)
        "lifecycle": _slot({"create_before_destroy", "prevent_destroy", "ignore_changes", "replace_triggered_by"},
                           {"precondition": _slot({"condition", "error_message"}),
                            "postcondition": _slot({"condition", "error_message"})}),
    })


# §1.2 provider "proxmox" arguments (docs/index.md table).
PROXMOX_PROVIDER_ARGS = {
    "pm_api_url", "pm_user", "pm_password", "pm_api_token_id", "pm_api_token_secret", "pm_otp",
    "pm_tls_insecure", "pm_parallel", "pm_log_enable", "pm_log_levels", "pm_log_file", "pm_timeout",
    "pm_debug", "pm_proxy_server", "pm_minimum_permission_check", "pm_minimum_permission_list",
}
# §2 provider "vault" and data "vault_kv_secret_v2".
VAULT_PROVIDER = _slot(
    {"address", "skip_tls_verify", "ca_cert_file", "ca_cert_dir", "token", "skip_child_token",
     "max_lease_ttl_seconds", "namespace", "tls_server_name"},
    {"auth_login_userpass": _slot({"username", "password", "password_file", "mount"}),
     "auth_login": _slot({"path", "parameters"})},
)
KV_V2_DATA_ARGS = {"mount", "name", "version"}
# ephemeral "vault_kv_secret_v2" (v5.0.0+): kv_secret_v2.go + the base ephemeral schema.
KV_V2_EPHEMERAL_ARGS = {"mount", "name", "version", "namespace", "mount_id"}

# §1.1: the tags that exist; a pre-release is only selected through an exact pin.
KNOWN_PROXMOX_PINS = {"3.0.2-rc07", "3.0.2-rc08", "3.0.2-rc09"}


# ------------------------------------------------------------------------------------------ helpers


def unq(value):
    if isinstance(value, str):
        if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
            return value[1:-1]
        if value.startswith("${") and value.endswith("}"):
            return value[2:-1]
        return value
    if isinstance(value, list):
        return [unq(v) for v in value]
    if isinstance(value, dict):
        return {unq(k): unq(v) for k, v in value.items() if k != "__comments__"}
    return value


def is_block_list(value) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) and v.get("__is_block__")
                                                           for v in value)


def schema_violations(body: dict, schema: dict, where: str) -> list[str]:
    """Every argument or nested block in `body` (parsed by python-hcl2, unquoted) not in `schema`."""
    problems = []
    for key, value in body.items():
        if key == "__is_block__":
            continue
        if key == "dynamic" and isinstance(value, list):  # [{"<name>": {for_each, content: [...]}}]
            for dyn in value:
                for name, inner in dyn.items():
                    if name == "__is_block__":
                        continue
                    if name not in schema["blocks"]:
                        problems.append(f"{where}: dynamic block {name!r} is not in the schema")
                        continue
                    extra = set(inner) - {"for_each", "iterator", "content", "labels", "__is_block__"}
                    problems += [f"{where}.dynamic.{name}: {e!r} is not a dynamic-block argument" for e in extra]
                    for content in inner.get("content", []):
                        problems += schema_violations(content, schema["blocks"][name], f"{where}.{name}")
            continue
        if is_block_list(value):
            if key not in schema["blocks"]:
                problems.append(f"{where}: block {key!r} is not in the schema")
                continue
            for block in value:
                problems += schema_violations(block, schema["blocks"][key], f"{where}.{key}")
        elif key not in schema["args"]:
            problems.append(f"{where}: argument {key!r} is not in the schema")
    return problems


def parse(text: str) -> dict:
    return unq(hcl2.load(io.StringIO(text)))


def pinned_rc(files: dict[str, str]) -> int:
    tf = parse(files["tf/modules/proxmox_vm/versions.tf"])["terraform"][0]
    version = tf["required_providers"][0]["proxmox"]["version"]
    return int(re.fullmatch(r"3\.0\.2-rc(\d+)", version).group(1))


def render_files(doc) -> dict[str, str]:
    return {f.path: f.content for f in terraform.render(doc)}


def lab_variant(mutate) -> object:
    """The seed lab, changed as plain data, dumped and loaded again (as a user would edit the file)."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    data = yaml.load(SEED.read_text(encoding="utf-8"))
    mutate(data)
    buf = io.StringIO()
    yaml.dump(data, buf)
    return load_text(buf.getvalue(), "homelab.yaml")


def module_calls(files: dict[str, str], env: str) -> dict[str, dict]:
    data = parse(files[f"tf/{env}/main.tf"])
    calls = {}
    for entry in data.get("module", []):
        for name, body in entry.items():
            calls[name] = body
    return calls


def terraform_bin() -> str:
    import needs

    return needs.terraform()


@pytest.fixture(scope="module")
def files(reference_doc) -> dict[str, str]:
    return render_files(reference_doc)


# -------------------------------------------------------------------------------------------- tests


def test_layout(files):
    assert {p for p in files if p.startswith("tf/modules/")} == {
        f"tf/modules/proxmox_vm/{n}.tf" for n in ("versions", "variables", "main", "outputs")}
    envs = {p.split("/")[1] for p in files if not p.startswith("tf/modules/")}
    assert envs == {"lab", "kubernetes", "home-apps", "vault"}  # the seed's four Terraform environments
    for env in envs:
        for name in ("versions", "variables", "provider", "main", "outputs"):
            assert f"tf/{env}/{name}.tf" in files
    for path, text in files.items():
        assert text.startswith("# Generated by homelab from homelab.yaml — do not edit\n"), path
        assert text.endswith("\n") and not text.endswith("\n\n"), path
        assert "\r" not in text and "\t" not in text, path


def test_every_file_parses_with_python_hcl2(files):
    for path, text in files.items():
        assert isinstance(hcl2.load(io.StringIO(text)), dict), path


def test_provider_pins(files):
    rc = pinned_rc(files)
    for path, text in files.items():
        if not path.endswith("/versions.tf"):
            continue
        tf = parse(text)["terraform"][0]
        providers = tf["required_providers"][0]
        # §1.1: exact pin (no ~> or >=) on an rc tag that exists.
        assert providers["proxmox"] == {"source": "telmate/proxmox", "version": f"3.0.2-rc{rc:02d}"}, path
        assert providers["proxmox"]["version"] in KNOWN_PROXMOX_PINS
        if path.startswith("tf/modules/") or path == "tf/vault/versions.tf":
            assert "vault" not in providers, path  # the module, and the root that creates the Vault server
        else:
            # the ephemeral resource needs hashicorp/vault >= 5.0.0 (CHANGELOG 5.0.0); 5.9.0 stopped testing
            # against Vault <= 1.18 (CHANGELOG 5.9.0 release note), and the seed runs Vault 1.18.3.
            assert providers["vault"] == {"source": "hashicorp/vault", "version": ">= 5.0.0, < 5.9.0"}, path
        if not path.startswith("tf/modules/"):
            assert tf["backend"] == [{"local": {"path": "terraform.tfstate", "__is_block__": True}}], path
            # vault 5.x needs Terraform >= 1.11 (CHANGELOG 5.0.0: "supports Terraform versions >= 1.11.x")
            assert tf["required_version"] == ">= 1.11.0", path


def test_proxmox_vm_qemu_uses_only_arguments_of_the_pinned_version(files):
    rc = pinned_rc(files)
    main = parse(files["tf/modules/proxmox_vm/main.tf"])
    resources = [(kind, name, body) for entry in main["resource"] for kind, named in entry.items()
                 for name, body in named.items()]
    assert [(k, n) for k, n, _ in resources] == [("proxmox_vm_qemu", "this")]
    body = resources[0][2]
    assert schema_violations(body, vm_qemu_schema(rc), "proxmox_vm_qemu.this") == []
    # The shape §1 asks for, not just "nothing unknown":
    assert body["agent"] == "var.guest_agent ? 1 : 0"
    assert body["os_type"] == "cloud-init"
    assert body["scsihw"] == "virtio-scsi-single"
    assert body["boot"] == "order=scsi0"
    assert set(body["cpu"][0]) >= {"cores", "sockets", "type"}
    assert body["memory"] == "var.memory"
    disks = body["disks"][0]
    assert disks["scsi"][0]["scsi0"][0]["disk"][0]["size"] == "var.disk_size"
    assert disks["ide"][0]["ide2"][0]["cloudinit"][0] == {"storage": "var.cloudinit_storage", "__is_block__": True}
    net = body["network"][0]
    assert net["id"] == 0 and net["bridge"] == "var.network_bridge" and net["model"] == "var.network_model"
    assert body["serial"][0]["id"] == 0
    for arg in ("ipconfig0", "nameserver", "searchdomain", "ciuser", "sshkeys", "clone", "full_clone", "tags"):
        assert arg in body, arg


@pytest.mark.parametrize(("snippet", "rc", "complaint"), [
    ('cores = 2', 7, "argument 'cores'"),                                   # deprecated top-level (§1.4)
    ('vm_state = "running"', 9, "argument 'vm_state'"),                     # renamed in rc09 (§1.3)
    ('power_state = "running"', 7, "argument 'power_state'"),               # does not exist yet in rc07
    ('disk {\n slot = "scsi0"\n}', 7, "block 'disk'"),                      # legacy block, conflicts (§1.5)
    ('disks {\n scsi {\n scsi0 {\n disk {\n storage_type = "rbd"\n }\n }\n }\n}', 7, "'storage_type'"),
    ('disks {\n virtio {\n virtio0 {\n cloudinit {\n storage = "x"\n }\n }\n }\n}', 7, "block 'cloudinit'"),
    ('hostpci {\n host = "0000:01:00"\n}', 7, "block 'hostpci'"),
])
def test_allow_list_rejects_wrong_arguments(snippet, rc, complaint):
    """The checker itself can fail: each known-wrong argument is reported."""
    body = parse(f'resource "proxmox_vm_qemu" "x" {{\n{snippet}\n}}\n')["resource"][0]["proxmox_vm_qemu"]["x"]
    problems = schema_violations(body, vm_qemu_schema(rc), "x")
    assert any(complaint in p for p in problems), problems


def providers_of(text: str) -> dict:
    return {name: body for entry in parse(text).get("provider", []) for name, body in entry.items()}


def ephemerals_of(text: str) -> dict:
    return {name: body for entry in parse(text).get("ephemeral", []) for kind, named in entry.items()
            for name, body in named.items() if kind == "vault_kv_secret_v2"}


def test_root_providers_use_only_documented_arguments(files):
    for env in ("lab", "kubernetes", "home-apps"):
        text = files[f"tf/{env}/provider.tf"]
        providers = providers_of(text)
        assert set(providers) == {"vault", "proxmox"}
        assert schema_violations(providers["vault"], VAULT_PROVIDER, "provider.vault") == []
        assert set(providers["proxmox"]) - {"__is_block__"} <= PROXMOX_PROVIDER_ARGS
        vault = providers["vault"]
        login = vault["auth_login_userpass"][0]
        assert login["username"] == "terraform" and login["password"] == "var.vault_password"
        assert "address" not in vault  # the provider reads VAULT_ADDR, which the engine sets to the resolved Vault
        # the reference lab verifies Vault's certificate against the internal CA's root (tls/ca.crt)
        assert vault["skip_tls_verify"] is False and vault["ca_cert_file"] == "var.vault_ca_cert_file"
        assert "data" not in parse(text)  # no data source: its result would land in the state
        ds = ephemerals_of(text)
        assert list(ds) == ["infra_proxmox"]
        assert set(ds["infra_proxmox"]) - {"__is_block__"} <= KV_V2_EPHEMERAL_ARGS
        assert ds["infra_proxmox"]["mount"] == "secret" and ds["infra_proxmox"]["name"] == "infra/proxmox"  # no data/
        pm = providers["proxmox"]
        assert pm["pm_api_url"] == "var.proxmox_api_url"
        assert pm["pm_api_token_id"] == 'ephemeral.vault_kv_secret_v2.infra_proxmox.data["api_token_id"]'
        assert pm["pm_api_token_secret"] == 'ephemeral.vault_kv_secret_v2.infra_proxmox.data["api_token_secret"]'
        # the reference lab keeps PVE's own certificate (proxmox.tls_insecure: true, explained in the lab)
        assert pm["pm_tls_insecure"] is True


def test_the_root_that_creates_the_vault_server_needs_no_vault(files):
    """Item 1: tf/vault creates the Vault VM, so it cannot read anything from that Vault: no vault provider,
    no Vault password, no secret read; the Proxmox provider takes PM_API_TOKEN_ID / PM_API_TOKEN_SECRET
    from the environment (telmate/proxmox v3.0.2-rc07 proxmox/provider.go: EnvDefaultFunc)."""
    text = files["tf/vault/provider.tf"]
    providers = providers_of(text)
    assert set(providers) == {"proxmox"}
    assert set(providers["proxmox"]) - {"__is_block__"} == {"pm_api_url", "pm_tls_insecure"}
    assert "PM_API_TOKEN_ID" in text and "PM_API_TOKEN_SECRET" in text  # the comment says where they come from
    assert "vault_kv_secret_v2" not in text and "data" not in parse(text)
    variables = {n for e in parse(files["tf/vault/variables.tf"])["variable"] for n in e}
    assert variables == {"proxmox_api_url"}
    for env in ("lab", "kubernetes", "home-apps"):
        assert "vault" in providers_of(files[f"tf/{env}/provider.tf"])


def test_bootstrap_root_follows_the_vault_server():
    """Whatever environment the Vault server's VM is in is the root without Vault; a lab without a Vault
    server VM has none."""
    def move(data):
        for vm in data["vms"]:
            if vm["name"] == "vault":
                vm["env"] = "home-apps"

    files = render_files(lab_variant(move))
    assert set(providers_of(files["tf/home-apps/provider.tf"])) == {"proxmox"}
    assert "tf/vault/provider.tf" not in files
    for env in ("lab", "kubernetes"):
        assert "vault" in providers_of(files[f"tf/{env}/provider.tf"])

    def no_server(data):
        data["vault"].pop("server")

    files = render_files(lab_variant(no_server))
    assert all("vault" in providers_of(files[f"tf/{env}/provider.tf"]) for env in ("lab", "kubernetes", "vault"))


def test_variables_and_outputs_are_documented(files):
    for path, text in files.items():
        data = parse(text)
        for entry in data.get("variable", []):
            for name, body in entry.items():
                assert body.get("description"), f"{path}: variable {name} has no description"
                assert body.get("type"), f"{path}: variable {name} has no type"
        for entry in data.get("output", []):
            for name, body in entry.items():
                assert body.get("description"), f"{path}: output {name} has no description"


def test_module_calls_match_the_module_interface(files):
    variables = {name: body for entry in parse(files["tf/modules/proxmox_vm/variables.tf"])["variable"]
                 for name, body in entry.items()}
    required = {name for name, body in variables.items() if "default" not in body}
    for env in ("lab", "kubernetes", "home-apps", "vault"):
        for name, call in module_calls(files, env).items():
            args = set(call) - {"source", "__is_block__"}
            assert call["source"] == "../modules/proxmox_vm"
            assert args <= set(variables), f"{env}/{name}: unknown inputs {args - set(variables)}"
            assert required <= args, f"{env}/{name}: missing inputs {required - args}"


def test_vault_password_is_a_sensitive_variable_without_default(files):
    for env in ("lab", "kubernetes", "home-apps"):
        variables = {n: b for e in parse(files[f"tf/{env}/variables.tf"])["variable"] for n, b in e.items()}
        assert variables["vault_password"]["sensitive"] is True
        assert variables["vault_password"]["ephemeral"] is True
        assert "default" not in variables["vault_password"]
        assert "TF_VAR_vault_password" in variables["vault_password"]["description"]
        assert "vault_address" not in variables  # the vault provider reads VAULT_ADDR (set by homelab apply)
        # proxmox.endpoint is unset in the seed: a placeholder variable the user must set.
        assert "default" not in variables["proxmox_api_url"]
        # relative to tf/<env>, where terraform runs (engine cwd, or `terraform -chdir=tf/<env>`)
        assert variables["vault_ca_cert_file"]["default"] == "../../tls/ca.crt"


def test_no_secret_material_in_tf(files):
    text = "\n".join(files.values())
    assert 'data "vault_kv_secret_v2"' not in text  # item 4: a data source would put the token in the state
    assert "password_file" not in text and "token =" not in text
    assert not re.search(r'pm_api_token_secret\s*=\s*"', text)
    assert not re.search(r'password\s*=\s*"', text)
    assert "PRIVATE KEY" not in text


@pytest.mark.validators
def test_terraform_fmt_check_recursive_passes(files, tmp_path):
    tf = terraform_bin()
    for path, text in files.items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    env = {**os.environ, "CHECKPOINT_DISABLE": "1", "TF_CLI_CONFIG_FILE": os.devnull}
    proc = subprocess.run([tf, "fmt", "-check", "-recursive", "-diff", str(tmp_path / "tf")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # and the check can fail: a misaligned file is reported
    bad = tmp_path / "tf" / "lab" / "main.tf"
    bad.write_text(bad.read_text().replace("  vmid        =", "  vmid ="), encoding="utf-8")
    proc = subprocess.run([tf, "fmt", "-check", "-recursive", str(tmp_path / "tf")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode != 0 and "main.tf" in proc.stdout


def test_rendering_twice_gives_identical_bytes(reference_doc, files):
    again = render_files(reference_doc)
    assert list(again) == list(files)
    assert all(again[p].encode() == files[p].encode() for p in files)


def test_reordering_vms_and_tags_changes_nothing(files):
    def reverse(data):
        data["vms"].reverse()
        for vm in data["vms"]:
            vm["tags"] = ["zeta", "alpha"]

    def forward(data):
        for vm in data["vms"]:
            vm["tags"] = ["alpha", "zeta"]

    assert render_files(lab_variant(reverse)) == render_files(lab_variant(forward))
    assert render_files(lab_variant(lambda d: d["vms"].reverse())) == files


# The seed's "Resource Allocation Standards" (seed/tech-stack.md): cores, RAM, disk per role; the
# reference lab overrides kube06's memory (24GiB, for the LLM workloads) and gives Plex 500GiB.
SEED_RESOURCES = {
    **{f"kube0{i}": (2, 2 * 1024, "100G") for i in (1, 2, 3)},
    "kube04": (4, 8 * 1024, "200G"), "kube05": (4, 8 * 1024, "200G"), "kube06": (4, 24 * 1024, "200G"),
    **{f"es0{i}": (4, 8 * 1024, "1024G") for i in range(1, 7)},
    **{f"es0{i}": (2, 4 * 1024, "100G") for i in (7, 8, 9)},
    "plex": (4, 32 * 1024, "500G"),
    "vault": (2, 4 * 1024, "50G"),
}
SEED_ENVS = {
    "kubernetes": {f"kube0{i}" for i in range(1, 7)},
    "lab": {f"es0{i}" for i in range(1, 10)} | {"kibana", "fleet"},
    "vault": {"vault"},
    "home-apps": {"plex", "torrent", "proxy", "infra"},
}


def test_module_calls_carry_the_seeds_resources(files):
    calls = {}
    for env, names in SEED_ENVS.items():
        env_calls = module_calls(files, env)
        assert set(env_calls) == names, env
        assert list(env_calls) == sorted(env_calls), f"{env}: module calls not sorted by name"
        calls.update(env_calls)
    for name, (cores, memory, disk) in SEED_RESOURCES.items():
        call = calls[name]
        assert (call["cores"], call["memory"], call["disk_size"]) == (cores, memory, disk), name
        assert call["sockets"] == 1
    kube01 = calls["kube01"]
    assert kube01["ip_address"] == "192.168.10.71" and kube01["vmid"] == 171 and kube01["target_node"] == "pve1"
    assert kube01["cidr_prefix"] == 24 and kube01["gateway"] == "192.168.10.1"
    assert kube01["nameservers"] == ["192.168.10.1", "192.168.10.200"]
    assert kube01["searchdomain"] == "lab.thewortmans.org"
    assert kube01["clone"] == "ubuntu-2504-cloudinit" and kube01["full_clone"] is True
    assert kube01["disk_storage"] == "local-lvm" and kube01["network_bridge"] == "vmbr0"
    assert kube01["ciuser"] == "ubuntu" and kube01["guest_agent"] is True
    assert kube01["tags"] == ["k8s-control-plane", "kubernetes"]
    assert calls["vault"]["ip_address"] == "192.168.10.50"


def test_gpu_passthrough(files):
    calls = module_calls(files, "kubernetes")
    assert calls["kube06"]["pci_devices"] == [{"raw_id": "0000:01:00", "pcie": True}]
    assert all("pci_devices" not in c for n, c in calls.items() if n != "kube06")
    body = parse(files["tf/modules/proxmox_vm/main.tf"])["resource"][0]["proxmox_vm_qemu"]["this"]
    pci = body["dynamic"][0]["pci"]
    assert pci["for_each"] == "var.pci_devices"
    assert pci["content"][0]["raw_id"] == "pci.value.raw_id"
    assert pci["content"][0]["pcie"] == "pci.value.pcie"


def test_a_pcie_passthrough_vm_gets_the_q35_machine(files):
    """Item 2: Proxmox refuses to start a VM with a PCIe (pcie=1) device on the default i440fx machine;
    the provider's `machine` argument (v3.0.2-rc07 resource_vm_qemu.go) sets q35 on the GPU VM only."""
    body = parse(files["tf/modules/proxmox_vm/main.tf"])["resource"][0]["proxmox_vm_qemu"]["this"]
    assert body["machine"] == "var.machine"
    variables = {n: b for e in parse(files["tf/modules/proxmox_vm/variables.tf"])["variable"] for n, b in e.items()}
    assert variables["machine"]["default"] is None  # null: the template's machine type is kept
    calls = {}
    for env in SEED_ENVS:
        calls.update(module_calls(files, env))
    assert calls["kube06"]["machine"] == "q35"
    assert [n for n, c in calls.items() if "machine" in c] == ["kube06"]
    # and the module refuses a PCIe device on another machine type before Proxmox does
    conditions = [c for lc in body["lifecycle"] for c in lc["precondition"]]
    assert any("q35" in c["condition"] and "pcie" in c["condition"] for c in conditions), conditions


def test_a_gpu_without_pcie_keeps_the_templates_machine():
    def plain_pci(data):
        for vm in data["vms"]:
            if vm["name"] == "kube06":
                vm["gpu"]["pcie"] = False

    calls = module_calls(render_files(lab_variant(plain_pci)), "kubernetes")
    assert calls["kube06"]["pci_devices"] == [{"raw_id": "0000:01:00", "pcie": False}]
    assert "machine" not in calls["kube06"]


def test_every_vm_starts_when_its_proxmox_node_boots(files):
    """Item 3: start_at_node_boot (v3.0.2-rc07 startatnodeboot/schem.go; defaults to false)."""
    body = parse(files["tf/modules/proxmox_vm/main.tf"])["resource"][0]["proxmox_vm_qemu"]["this"]
    assert body["start_at_node_boot"] == "var.start_at_node_boot"
    assert "onboot" not in body  # the deprecated name conflicts with it (schema_legacy.go)
    variables = {n: b for e in parse(files["tf/modules/proxmox_vm/variables.tf"])["variable"] for n, b in e.items()}
    assert variables["start_at_node_boot"]["default"] is True
    for env in SEED_ENVS:
        assert all(call.get("start_at_node_boot", True) is True for call in module_calls(files, env).values())


def test_outputs(files):
    out = {n: b for e in parse(files["tf/kubernetes/outputs.tf"])["output"] for n, b in e.items()}
    assert out["ip_addresses"]["value"]["kube03"] == "module.kube03.ip_address"
    assert out["vmids"]["value"]["kube06"] == "module.kube06.vmid"
    mod = {n: b for e in parse(files["tf/modules/proxmox_vm/outputs.tf"])["output"] for n, b in e.items()}
    assert {"ip_address", "vmid", "name"} <= set(mod)


def test_lab_options_reach_the_output():
    def change(data):
        data["vault"]["address"] = "embedded"
        data["vault"]["tls"]["skip_verify"] = True
        data["proxmox"]["endpoint"] = "https://pve1.lab.thewortmans.org:8006"
        data["proxmox"]["tls_insecure"] = False
        data["proxmox"]["credentials"]["token_secret"] = {"path": "infra/pve-token", "field": "secret"}
        data["proxmox"]["template"]["disk_slot"] = "virtio0"
        data["network"]["vlan"] = 20
        data["vms"][0]["tags"] = ["GPU", "Media.Server", "-x"]

    files = render_files(lab_variant(change))
    variables = {n: b for e in parse(files["tf/kubernetes/variables.tf"])["variable"] for n, b in e.items()}
    assert "vault_address" not in variables  # embedded: no fixed address; VAULT_ADDR is the running one
    assert "vault_ca_cert_file" not in variables  # nothing to verify against when verification is skipped
    assert variables["proxmox_api_url"]["default"] == "https://pve1.lab.thewortmans.org:8006/api2/json"
    provider = parse(files["tf/kubernetes/provider.tf"])
    providers = {n: b for e in provider["provider"] for n, b in e.items()}
    assert providers["vault"]["skip_tls_verify"] is True and "ca_cert_file" not in providers["vault"]
    assert providers["proxmox"]["pm_tls_insecure"] is False
    data = ephemerals_of(files["tf/kubernetes/provider.tf"])
    assert {n: b["name"] for n, b in data.items()} == {"infra_proxmox": "infra/proxmox",
                                                       "infra_pve_token": "infra/pve-token"}
    assert providers["proxmox"]["pm_api_token_secret"] == 'ephemeral.vault_kv_secret_v2.infra_pve_token.data["secret"]'
    body = parse(files["tf/modules/proxmox_vm/main.tf"])["resource"][0]["proxmox_vm_qemu"]["this"]
    assert body["boot"] == "order=virtio0"
    assert "virtio0" in body["disks"][0]["virtio"][0]
    assert schema_violations(body, vm_qemu_schema(pinned_rc(files)), "x") == []
    calls = module_calls(files, "kubernetes")
    assert calls["kube01"]["vlan_tag"] == 20
    assert calls["kube01"]["tags"] == ["gpu", "k8s-control-plane", "kubernetes", "media-server", "x"]


@pytest.mark.parametrize(("step_ca", "tls_insecure", "skip_verify", "pm_insecure", "vault_skip"), [
    (True, None, None, False, False),    # an internal CA: verify both, against tls/ca.crt
    (False, None, None, True, False),    # no CA: PVE's self-signed certificate is not verifiable
    (True, True, True, True, True),      # explicit settings win
    (False, False, None, False, False),
])
def test_tls_verification_follows_the_internal_ca(step_ca, tls_insecure, skip_verify, pm_insecure, vault_skip):
    """Item 4: verification is a lab setting whose default is on once the lab has an internal CA, and
    the CA file (tls/ca.crt) is wired into the vault provider."""
    def change(data):
        if not step_ca:
            data["pki"].pop("step_ca")
        data["proxmox"].pop("tls_insecure", None)
        data["vault"]["tls"].pop("skip_verify", None)
        if tls_insecure is not None:
            data["proxmox"]["tls_insecure"] = tls_insecure
        if skip_verify is not None:
            data["vault"]["tls"]["skip_verify"] = skip_verify

    files = render_files(lab_variant(change))
    providers = providers_of(files["tf/lab/provider.tf"])
    assert providers["proxmox"]["pm_tls_insecure"] is pm_insecure
    assert providers_of(files["tf/vault/provider.tf"])["proxmox"]["pm_tls_insecure"] is pm_insecure
    assert providers["vault"]["skip_tls_verify"] is vault_skip
    assert ("ca_cert_file" in providers["vault"]) is (not vault_skip)


def test_sata_template_slot_has_no_iothread():
    files = render_files(lab_variant(lambda d: d["proxmox"]["template"].update(disk_slot="sata0")))
    body = parse(files["tf/modules/proxmox_vm/main.tf"])["resource"][0]["proxmox_vm_qemu"]["this"]
    disk = body["disks"][0]["sata"][0]["sata0"][0]["disk"][0]
    assert "iothread" not in disk
    assert schema_violations(body, vm_qemu_schema(pinned_rc(files)), "x") == []


def test_only_environments_with_vms_get_a_root():
    def only_kubernetes(data):
        data["vms"] = [vm for vm in data["vms"] if vm["env"] == "kubernetes"]
        data["clusters"].pop("elasticsearch")
        data["vault"]["server"] = None
        data["pki"]["step_ca"]["host"] = None

    files = render_files(lab_variant(only_kubernetes))
    assert {p.split("/")[1] for p in files} == {"modules", "kubernetes"}


def test_bad_environment_name_is_a_located_error():
    def bad(data):
        data["environments"].append("../evil")
        data["vms"][0]["env"] = "../evil"

    with pytest.raises(HomelabError) as exc:
        terraform.render(lab_variant(bad))
    assert "homelab.yaml:" in exc.value.message and "../evil" in exc.value.message


def test_credential_paths_that_sanitise_alike_get_distinct_data_sources():
    def change(data):
        data["proxmox"]["credentials"]["token_id"] = {"path": "infra/pve", "field": "id"}
        data["proxmox"]["credentials"]["token_secret"] = {"path": "infra_pve", "field": "secret"}

    text = render_files(lab_variant(change))["tf/lab/provider.tf"]
    assert {n: b["name"] for n, b in ephemerals_of(text).items()} == {"infra_pve": "infra/pve",
                                                                      "infra_pve_2": "infra_pve"}
    pm = providers_of(text)["proxmox"]
    assert pm["pm_api_token_id"] == 'ephemeral.vault_kv_secret_v2.infra_pve.data["id"]'
    assert pm["pm_api_token_secret"] == 'ephemeral.vault_kv_secret_v2.infra_pve_2.data["secret"]'


PRECONDITION_CHECK = """\
variable "machine" {
  type    = string
  default = null
}

variable "pci_devices" {
  type    = list(object({ raw_id = string, pcie = bool }))
  default = []
}

resource "terraform_data" "vm" {
  lifecycle {
    precondition {
      condition     = CONDITION
      error_message = "needs q35"
    }
  }
}
"""


@pytest.mark.validators
@pytest.mark.parametrize(("machine", "pcie", "ok"), [
    (None, True, False), ("pc", True, False), ("q35", True, True), ("pc-q35-8.1", True, True),
    (None, False, True), (None, None, True),
])
def test_the_modules_q35_precondition_evaluates_as_meant(files, tmp_path, machine, pcie, ok):
    """The rendered precondition, evaluated by the real terraform (built-in terraform_data, offline)."""
    body = parse(files["tf/modules/proxmox_vm/main.tf"])["resource"][0]["proxmox_vm_qemu"]["this"]
    condition = body["lifecycle"][0]["precondition"][0]["condition"]
    (tmp_path / "main.tf").write_text(PRECONDITION_CHECK.replace("CONDITION", condition))
    env = {**os.environ, "CHECKPOINT_DISABLE": "1", "TF_CLI_CONFIG_FILE": os.devnull, "TF_IN_AUTOMATION": "1"}
    tf = terraform_bin()
    assert subprocess.run([tf, "init", "-input=false"], cwd=tmp_path, env=env, capture_output=True,
                          timeout=120).returncode == 0
    args = [tf, "plan", "-input=false", "-no-color"]
    if machine is not None:
        args.append(f"-var=machine={machine}")
    if pcie is not None:
        args.append(f'-var=pci_devices=[{{raw_id="0000:01:00",pcie={str(pcie).lower()}}}]')
    proc = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert (proc.returncode == 0) is ok, proc.stdout + proc.stderr
    if not ok:
        assert "needs q35" in proc.stdout + proc.stderr
