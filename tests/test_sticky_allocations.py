"""Allocations are sticky (issue 11, item 16; lab/lock.py): once a VM has an address, VMID and Proxmox
node, no edit of another VM changes them.

Proven on the starter lab — no VM pins anything, so every value is allocated — applied in full through our
apply (fake engines: every VM is in state), then edited as users do: `vm remove`, a VM added by hand whose
name sorts first, `vm add`, a resize, and the upgrade path (state, but no lock file). After each edit the
plan changes nothing of any other VM, and `homelab inventory` shows every other VM where it was.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "plan"))

from fake_engine import RecordingEngine, fake_engines, lookup  # noqa: E402

from homelab.apply import session as apply_session  # noqa: E402
from homelab.cli.main import main  # noqa: E402

STARTER = Path(__file__).resolve().parent.parent / "src" / "homelab" / "lab" / "templates" / "homelab.yaml"


def run(argv) -> int:
    with pytest.raises(SystemExit) as ex:
        main(argv)
    return ex.value.code


@pytest.fixture(scope="module")
def applied_starter(tmp_path_factory):
    base = tmp_path_factory.mktemp("sticky")
    shutil.copy(STARTER, base / "homelab.yaml")
    engines = fake_engines()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(base)
        mp.delenv("HOMELAB_STATE_DIR", raising=False)
        mp.setattr(apply_session, "default_engines", lambda: lookup(engines))
        assert run(["apply", "-y"]) == 0
    return base, engines


@pytest.fixture
def lab(applied_starter, tmp_path, monkeypatch):
    base, engines = applied_starter
    for name in ("homelab.yaml", "homelab.lock"):
        if (base / name).exists():
            shutil.copy(base / name, tmp_path / name)
    shutil.copytree(base / ".homelab", tmp_path / ".homelab")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HOMELAB_STATE_DIR", raising=False)
    copy = {name: RecordingEngine(name, live=dict(e.live)) for name, e in engines.items()}
    monkeypatch.setattr(apply_session, "default_engines", lambda: lookup(copy))
    return tmp_path


def inventory(capsys) -> dict[str, tuple]:
    capsys.readouterr()
    assert run(["inventory", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    return {vm["name"]: (vm["ip"], vm["vmid"], vm["node"]) for vm in data["vms"]}


def changes(capsys) -> dict[str, str]:
    capsys.readouterr()
    assert run(["plan", "--format", "json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    return {c["address"]: c["action"] for layer in plan["layers"] for c in layer["changes"] if c["action"] != "no-op"}


def test_the_starter_allocates_everything_and_the_first_plan_records_it(applied_starter):
    base, _ = applied_starter
    vms = [ln for ln in (base / "homelab.yaml").read_text().splitlines() if ln.startswith("  - {name: kube")]
    assert len(vms) == 5 and not any(k in ln for ln in vms for k in ("ip:", "vmid:", "node:"))  # nothing pinned
    lock = (base / "homelab.lock").read_text()
    assert lock.startswith("# homelab.lock -- written by `homelab plan`")
    assert "  kube01: {ip: 192.168.10.20, vmid: 100, node: pve1}\n" in lock  # first of the pool, lowest VMID
    assert "  kube05: {ip: 192.168.10.24, vmid: 104, node: pve" in lock


def test_vm_remove_moves_nobody(lab, capsys):
    before = inventory(capsys)
    assert run(["vm", "remove", "kube03", "--no-render", "--format", "json"]) == 0
    after = inventory(capsys)
    assert after == {k: v for k, v in before.items() if k != "kube03"}
    got = changes(capsys)
    assert got == {"proxmox_vm.kube03": "delete", "host.kube03": "delete", "k3s_server.kube03": "delete",
                   "host_pki.kube03": "delete"}
    # kube03 is still in state: its address and VMID are held until it is destroyed
    assert "  kube03: {ip: 192.168.10.22, vmid: 102" in (lab / "homelab.lock").read_text()


def test_a_vm_added_by_hand_that_sorts_first_takes_nobody_s_address(lab, capsys):
    before = inventory(capsys)
    text = (lab / "homelab.yaml").read_text()
    text = text.replace("  - {name: kube05, role: k8s-worker, env: kubernetes}\n",
                        "  - {name: kube05, role: k8s-worker, env: kubernetes}\n"
                        "  - {name: aaa01, role: general, env: kubernetes}\n")
    (lab / "homelab.yaml").write_text(text)
    after = inventory(capsys)
    assert {k: v for k, v in after.items() if k != "aaa01"} == before
    assert after["aaa01"][:2] == ("192.168.10.25", 105)  # the next free address and VMID
    assert changes(capsys) == {"proxmox_vm.aaa01": "create", "host.aaa01": "create", "host_pki.aaa01": "create"}


def test_vm_add_and_a_resize_move_nobody(lab, capsys):
    before = inventory(capsys)
    assert run(["vm", "add", "kube06", "--role", "k8s-worker", "--no-render", "--format", "json"]) == 0
    text = (lab / "homelab.yaml").read_text()
    (lab / "homelab.yaml").write_text(text.replace("  - {name: kube01, role: k8s-control-plane, env: kubernetes}",
                                                   "  - {name: kube01, role: k8s-control-plane, env: kubernetes, "
                                                   "memory: 48GiB}"))
    after = inventory(capsys)
    assert {k: v for k, v in after.items() if k != "kube06"} == before
    assert changes(capsys) == {"proxmox_vm.kube06": "create", "host.kube06": "create", "k3s_agent.kube06": "create",
                               "host_pki.kube06": "create", "proxmox_vm.kube01": "update"}


def test_without_the_lock_file_the_state_keeps_every_vm_where_it_is(lab, capsys):
    """A lab applied before the lock existed (or whose lock was lost): the state's allocations are adopted."""
    before = inventory(capsys)
    lock = (lab / "homelab.lock").read_text()
    (lab / "homelab.lock").unlink()
    text = (lab / "homelab.yaml").read_text()  # kube04 removed by hand (not with `vm remove`)
    text = text.replace("  - {name: kube04, role: k8s-worker, env: kubernetes}\n", "")
    (lab / "homelab.yaml").write_text(text.replace("agents: [kube04, kube05]", "agents: [kube05]"))
    got = changes(capsys)  # the plan adopts the state's allocations and records them
    assert got == {"proxmox_vm.kube04": "delete", "host.kube04": "delete", "k3s_agent.kube04": "delete",
                   "host_pki.kube04": "delete"}
    # kube04 is held while it is in state; the lock now also records the K3s the state says runs
    assert (lab / "homelab.lock").read_text().replace("k3s_version: v1.33.4+k3s1\n", "") == lock
    assert inventory(capsys) == {k: v for k, v in before.items() if k != "kube04"}


