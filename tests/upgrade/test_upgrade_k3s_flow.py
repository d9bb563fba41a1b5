"""`homelab upgrade k3s` as a workflow (homelab/ops/upgrade_k3s.py) against the Kubernetes contract fake
with nodes, pods, budgets and evictions (tests/fakes/kube_nodes.py). The installer here is a stand-in that
sets what each node's kubelet reports; the real install (the k3s role over SSH) is
tests/sandbox/test_upgrade_k3s_real.py. Time is a fake clock: retries and timeouts without waiting."""

from __future__ import annotations

import json

import pytest
from k3s_lab import FakeClock, write_kubeconfig, write_lab

import homelab
from fakes.kube_nodes import FakeKubeCluster
from homelab.errors import UsageError
from homelab.ops import upgrade_k3s
from homelab.ops.drain import Clock

V33, V34, V35 = "v1.33.4+k3s1", "v1.34.1+k3s1", "v1.35.0+k3s1"


@pytest.fixture
def cluster():
    with FakeKubeCluster(tokens={"test-token": "admin"}) as fake:
        for name in ("k1", "k2", "k3"):
            fake.add_node(name, V33, server=True)
        fake.add_node("k4", V33)
        for i, node in enumerate(["k1", "k2", "k3", "k4"]):
            fake.add_pod("web", f"web-{i}", node, labels={"app": "web"})
        fake.add_pod("kube-system", "coredns-1", "k4", labels={"k8s-app": "kube-dns"})
        fake.add_pod("kube-system", "svclb-k1", "k1", owner="DaemonSet")
        fake.add_pdb("web", "web", {"app": "web"}, min_available=3)
        yield fake


class Installer:
    """Records (nodes, version) and makes the nodes' kubelets report the version, as the k3s role's restart does."""

    def __init__(self, fake: FakeKubeCluster, hook=None):
        self.fake, self.calls, self.hook = fake, [], hook
        self.versions: dict[str, str] = {}
        fake.kubelet = self.versions.get

    def __call__(self, nodes, version):
        self.calls.append((tuple(nodes), version))
        self.fake.requests.append(type(self.fake.requests[0])("INSTALL", ",".join(nodes), {}, "", None))
        for n in nodes:
            self.versions[n] = version
        if self.hook:
            self.hook(nodes, version)


def run(tmp_path, fake, installer, target=V35, **lab):
    path = tmp_path / "homelab.yaml"
    if not path.exists():
        write_lab(tmp_path, **lab)
    doc = homelab.load(str(path))
    plan = upgrade_k3s.plan_upgrade(doc, target)
    client = upgrade_k3s.kube_client(doc, write_kubeconfig(tmp_path / "kubeconfig", fake.url))
    clock = FakeClock()
    messages: list[str] = []
    result = upgrade_k3s.upgrade(doc, plan, client=client, install=installer, state_dir=tmp_path / ".homelab",
                                 out=tmp_path, say=messages.append,
                                 clock=Clock(sleep=clock.sleep, now=clock.now, poll=1.0))
    return result, messages


def node_calls(fake) -> list[str]:
    """cordon/uncordon, evictions and installs, in order, shortened: 'cordon k1', 'evict web/web-0', 'install k1'."""
    out = []
    for r in fake.requests:
        if r.method == "PATCH" and r.path.startswith("/api/v1/nodes/"):
            out.append(("cordon " if r.body["spec"]["unschedulable"] else "uncordon ") + r.path.rsplit("/", 1)[1])
        elif r.method == "POST" and r.path.endswith("/eviction"):
            parts = r.path.split("/")
            out.append(f"evict {parts[4]}/{parts[6]}")
        elif r.method == "INSTALL":
            out.append(f"install {r.path}")
    return out


# --------------------------------------------------------------------------------------------- the plan
def test_plan_walks_one_minor_at_a_time_servers_then_agent_batches(tmp_path):
    doc = homelab.load(str(write_lab(tmp_path, agents=("k4", "k5", "k6"), batch=2)))
    plan = upgrade_k3s.plan_upgrade(doc, V35)
    assert plan.versions == [V34, V35]
    assert [(s.version, s.role, s.nodes) for s in plan.steps] == [
        (V34, "server", ("k1",)), (V34, "server", ("k2",)), (V34, "server", ("k3",)),
        (V34, "agent", ("k4", "k5")), (V34, "agent", ("k6",)),
        (V35, "server", ("k1",)), (V35, "server", ("k2",)), (V35, "server", ("k3",)),
        (V35, "agent", ("k4", "k5")), (V35, "agent", ("k6",))]


