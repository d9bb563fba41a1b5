"""The command line, end to end through the installed entry point, asserting exact output.

Expected values come from the seed (tech-stack.md, "Resource Allocation Standards"; reference-lab notes
for addresses), not from the code under test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REF = "examples/reference/homelab.yaml"
CONSOLE = Path(sys.executable).with_name("homelab")


def homelab(*args, cwd=ROOT):
    cmd = [str(CONSOLE)] if CONSOLE.exists() else [sys.executable, "-m", "homelab"]
    out = subprocess.run([*cmd, *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in out.stdout + out.stderr
    return out


BROKEN = """\
version: 1
name: broken
network:
  cidr: 10.0.0.0/24
  gateway: 10.0.0.1
  dns: [10.0.0.1]
  domain: lab.example.org
  pools: {vms: 10.0.0.20-10.0.0.99, metallb: 10.0.0.200-10.0.0.220}
proxmox:
  nodes:
    - {name: pve1, cores: 16, memory: 64GiB, storages: {local-lvm: 2TiB}}
vms:
  - {name: web01, role: general, env: lab, ip: 10.0.1.5}
  - {name: web02, role: genral, env: lab, vmid: 150}
  - {name: web03, role: general, env: lab, vmid: 150}
vault:
  secrets:
    - {path: infra/proxmox, fields: [api_token_id, api_token_secret]}
clusters:
  elasticsearch:
    data_nodes: [web01]
    master_nodes: [web02]
"""

BROKEN_OUTPUT = """\
homelab.yaml:13:48: error[vm-ip-outside-network]: VM web01: address 10.0.1.5 is outside the network 10.0.0.0/24
  hint: pick an address in 10.0.0.0/24, or remove `ip:` to allocate one
homelab.yaml:14:25: error[unknown-role]: VM web02: unknown role 'genral'
  hint: did you mean 'general'?
homelab.yaml:15:50: error[vmid-duplicate]: VM web03: VMID 150 is already used by VM web02
  hint: give each VM its own VMID, or remove `vmid:` to allocate a free one
homelab.yaml:22:19: warning[es-master-quorum]: 1 Elasticsearch master(s): the cluster cannot elect a master if one fails
  hint: use 3 dedicated master nodes
