"""What a reader can state about the reference rendering, checked from the outside.

The expectations come from the seed (shared/seed/tech-stack.md, "Resource Allocation Standards", typed in
below) and from the lab file read as plain YAML — never from homelab's model, renderers or plan — and
the rendering (examples/reference/rendered, kept equal to a fresh `homelab render` by
test_reference_rendering.py) is read as a consumer reads it: HCL parsed with python-hcl2, YAML with a
YAML parser.

- every VM is in its environment's Terraform root, once, with its vmid, address, node (when the lab pins
  one) and its role's size: the seed's standard, or the lab's own `roles:` entry, or the VM's override;
  VMs of one role the seed does not size are at least sized alike;
- every app is an ArgoCD Application deploying its pinned chart into its namespace, and so is every
  platform component the lab gives a namespace;
- every Vault policy grants exactly its rules' paths: a KV v2 rule `secrets: X` becomes `<mount>/data/X`
  (reads/writes, never `list`) and `<mount>/metadata/X` (where `list` lives; KV v2 docs: "list" applies to
  metadata/), a raw `path:` rule is its path, with its capabilities; no other path.
"""

from __future__ import annotations

import re
from pathlib import Path

import hcl2
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
LAB_FILE = ROOT / "examples" / "reference" / "homelab.yaml"
RENDERED = ROOT / "examples" / "reference" / "rendered"

# tech-stack.md, "Resource Allocation Standards": (cores, RAM GiB, storage GiB). Plex's storage is only "high
# storage allocation" there: None, so the lab's own plex role must state it.
SEED_SIZES = {
    "k8s-control-plane": (2, 2, 100),
    "k8s-worker": (4, 8, 200),
    "es-data": (4, 8, 1024),  # 1TB
    "es-master": (2, 4, 100),
    "plex": (4, 32, None),
    "vault": (2, 4, 50),
}
_SIZE = re.compile(r"^(\d+)\s*(GiB|TiB|G|T)$")


def unquote(node):
    """python-hcl2 keeps the quotes of HCL strings (labels and values): drop them, recursively."""
    if isinstance(node, str) and len(node) >= 2 and node[0] == node[-1] == '"':
        return node[1:-1]
    if isinstance(node, dict):
        return {unquote(k): unquote(v) for k, v in node.items()}
    if isinstance(node, list):
        return [unquote(v) for v in node]
    return node


def hcl(path: Path) -> dict:
    return unquote(hcl2.loads(path.read_text()))


def gib(text) -> int:
    m = _SIZE.match(str(text).strip())
    assert m, f"unexpected size {text!r}"
    return int(m.group(1)) * (1024 if m.group(2).startswith("T") else 1)


@pytest.fixture(scope="module")
def lab() -> dict:
    return yaml.safe_load(LAB_FILE.read_text())


@pytest.fixture(scope="module")
def vm_modules() -> dict[str, tuple[str, dict]]:
    """name -> (environment directory, the module's inputs), for every VM module in tf/<env>/*.tf."""
    found: dict[str, tuple[str, dict]] = {}
    for env_dir in sorted(p for p in (RENDERED / "tf").iterdir() if p.is_dir() and p.name != "modules"):
        for tf in sorted(env_dir.glob("*.tf")):
            for block in hcl(tf).get("module", []):
                for label, inputs in block.items():
                    if str(inputs.get("source", "")).endswith("modules/proxmox_vm"):
                        assert label not in found, f"VM {label} rendered twice"
                        found[label] = (env_dir.name, inputs)
    return found


def expected_size(lab: dict, vm: dict) -> tuple[int | None, int | None, int | None]:
    role = vm["role"]
    cores, mem, disk = SEED_SIZES.get(role, (None, None, None))
    own = (lab.get("roles") or {}).get(role) or {}
    cores = own.get("cores", cores)
    mem = gib(own["memory"]) if "memory" in own else mem
    disk = gib(own["disk"]) if "disk" in own else disk
    cores = vm.get("cores", cores)
    mem = gib(vm["memory"]) if "memory" in vm else mem
    disk = gib(vm["disk"]) if "disk" in vm else disk
    return cores, (mem * 1024 if mem is not None else None), disk


def test_every_vm_is_rendered_once_in_its_environment(lab, vm_modules):
    assert sorted(vm_modules) == sorted(vm["name"] for vm in lab["vms"])
    for vm in lab["vms"]:
        env, inputs = vm_modules[vm["name"]]
        assert env == vm["env"], vm["name"]
        assert inputs["vmid"] == vm["vmid"] and inputs["ip_address"] == vm["ip"], vm["name"]
        if "node" in vm:
            assert inputs["target_node"] == vm["node"], vm["name"]
        assert inputs["target_node"] in {n["name"] for n in lab["proxmox"]["nodes"]}
        assert inputs["gateway"] == lab["network"]["gateway"] and inputs["nameservers"] == lab["network"]["dns"]