def test_plan_refuses_a_skipped_minor_it_knows_no_release_of_downgrades_and_two_servers(tmp_path):
    doc = homelab.load(str(write_lab(tmp_path)))
    with pytest.raises(UsageError, match=r"skips v1\.35.*knows no v1\.35 release") as exc:
        upgrade_k3s.plan_upgrade(doc, "v1.36.0+k3s1")
    assert "--via v1.35" in exc.value.hint
    assert upgrade_k3s.plan_upgrade(doc, "v1.36.0+k3s1", ["v1.35.2+k3s1"]).versions == [
        V34, "v1.35.2+k3s1", "v1.36.0+k3s1"]
    with pytest.raises(UsageError, match="downgrades"):
        upgrade_k3s.plan_upgrade(doc, "v1.32.8+k3s1")
    with pytest.raises(UsageError, match="not a minor version between"):
        upgrade_k3s.plan_upgrade(doc, V34, ["v1.34.0+k3s1"])
    two = tmp_path / "two"
    two.mkdir()
    with pytest.raises(UsageError, match="2 servers: etcd loses quorum"):
        upgrade_k3s.plan_upgrade(homelab.load(str(write_lab(two, servers=("k1", "k2")))), V34)
    assert upgrade_k3s.plan_upgrade(doc, V33).steps == []


# --------------------------------------------------------------------------------------------- the run
def test_v133_to_v135_node_by_node_with_drain_and_uncordon_in_order(tmp_path, cluster):
    installer = Installer(cluster)
    result, _ = run(tmp_path, cluster, installer)
    assert installer.calls == [((n,), v) for v in (V34, V35) for n in ("k1", "k2", "k3", "k4")]
    calls = node_calls(cluster)
    # one node at a time: cordon, its pods evicted, install, uncordon -- before the next node is touched
    for _ in range(2):
        for node in ("k1", "k2", "k3", "k4"):
            assert calls[0] == f"cordon {node}", calls[:6]
            i = calls.index(f"install {node}")
            assert all(c.startswith("evict ") for c in calls[1:i]), calls[:i]
            assert calls[i + 1] == f"uncordon {node}"
            calls = calls[i + 2:]
    assert calls == []
    # the DaemonSet's pod was never evicted; every web pod was, and the budget was honoured all along
    assert ("kube-system", "svclb-k1") not in cluster.evictions
    assert ("web", "web-0") in cluster.evictions and ("kube-system", "coredns-1") in cluster.evictions
    for name in ("k1", "k2", "k3", "k4"):
        node = cluster.node(name)
        assert node["status"]["nodeInfo"]["kubeletVersion"] == V35 and not node["spec"].get("unschedulable")
    text = (tmp_path / "homelab.yaml").read_text()
    assert f"version: {V35}  # pinned; `homelab upgrade k3s` edits it" in text
    assert "# the upgrade tests' lab" in text and result.lab_edited
    assert "k3s_version: v1.35.0+k3s1" in (tmp_path / "ansible" / "group_vars" / "k8s.yml").read_text()
    record = json.loads((tmp_path / ".homelab" / "upgrade-k3s.json").read_text())
    assert record["finished"] and len(record["done"]) == 8
    assert "k3s_version: v1.35.0+k3s1" in (tmp_path / "homelab.lock").read_text()  # what runs now


def test_a_budget_that_allows_no_eviction_stops_the_drain_naming_it_and_a_rerun_resumes(tmp_path, cluster):
    cluster.replace_evicted = False  # nothing replaces an evicted web pod: the budget (3 of 4) allows one
    installer = Installer(cluster)
    with pytest.raises(upgrade_k3s.UpgradeStopped) as exc:
        run(tmp_path, cluster, installer)
    message = exc.value.message
    assert "stopped at k2 (v1.34.1+k3s1), gate 'drain'" in message
    assert "web/web-1 cannot be evicted: The disruption budget web needs 3 healthy pods and has 3 currently" in message
    assert "stays cordoned" in exc.value.hint
    assert installer.calls == [(("k1",), V34)]
    assert cluster.node("k2")["spec"]["unschedulable"] is True and not cluster.node("k3")["spec"].get("unschedulable")
    # retried with a growing pause until the drain timeout (30 s in the lab)
    assert "v1.33.4+k3s1" in (tmp_path / "homelab.yaml").read_text()
    assert "k3s_version: v1.33.4+k3s1" in (tmp_path / "ansible" / "group_vars" / "k8s.yml").read_text()
    # the workload gets a replacement elsewhere: the same command resumes at k2, k1 is not reinstalled
    cluster.add_pod("web", "web-9", "k4", labels={"app": "web"})
    cluster.replace_evicted = True
    result, _ = run(tmp_path, cluster, installer)
    assert installer.calls[:3] == [(("k1",), V34), (("k2",), V34), (("k3",), V34)]
    assert result.skipped == [f"{V34}:k1"] and len(installer.calls) == 8


