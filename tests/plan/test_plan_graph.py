"""Dependency order: ready batches from graphlib, each sorted by address."""

from __future__ import annotations

import pytest
from fake_engine import RecordingEngine
from plan_helpers import doc_of, patch_lab, plan_for, record_all, reference_data

from homelab.plan.graph import PlanError, batches, build
from homelab.plan.model import PlannedChange
from homelab.state.store import StateStore


@pytest.fixture(scope="module")
def create_all(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("graph")
    doc = doc_of(reference_data())
    store = StateStore(tmp / "state")
    engines = {n: RecordingEngine(n, configured=False, reachable=False) for n in
               ("vault", "terraform", "ansible", "kubernetes", "truenas")}
    plan = plan_for(doc, store, engines, tmp)
    store.close()
    order = batches(build(plan.changes))
    pos = {a: i for i, batch in enumerate(order) for a in batch}
    return plan, order, pos


def test_every_change_is_scheduled_once_and_batches_are_sorted(create_all):
    plan, order, pos = create_all
    flat = [a for batch in order for a in batch]
    assert sorted(flat) == sorted(c.address for c in plan.changes)
    assert len(flat) == len(set(flat))
    for batch in order:
        assert batch == sorted(batch)


def test_vm_before_host_before_first_server_before_other_servers_before_agents(create_all):
    _, _, pos = create_all
    assert pos["proxmox_vm.kube01"] < pos["host.kube01"] < pos["k3s_server.kube01"]
    assert pos["k3s_server.kube01"] < pos["k3s_server.kube02"] and pos["k3s_server.kube01"] < pos["k3s_server.kube03"]
    for agent in ("kube04", "kube05", "kube06"):
        assert pos[f"host.{agent}"] < pos[f"k3s_agent.{agent}"]
        for server in ("kube01", "kube02", "kube03"):
            assert pos[f"k3s_server.{server}"] < pos[f"k3s_agent.{agent}"]


def test_vault_before_the_terraform_layer_and_everything_reading_secrets(create_all):
    plan, _, pos = create_all
    vault = [c.address for c in plan.changes if c.layer == "vault"]
    others = [c.address for c in plan.changes if c.layer != "vault"]
    assert vault and others
    # every VM but the Vault server's own (tf/vault is created before that Vault exists, see below)
    assert max(pos[a] for a in vault) < min(pos[a] for a in others
                                            if a.startswith("proxmox_vm.") and a != "proxmox_vm.vault")
    assert pos["vault_user.terraform"] < pos["proxmox_vm.kube01"]
    assert pos["vault_policy.apps"] < pos["argocd_app.media/plex"]  # plex reads apps/plex#claim_token


def test_the_vault_servers_vm_and_baseline_do_not_wait_for_vault(create_all):
    """Item 1: tf/vault creates the Vault server's VM; it cannot depend on what that Vault will hold."""
    plan, order, pos = create_all
    by_address = {c.address: c for c in plan.changes}
    for address in ("proxmox_vm.vault", "host.vault"):
        assert not [d for d in by_address[address].depends_on if d.startswith("vault_")], address
    assert pos["proxmox_vm.vault"] == 0 and pos["host.vault"] == 1  # the very first batches
    assert [d for d in by_address["proxmox_vm.kube01"].depends_on if d.startswith("vault_")]


def test_elasticsearch_masters_then_data_then_kibana_then_fleet(create_all):
    _, _, pos = create_all
    masters = [pos[f"es_node.es0{i}"] for i in (7, 8, 9)]
    data = [pos[f"es_node.es0{i}"] for i in range(1, 7)]
    assert max(masters) < min(data)
    assert max(data) < pos["kibana.kibana"] < pos["fleet_server.fleet"]


def test_cluster_then_argocd_bootstrap_then_platform_then_apps(create_all):
    plan, _, pos = create_all
    k3s = [pos[c.address] for c in plan.changes if c.address.startswith(("k3s_server.", "k3s_agent."))]
    platform = [pos[c.address] for c in plan.changes if c.layer == "platform"]
    apps = [pos[c.address] for c in plan.changes if c.layer == "apps"]
    assert max(k3s) < pos["argocd_bootstrap.argocd"] < min(platform)
    assert max(platform) < min(apps)


def test_deletes_run_in_reverse_dependency_order(tmp_path):
    base = reference_data()
    doc = doc_of(patch_lab(base, [{"delete": "vms[name=kube05]"},
                                  {"remove": "clusters.k3s.agents", "value": "kube05"}]))
    store = StateStore(tmp_path / "state")
    record_all(store, doc_of(base))
    engines = {n: RecordingEngine(n, configured=False, reachable=False) for n in
               ("vault", "terraform", "ansible", "kubernetes", "truenas")}
    plan = plan_for(doc, store, engines, tmp_path)
    order = batches(build(plan.changes))
    assert order == [["host_pki.kube05", "k3s_agent.kube05"], ["host.kube05"], ["proxmox_vm.kube05"]]


def test_a_cycle_is_a_clear_error():
    a = PlannedChange("host.a", "hosts", "ansible", "create", "x", depends_on=("k3s_agent.a",))
    b = PlannedChange("k3s_agent.a", "clusters", "ansible", "create", "x", depends_on=("host.a",))
    c = PlannedChange("proxmox_vm.a", "vms", "terraform", "create", "x")
    with pytest.raises(PlanError) as err:
        batches(build([a, b, c]))
    assert "cycle" in err.value.message
    assert "host.a" in err.value.message and "k3s_agent.a" in err.value.message
    assert err.value.exit_code == 1
