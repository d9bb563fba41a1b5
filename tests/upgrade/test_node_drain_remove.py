"""`homelab node drain` / `node remove` (ops/remove_node.py) against the Kubernetes fake (nodes, evictions,
K3s's etcd member controller) and recording engines for the plan/apply part (tests/plan/fake_engine.py):
a removed node is drained, a server leaves etcd before anything is uninstalled, the lab loses the VM (comments
kept), exactly the VM's own addresses are deleted, and the Node object goes last."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_engine import fake_engines, lookup
from k3s_lab import FakeClock, write_kubeconfig, write_lab

import homelab
from fakes.kube_nodes import ETCD_REMOVE, ETCD_REMOVED, FakeKubeCluster
from homelab.apply import open_session
from homelab.errors import EngineError, UsageError
from homelab.lab.edit import reload
from homelab.ops import remove_node, upgrade_k3s
from homelab.ops.add_vm import remove_vm
from homelab.ops.drain import Clock
from homelab.ops.edit_lab import commit_edit

V33 = "v1.33.4+k3s1"


@pytest.fixture
def lab(tmp_path):
    """The 4-node lab applied through recording engines, and its cluster in the fake."""
    path = write_lab(tmp_path, servers=("k1", "k2", "k3"), agents=("k4",))
    engines = fake_engines()
    doc = homelab.load(str(path))
    homelab.render(doc, out=tmp_path)
    s = open_session(doc, state_dir=tmp_path / "state", workdir=tmp_path, engines=lookup(engines))
    assert not s.apply(s.plan()).failed
    s.close()
    for e in engines.values():
        e.calls.clear()
    with FakeKubeCluster(tokens={"test-token": "admin"}) as fake:
        for n in ("k1", "k2", "k3"):
            fake.add_node(n, V33, server=True)
        fake.add_node("k4", V33)
        fake.add_pod("web", "web-0", "k3", labels={"app": "web"})
        fake.add_pod("web", "web-1", "k4", labels={"app": "web"})
        fake.add_pdb("web", "web", {"app": "web"}, min_available=1)
        yield {"path": path, "engines": engines, "fake": fake, "dir": tmp_path,
               "kubeconfig": write_kubeconfig(tmp_path / "kubeconfig", fake.url)}


def remove(env, name):
    doc = homelab.load(str(env["path"]))
    client = upgrade_k3s.kube_client(doc, env["kubeconfig"])
    order: list[str] = []

    def edit(what):
        order.append(f"edit {what}")
        now = reload(doc, env["path"].read_text())
        text = env["path"].read_text()
        new = remove_node.without_node(now, text, name) if what == "cluster" else remove_vm(now, text, name).text
        commit_edit(now, new, render=True, out=str(env["dir"]))

    def apply_deletes(pattern):
        deleted_before = any(r.method == "DELETE" for r in env["fake"].requests)
        edited = reload(doc, env["path"].read_text())
        # what the rendered inventory holds when the uninstall runs
        inventory = (env["dir"] / "ansible" / "inventory.yml").read_text()
        order.append(f"apply {pattern}" + (" after a DELETE" if deleted_before else "")
                     + (f" ({name} in the inventory)" if f"{name}:" in inventory else ""))
        s = open_session(edited, state_dir=env["dir"] / "state", workdir=env["dir"], engines=lookup(env["engines"]))
        try:
            return remove_node.targeted_deletes(s, pattern)
        finally:
            s.close()

    s = open_session(doc, state_dir=env["dir"] / "state", workdir=env["dir"], engines=lookup(env["engines"]))
    state = s.store.resources()
    s.close()
    clock = FakeClock()
    result = remove_node.remove_node(doc, name, client=client, state=state, edit=edit, apply_deletes=apply_deletes,
                                     clock=Clock(sleep=clock.sleep, now=clock.now, poll=1.0))
    return result, order


def test_drain_cordons_and_evicts_and_leaves_the_node_cordoned(lab):
    doc = homelab.load(str(lab["path"]))
    client = upgrade_k3s.kube_client(doc, lab["kubeconfig"])
    evicted = remove_node.drain_node(doc, client, "k4")
    assert evicted == ["web/web-1"]
    assert lab["fake"].node("k4")["spec"]["unschedulable"] is True
    assert lab["fake"].pods("k4") == []


def test_drain_and_uncordon_through_the_cli(lab):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOMELAB_STATE", "VAULT_"))}

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "homelab", "node", *args, str(lab["path"]), "--kubeconfig",
                               str(lab["kubeconfig"])], capture_output=True, text=True, env=env, timeout=120)

    drained = cli("drain", "k4")
    assert drained.returncode == 0, drained.stderr
    assert "k4 cordoned, 1 pod(s) evicted" in drained.stdout and "homelab node uncordon k4" in drained.stdout
    assert lab["fake"].node("k4")["spec"]["unschedulable"] is True
    back = cli("uncordon", "k4")
    assert back.returncode == 0 and lab["fake"].node("k4")["spec"]["unschedulable"] is False


def test_remove_an_agent_deletes_exactly_its_addresses_and_the_node(lab):
    result, order = remove(lab, "k4")
    assert result.role == "agent" and result.evicted == ["web/web-1"] and not result.left_etcd
    assert sorted(result.deleted) == ["host.k4", "host_pki.k4", "k3s_agent.k4", "proxmox_vm.k4"]
    calls = [a for e in lab["engines"].values() for a in e.calls]
    assert sorted(calls) == sorted(result.deleted)  # nothing else was touched
    # the uninstall (k3s_agent) before the host, the host before the VM
    ansible, terraform = lab["engines"]["ansible"].calls, lab["engines"]["terraform"].calls
    assert ansible == ["k3s_agent.k4", "host_pki.k4", "host.k4"] and terraform == ["proxmox_vm.k4"]
    assert result.node_deleted and lab["fake"].get_object("v1", "Node", "k4") is None
    text = lab["path"].read_text()
    assert "name: k4" not in text and "agents: []" in text and "# the upgrade tests' lab" in text
    # out of the cluster's lists, uninstalled while still in the inventory, then the VM goes; the Node last
    assert order == ["edit cluster", "apply k3s_*.k4 (k4 in the inventory)", "edit vm", "apply *.k4"]


def test_remove_a_server_leaves_etcd_before_the_uninstall(lab):
    result, order = remove(lab, "k3")
    assert result.left_etcd and result.role == "server"
    node_patches = [r for r in lab["fake"].requests if r.method == "PATCH" and r.path == "/api/v1/nodes/k3"]
    assert any((r.body.get("metadata") or {}).get("annotations", {}).get(ETCD_REMOVE) == "true" for r in node_patches)
    assert sorted(result.deleted) == ["host.k3", "host_pki.k3", "k3s_server.k3", "proxmox_vm.k3"]
    assert "servers: [k1, k2]" in lab["path"].read_text()


def test_removing_the_first_or_a_server_that_costs_quorum_is_refused(lab):
    with pytest.raises(UsageError, match="first server"):
        remove(lab, "k1")
    lab["fake"].set_ready("k2", False)
    with pytest.raises(UsageError, match="would cost etcd quorum: 2 servers left need 2 voting members"):
        remove(lab, "k3")
    assert not any(e.calls for e in lab["engines"].values())
    assert "k3" in lab["path"].read_text() and not lab["fake"].node("k3")["spec"].get("unschedulable")


def test_a_failed_uninstall_stops_and_the_rerun_finishes(lab):
    lab["engines"]["ansible"].fail = {"k3s_agent.k4"}
    with pytest.raises(EngineError, match="removing k4") as exc:
        remove(lab, "k4")
    assert "again" in exc.value.hint
    text = lab["path"].read_text()  # out of the cluster's lists; the VM is still there, state holds the node
    assert "agents: []" in text and "name: k4" in text
    assert lab["fake"].get_object("v1", "Node", "k4") is not None
    lab["engines"]["ansible"].fail = set()
    result, order = remove(lab, "k4")
    assert order == ["apply k3s_*.k4 (k4 in the inventory)", "edit vm", "apply *.k4"]
    assert sorted(result.deleted) == ["host.k4", "host_pki.k4", "k3s_agent.k4", "proxmox_vm.k4"]
    assert result.node_deleted


def test_etcd_keeps_its_last_voter(lab):
    fake = lab["fake"]
    for n in ("k1", "k2"):
        fake.set_etcd_voter(n, False)
    client = upgrade_k3s.kube_client(homelab.load(str(lab["path"])), lab["kubeconfig"])
    clock = FakeClock()
    with pytest.raises(EngineError, match="etcd refused to remove k3"):
        remove_node.leave_etcd(client, "k3", say=lambda m: None, clock=Clock(sleep=clock.sleep, now=clock.now),
                               timeout=10)
    annotations = fake.node("k3")["metadata"]["annotations"]
    assert ETCD_REMOVE not in annotations and ETCD_REMOVED not in annotations


def test_unknown_node(lab):
    with pytest.raises(UsageError, match="not a K3s node"):
        remove(lab, "nope")
    assert Path(lab["path"]).exists()