3 error(s), 1 warning(s)
"""


# --- check ------------------------------------------------------------------------------------------

def test_check_reference_lab_is_clean():
    out = homelab("check", REF)
    assert (out.returncode, out.stdout, out.stderr) == (0, f"{REF}: ok (22 VMs, 14 apps)\n", "")


def test_check_reference_lab_json():
    out = homelab("check", REF, "--format", "json")
    assert out.returncode == 0 and out.stderr == ""
    assert json.loads(out.stdout) == {"diagnostics": []}


def test_check_reports_every_error_exactly(tmp_path):
    (tmp_path / "homelab.yaml").write_text(BROKEN)
    out = homelab("check", "homelab.yaml", cwd=tmp_path)
    assert (out.returncode, out.stdout, out.stderr) == (1, BROKEN_OUTPUT, "")


def test_check_defaults_to_homelab_yaml_in_the_current_directory(tmp_path):
    (tmp_path / "homelab.yaml").write_text(BROKEN)
    out = homelab("check", cwd=tmp_path)
    assert (out.returncode, out.stdout) == (1, BROKEN_OUTPUT)


def test_check_json_shape(tmp_path):
    (tmp_path / "homelab.yaml").write_text(BROKEN)
    out = homelab("check", "homelab.yaml", "--format", "json", cwd=tmp_path)
    assert out.returncode == 1 and out.stderr == ""
    diags = json.loads(out.stdout)["diagnostics"]
    assert [(d["rule"], d["severity"], d["location"]["line"]) for d in diags] == [
        ("vm-ip-outside-network", "error", 13), ("unknown-role", "error", 14),
        ("vmid-duplicate", "error", 15), ("es-master-quorum", "warning", 22)]
    assert diags[0] == {
        "rule": "vm-ip-outside-network", "severity": "error",
        "message": "VM web01: address 10.0.1.5 is outside the network 10.0.0.0/24",
        "hint": "pick an address in 10.0.0.0/24, or remove `ip:` to allocate one",
        "location": {"file": "homelab.yaml", "line": 13, "col": 48}, "path": "vms.0.ip",
    }


def test_warnings_alone_exit_0_and_strict_makes_them_fail(tmp_path):
    text = BROKEN.replace("ip: 10.0.1.5", "ip: 10.0.0.5").replace("genral", "general").replace(
        "env: lab, vmid: 150}\nvault", "env: lab, vmid: 151}\nvault")
    (tmp_path / "homelab.yaml").write_text(text)
    expected = ("homelab.yaml:22:19: warning[es-master-quorum]: 1 Elasticsearch master(s): the cluster cannot "
                "elect a master if one fails\n  hint: use 3 dedicated master nodes\n0 error(s), 1 warning(s)\n")
    out = homelab("check", "homelab.yaml", cwd=tmp_path)
    assert (out.returncode, out.stdout) == (0, expected)
    out = homelab("check", "homelab.yaml", "--strict", cwd=tmp_path)
    assert (out.returncode, out.stdout) == (1, expected)


def test_check_unusable_file_exits_2_with_located_diagnostics(tmp_path):
    (tmp_path / "homelab.yaml").write_text(BROKEN.replace("  gateway: 10.0.0.1\n", "  gateway: 10.0.0.1\n  gatway: x\n"))
    out = homelab("check", "homelab.yaml", cwd=tmp_path)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr == ("homelab.yaml:6:3: error[unknown-key]: network.gatway: unknown key 'gatway'\n"
                          "  hint: did you mean 'gateway'?\n1 error(s), 0 warning(s)\n")


def test_check_missing_file_exits_2(tmp_path):
    out = homelab("check", "nope.yaml", cwd=tmp_path)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr == ("nope.yaml: error[file-not-found]: nope.yaml does not exist\n"
                          "  hint: create one with `homelab init DIR`, or pass the path of your lab file\n"
                          "1 error(s), 0 warning(s)\n")


# --- inventory --------------------------------------------------------------------------------------

def test_inventory_table():
    out = homelab("inventory", REF)
    assert out.returncode == 0 and out.stderr == ""
    lines = out.stdout.splitlines()
    assert lines[0] == "NAME     ROLE               ENV         NODE  IP             VMID  CORES  MEMORY  DISK"
    assert "kube01   k8s-control-plane  kubernetes  pve1  192.168.10.71  171   2      2GiB    100GiB" in lines
    assert "es01     es-data            lab         pve1  192.168.10.81  181   4      8GiB    1TiB" in lines
    assert "vault    vault              vault       pve1  192.168.10.50  150   2      4GiB    50GiB" in lines
    assert len(lines) == 1 + 22
    assert [ln.split()[0] for ln in lines[1:]] == sorted(ln.split()[0] for ln in lines[1:])


SEED_VMS = [f"kube0{i}" for i in range(1, 7)] + [f"es0{i}" for i in range(1, 10)] + [
    "kibana", "fleet", "infra", "proxy", "plex", "torrent", "vault"]


def test_inventory_json_lists_every_seed_vm_with_the_seed_resources():
    out = homelab("inventory", REF, "--format", "json")
    assert out.returncode == 0 and out.stderr == ""
    vms = {vm["name"]: vm for vm in json.loads(out.stdout)["vms"]}
    assert sorted(vms) == sorted(SEED_VMS)

    def res(name):
        vm = vms[name]
        return vm["cores"], vm["memory_mib"], vm["disk_gib"]

    # tech-stack.md, Resource Allocation Standards
    for name in ("kube01", "kube02", "kube03"):
        assert res(name) == (2, 2048, 100) and vms[name]["role"] == "k8s-control-plane"
    for name in ("kube04", "kube05"):
        assert res(name) == (4, 8192, 200) and vms[name]["role"] == "k8s-worker"
    # kube06 is the GPU worker: the worker standard, with more memory for 8-16Gi LLM workloads
    assert vms["kube06"]["cores"] == 4 and vms["kube06"]["disk_gib"] == 200
    assert vms["kube06"]["memory_mib"] >= 16384 and vms["kube06"]["gpu"] is True
    for i in range(1, 7):
        assert res(f"es0{i}") == (4, 8192, 1024) and vms[f"es0{i}"]["role"] == "es-data"
    for i in range(7, 10):
        assert res(f"es0{i}") == (2, 4096, 100) and vms[f"es0{i}"]["role"] == "es-master"
    assert vms["plex"]["cores"] == 4 and vms["plex"]["memory_mib"] == 32768
    assert vms["plex"]["disk_gib"] > 200  # "high storage allocation"
    assert res("vault") == (2, 4096, 50)
    # reference-lab notes: the control plane at .71-.73; FQDNs below lab.thewortmans.org
    assert [vms[f"kube0{i}"]["ip"] for i in (1, 2, 3)] == ["192.168.10.71", "192.168.10.72", "192.168.10.73"]
    assert vms["vault"]["fqdn"] == "vault.lab.thewortmans.org"
    # Terraform environments of the seed
    assert {vms[n]["env"] for n in ("kube01", "kube06")} == {"kubernetes"}
    assert {vms[f"es0{i}"]["env"] for i in range(1, 10)} == {"lab"}
    assert vms["vault"]["env"] == "vault" and vms["plex"]["env"] == "home-apps"
    # every VM is placed, addressed and numbered
    assert all(vm["node"] and vm["ip"] and vm["vmid"] for vm in vms.values())
    assert len({vm["ip"] for vm in vms.values()}) == len(vms) == len({vm["vmid"] for vm in vms.values()})


# --- explain, schema, help, usage -------------------------------------------------------------------

def test_explain_lists_every_rule():
    from homelab.validate.catalog import all_rules  # the model's check rules and the validate rules

    out = homelab("explain")
    assert out.returncode == 0
    lines = out.stdout.splitlines()
    assert [ln.split()[0] for ln in lines] == [r.id for r in all_rules()]
    assert any(ln.split()[:2] == ["k3s-server-quorum", "warning"] for ln in lines)


def test_explain_a_rule():
    out = homelab("explain", "vm-ip-duplicate")
    assert out.returncode == 0
    assert out.stdout.startswith("# vm-ip-duplicate\n\n**Severity:** error\n")
    assert "## Problematic" in out.stdout and "## Correct" in out.stdout


def test_explain_json():
    out = homelab("explain", "chart-unpinned", "--format", "json")
    data = json.loads(out.stdout)
    assert sorted(data) == ["doc", "id", "severity", "summary"]
    assert data["id"] == "chart-unpinned" and data["severity"] == "error"


def test_explain_unknown_rule_suggests_the_closest():
    out = homelab("explain", "vm-ip-duplicat")
    assert (out.returncode, out.stdout) == (2, "")
    assert out.stderr == "error: no rule named 'vm-ip-duplicat'\n  hint: did you mean 'vm-ip-duplicate'?\n"


def test_explain_unknown_rule_without_a_close_match():
    out = homelab("explain", "zzzzzz")
    assert out.returncode == 2
    assert out.stderr == "error: no rule named 'zzzzzz'\n  hint: run `homelab explain` to list the rules\n"


def test_schema_prints_json_schema():
    out = homelab("schema")
    assert out.returncode == 0
    schema = json.loads(out.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "homelab.yaml" and schema["additionalProperties"] is False
    assert {"version", "name", "network", "proxmox"} <= set(schema["required"])


@pytest.mark.parametrize("args", [["--help"], ["-h"], []])
def test_help(args):
    out = homelab(*args)
    # no arguments prints the help too (click exits 2 for "missing command", 0 for --help)
    assert out.returncode == (0 if args else 2)
    text = out.stdout + out.stderr
    assert "Usage: homelab" in text
    for command in ("check", "inventory", "schema", "init", "explain"):
        assert f" {command} " in text


def test_command_help():
    out = homelab("check", "--help")
    assert out.returncode == 0
    assert "--format" in out.stdout and "--strict" in out.stdout


def test_version():
    from importlib.metadata import version

    out = homelab("--version")
    assert (out.returncode, out.stdout) == (0, f"homelab {version('homelab')}\n")


@pytest.mark.parametrize("args", [["check", REF, "--format", "xml"], ["inventory", REF, "-f", "yaml"],
                                  ["nonsense-command"], ["check", "--no-such-option"]])
def test_bad_usage_exits_2(args):
    out = homelab(*args)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr


def test_python_dash_m_is_the_same_cli():
    out = subprocess.run([sys.executable, "-m", "homelab", "check", REF], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert (out.returncode, out.stdout) == (0, f"{REF}: ok (22 VMs, 14 apps)\n")