def test_every_vm_has_its_roles_size(lab, vm_modules):
    checked = 0
    for vm in lab["vms"]:
        cores, memory_mib, disk_gib = expected_size(lab, vm)
        inputs = vm_modules[vm["name"]][1]
        if cores is not None:
            assert inputs["cores"] == cores, vm["name"]
            assert inputs["memory"] == memory_mib, vm["name"]
            assert gib(inputs["disk_size"]) == disk_gib, vm["name"]
            checked += 1
    # the seed sizes the roles of 17 of the 22 VMs (kube01-06, es01-09, vault, plex); the other five below
    assert checked == 17
    assert vm_modules["kube06"][1]["memory"] == 24 * 1024  # the lab's own override: 24GiB for the LLM workloads
    assert gib(vm_modules["plex"][1]["disk_size"]) == 500  # the lab's plex role: 500GiB


def test_vms_of_a_role_the_seed_does_not_size_are_sized_alike(lab, vm_modules):
    by_role: dict[str, set] = {}
    for vm in lab["vms"]:
        if vm["role"] in SEED_SIZES or {"cores", "memory", "disk"} & set(vm):
            continue
        inputs = vm_modules[vm["name"]][1]
        by_role.setdefault(vm["role"], set()).add((inputs["cores"], inputs["memory"], inputs["disk_size"]))
    assert set(by_role) == {"kibana", "fleet", "torrent", "proxy", "infra"}
    for role, sizes in by_role.items():
        assert len(sizes) == 1, role


def _application(path: Path) -> dict:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    apps = [d for d in docs if d.get("kind") == "Application"]
    assert len(apps) == 1, path
    return apps[0]


def test_every_app_deploys_its_chart_into_its_namespace(lab):
    for app in lab["apps"]:
        obj = _application(RENDERED / "k8s" / "apps" / app["namespace"] / f"{app['name']}.yaml")
        assert obj["apiVersion"] == "argoproj.io/v1alpha1" and obj["metadata"]["name"] == app["name"]
        assert obj["spec"]["destination"]["namespace"] == app["namespace"], app["name"]
        chart = obj["spec"]["sources"][0]
        assert (chart["repoURL"].rstrip("/"), chart["chart"], chart["targetRevision"]) == (
            app["chart"]["repo"].rstrip("/"), app["chart"]["name"], app["chart"]["version"]), app["name"]
        values = obj["spec"]["sources"][1]  # the lab's values repository (seed: multi-source Helm + values)
        assert (values["repoURL"], values["targetRevision"], values["ref"]) == (
            lab["gitops"]["argocd"]["repo_url"], lab["gitops"]["argocd"]["revision"], "values")
    rendered = {p.stem for p in (RENDERED / "k8s" / "apps").rglob("*.yaml") if not p.name.endswith(".secrets.yaml")}
    assert rendered == {a["name"] for a in lab["apps"]}  # and no app the lab does not have


def test_every_platform_component_with_a_namespace_deploys_there(lab):
    apps = {}
    for path in (RENDERED / "k8s" / "platform").glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "Application":
                apps[doc["metadata"]["name"]] = doc
    for key, comp in lab["platform"].items():
        name = key.replace("_", "-")
        assert name in apps, name
        assert apps[name]["spec"]["destination"]["namespace"] == comp["namespace"], name
        chart = apps[name]["spec"]["sources"][0]
        assert (chart["chart"], chart["targetRevision"]) == (comp["chart"]["name"], comp["chart"]["version"]), name


def _policy_paths(name: str) -> dict[str, set[str]]:
    parsed = hcl(RENDERED / "vault" / "policies" / f"{name}.hcl")
    out: dict[str, set[str]] = {}
    for block in parsed.get("path", []):
        for path, body in block.items():
            assert path not in out, f"{name}: {path} twice"
            out[path] = set(body["capabilities"])
    return out


def test_every_policy_grants_exactly_its_paths(lab):
    mount = lab["vault"]["kv_mount"]
    policies = lab["vault"]["policies"]
    assert {p.stem for p in (RENDERED / "vault" / "policies").glob("*.hcl")} == set(policies)
    for name, policy in policies.items():
        want: dict[str, set[str]] = {}
        for rule in policy["rules"]:
            caps = set(rule["capabilities"])
            if "secrets" in rule:
                data, meta = f"{mount}/data/{rule['secrets']}", f"{mount}/metadata/{rule['secrets']}"
                want[data] = want.get(data, set()) | (caps - {"list"})
                want[meta] = want.get(meta, set()) | ({"list"} & caps)
            else:
                want[rule["path"]] = want.get(rule["path"], set()) | caps
        got = _policy_paths(name)
        assert set(got) == set(want), name
        for path, caps in want.items():
            assert caps <= got[path], (name, path)
            if "/metadata/" in path:  # metadata: listing and reading versions, never writing unless granted
                assert ("list" in got[path]) == ("list" in caps), (name, path)
                assert not got[path] & {"create", "update", "patch", "delete"}, (name, path)
            else:
                assert got[path] == caps, (name, path)