def test_a_malformed_lock_is_a_located_error(lab, capsys):
    (lab / "homelab.lock").write_text("version: 1\nvms:\n  kube01: {ip: not-an-address}\n")
    capsys.readouterr()
    assert run(["check"]) == 2
    err = capsys.readouterr().err
    assert "homelab.lock:1:1: error[lock-invalid]: homelab.lock: kube01: 'not-an-address' is not an IPv4 address" in err
    assert "delete homelab.lock" in err and "Traceback" not in err


def test_a_recorded_value_that_is_no_longer_valid_is_allocated_anew():
    """Pure resolve: the lock is kept while valid; a value the lab now forbids is allocated afresh."""
    from homelab.lab.load import load_text
    from homelab.lab.lock import Allocation

    text = STARTER.read_text()
    lock = {"kube01": Allocation("192.168.10.77", 777, "pve3"),  # valid: kept
            "kube02": Allocation("192.168.10.210", 1200, "pve9"),  # MetalLB pool, out of range, no such node
            "kube03": Allocation("192.168.10.77", 777, "pve2"),  # kube01's address and VMID: taken
            "gone01": Allocation("192.168.10.20", 100)}  # a VM removed from the lab: held
    inv = load_text(text, lock=lock).inventory.by_name
    assert (inv["kube01"].ip, inv["kube01"].vmid, inv["kube01"].node) == ("192.168.10.77", 777, "pve3")
    assert inv["kube01"].ip_allocated and inv["kube01"].vmid_allocated and inv["kube01"].node_placed
    assert (inv["kube02"].ip, inv["kube02"].vmid) == ("192.168.10.21", 101)  # .20/100 are held by gone01
    assert inv["kube02"].node in ("pve1", "pve2", "pve3")
    assert (inv["kube03"].ip, inv["kube03"].vmid, inv["kube03"].node) == ("192.168.10.22", 102, "pve2")
    pinned = text.replace("  - {name: kube01, role: k8s-control-plane, env: kubernetes}",
                          "  - {name: kube01, role: k8s-control-plane, env: kubernetes, ip: 192.168.10.30}")
    inv = load_text(pinned, lock=lock).inventory.by_name
    assert inv["kube01"].ip == "192.168.10.30" and not inv["kube01"].ip_allocated  # a pin wins over the lock


def test_the_lock_reads_back_what_it_writes_and_a_hand_reshaped_one(tmp_path):
    from homelab.lab.lock import Allocation, lock_text, read_lock

    allocs = {"kube01": Allocation("192.168.10.20", 100, "pve1"), "kibana": Allocation(node="pve2"),
              "es01": Allocation(vmid=181)}
    path = tmp_path / "homelab.lock"
    path.write_text(lock_text(allocs))
    assert read_lock(path) == allocs
    path.write_text("version: 1\nvms:\n  kube01:\n    ip: 192.168.10.20\n    vmid: 100\n")  # block style, by hand
    assert read_lock(path) == {"kube01": Allocation("192.168.10.20", 100)}
    path.write_text(lock_text({}))
    assert read_lock(path) == {} and "vms: {}" in path.read_text()


def test_the_lock_records_the_running_k3s_version_and_reads_back(tmp_path):
    """`k3s_version:` (homelab plan from state, homelab upgrade k3s when it finishes) is kept by a rewrite that
    does not name it, and does not disturb the allocations read line by line."""
    from homelab.lab.lock import Allocation, lock_text, lock_update, read_k3s_version, read_lock

    path = tmp_path / "homelab.lock"
    path.write_text(lock_text({"kube01": Allocation("10.0.0.20", 100, "pve1")}, k3s_version="v1.33.4+k3s1"))
    assert read_k3s_version(path) == "v1.33.4+k3s1"
    assert read_lock(path) == {"kube01": Allocation("10.0.0.20", 100, "pve1")}
    kept = lock_update(path, {"kube01": Allocation("10.0.0.21", 100, "pve1")}, "homelab.yaml")
    assert "k3s_version: v1.33.4+k3s1" in kept and "10.0.0.21" in kept
    assert lock_update(path, read_lock(path), "homelab.yaml") is None  # nothing changes
    assert "k3s_version: v1.34.1+k3s1" in lock_update(path, read_lock(path), "homelab.yaml", "v1.34.1+k3s1")
    assert read_k3s_version(tmp_path / "missing.lock") is None