def test_a_node_not_ready_after_its_upgrade_stops_before_the_next_and_resumes(tmp_path, cluster):
    cluster.not_ready_after_upgrade = {"k2"}
    installer = Installer(cluster)
    with pytest.raises(upgrade_k3s.UpgradeStopped) as exc:
        run(tmp_path, cluster, installer)
    assert "stopped at k2 (v1.34.1+k3s1), gate 'ready'" in exc.value.message
    assert "k2 is not Ready (KubeletNotReady)" in exc.value.message
    assert [c for c in node_calls(cluster) if "k3" in c] == []  # nothing touched k3
    assert cluster.node("k2")["spec"]["unschedulable"] is True
    cluster.not_ready_after_upgrade = set()
    cluster.set_ready("k2", True)
    before = len(installer.calls)
    run(tmp_path, cluster, installer)
    # k2 was installed already: the resumed run waits for it, uncordons it and goes on
    assert installer.calls[before:] == [(("k3",), V34), (("k4",), V34)] + [((n,), V35) for n in ("k1", "k2", "k3", "k4")]


def test_etcd_member_down_stops_before_anything_is_cordoned(tmp_path, cluster):
    cluster.set_etcd_voter("k3", False)
    installer = Installer(cluster)
    with pytest.raises(upgrade_k3s.UpgradeStopped) as exc:
        run(tmp_path, cluster, installer)
    assert "gate 'before k1'" in exc.value.message
    assert "etcd: k3 is not a voting member (NotAMember)" in exc.value.message
    assert installer.calls == [] and node_calls(cluster) == []


def test_quorum_gate_refuses_a_server_when_another_is_down(tmp_path, cluster):
    cluster.set_ready("k2", False)
    with pytest.raises(upgrade_k3s.UpgradeStopped) as exc:
        run(tmp_path, cluster, Installer(cluster))
    assert "node k2 is not Ready" in exc.value.message


def test_crashloop_in_kube_system_after_a_node_stops_the_upgrade(tmp_path, cluster):
    def hook(nodes, version):
        if nodes == ["k1"]:
            cluster.crashloop("kube-system", "coredns-1")

    installer = Installer(cluster, hook)
    with pytest.raises(upgrade_k3s.UpgradeStopped) as exc:
        run(tmp_path, cluster, installer)
    assert "gate 'after k1'" in exc.value.message
    assert "kube-system/coredns-1: main is in CrashLoopBackOff" in exc.value.message
    assert installer.calls == [(("k1",), V34)]
    assert not cluster.node("k1")["spec"].get("unschedulable")  # it came back; the cluster did not


def test_a_hand_bump_of_two_minors_is_an_error_of_check(tmp_path):
    from homelab.lab.lock import lock_text

    path = write_lab(tmp_path)
    (tmp_path / "homelab.lock").write_text(lock_text({}, k3s_version=V33))
    assert [d.rule for d in homelab.check(homelab.load(str(path))) if d.severity.value == "error"] == []
    path.write_text(path.read_text().replace(f"version: {V33}", f"version: {V34}"))
    bumped = [d for d in homelab.check(homelab.load(str(path))) if d.rule == "k3s-version-skip"]
    assert [d.severity.value for d in bumped] == ["warning"] and "without draining" in bumped[0].message
    path.write_text(path.read_text().replace(f"version: {V34}", f"version: {V35}"))
    errors = [d for d in homelab.check(homelab.load(str(path))) if d.rule == "k3s-version-skip"]
    assert len(errors) == 1 and "2 minor versions ahead of the K3s the lab runs (v1.33.4+k3s1" in errors[0].message
    assert f"homelab upgrade k3s --to {V35}" in errors[0].hint


def test_a_different_target_while_one_is_in_progress_is_refused(tmp_path, cluster):
    cluster.set_etcd_voter("k3", False)
    with pytest.raises(upgrade_k3s.UpgradeStopped):
        run(tmp_path, cluster, Installer(cluster))
    with pytest.raises(UsageError, match="an upgrade to v1.35.0\\+k3s1 is in progress"):
        run(tmp_path, cluster, Installer(cluster), target=V34)


def test_agents_in_batches_are_cordoned_together(tmp_path, cluster):
    cluster.add_node("k5", V33)
    installer = Installer(cluster)
    run(tmp_path, cluster, installer, target=V34, agents=("k4", "k5"), batch=2)
    assert installer.calls == [(("k1",), V34), (("k2",), V34), (("k3",), V34), (("k4", "k5"), V34)]
    calls = node_calls(cluster)
    i = calls.index("cordon k4")
    assert calls[i + 1] == "cordon k5"
