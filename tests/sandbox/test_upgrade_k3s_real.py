"""`homelab upgrade k3s` for real on 4 sandbox hosts (k1-k3 servers, k4 agent): v1.33 → v1.34 → v1.35.

The hosts get K3s through the role's official-script path: `clusters.k3s.install_script_url` points at
a stand-in of https://get.k3s.io served from the controller (tests/sandbox/helpers.py:
write_install_script), which installs a stand-in `k3s` of release INSTALL_K3S_VERSION; the role runs it
only when `k3s --version` does not already say the pinned version, and restarts k3s. The stand-in writes
the release it runs to a file when started; the Kubernetes contract fake (tests/fakes/kube_nodes.py; no
real Kubernetes API runs here) reads it as each node's kubelet version, so "Ready with the new version"
is what the host really runs. Cordon, evictions and uncordon are the fake's recorded requests, ordered
against the hosts' own records of when k3s was started at which version.

The first upgrade run stops: k3 comes back NotReady (failure injected in the fake) -- exit 3, k3 stays
cordoned, k4 is not touched. Once k3 is Ready the same command resumes and finishes; the lab file is
edited to v1.35 with its comments.
"""

from __future__ import annotations

import functools
import http.server
import json
import socketserver
import threading

import pytest
import yaml
from helpers import (
    INSTALL_LOG,
    RUNNING_VERSION,
    cli,
    ssh_env,
    standin_records,
    subnet_index,
    write_install_script,
    write_lab,
)

from fakes.kube_nodes import FakeKubeCluster

SERVERS, AGENTS = ["k1", "k2", "k3"], ["k4"]
NODES = [*SERVERS, *AGENTS]
V33, V34, V35 = "v1.33.4+k3s1", "v1.34.1+k3s1", "v1.35.0+k3s1"
INDEX = subnet_index(8)


class _Server(http.server.ThreadingHTTPServer):
    def server_bind(self):
        # http.server's own server_bind asks for the bound address's name (socket.getfqdn: a DNS PTR query to
        # the machine's resolver, which the sealed test network counts as a send with no route); nothing here
        # needs the name.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


def serve(directory, host: str):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    handler.log_message = lambda *a: None
    server = _Server((host, 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def running_version(host) -> str | None:
    path = host.root_upper / RUNNING_VERSION.lstrip("/")
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    from homelab.sandbox import Sandbox

    work = tmp_path_factory.mktemp("upgrade")
    with Sandbox(NODES, workdir=work / "sb", index=INDEX) as sb:
        web = serve(write_install_script(work / "www").parent, sb.controller_ip)
        ips = {n: h.ip for n, h in sb.hosts.items()}
        lab = write_lab(work / "lab" / "homelab.yaml", ips, INDEX, sb.key_file, servers=SERVERS, agents=AGENTS)
        data = yaml.safe_load(lab.read_text())
        data["clusters"]["k3s"]["install_script_url"] = f"http://{sb.controller_ip}:{web.server_address[1]}/install.sh"
        data["clusters"]["k3s"]["upgrade"] = {"agent_batch": 1, "drain_timeout": 60, "ready_timeout": 8}
        lab.write_text("# the sandbox lab; comments survive the upgrade's edit\n" + yaml.safe_dump(data, sort_keys=False))
        home = work / "home"
        home.mkdir()
        env = {"HOME": str(home), **ssh_env(work)}
        boot = cli("cluster", "bootstrap", str(lab), **env)
        assert boot.returncode == 0, boot.stdout + boot.stderr
        with FakeKubeCluster(tokens={"upgrade-token": "admin"}) as fake:
            for n in NODES:
                fake.add_node(n, V33, server=n in SERVERS)
            for i, n in enumerate(NODES):
                fake.add_pod("web", f"web-{i}", n, labels={"app": "web"})
                fake.add_pod("kube-system", f"svclb-{n}", n, owner="DaemonSet")
            fake.add_pdb("web", "web", {"app": "web"}, min_available=3)
            fake.kubelet = lambda name: running_version(sb.hosts[name])
            kubeconfig = work / "fake-kubeconfig.yaml"
            kubeconfig.write_text(
                f"apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c\n  cluster: {{server: "
                f"'{fake.url}'}}\ncontexts:\n- name: c\n  context: {{cluster: c, user: u}}\nusers:\n- name: u\n"
                "  user: {token: upgrade-token}\n")
            yield {"sb": sb, "lab": lab, "fake": fake, "env": env, "kubeconfig": kubeconfig, "boot": boot}
        web.shutdown()


@pytest.fixture(scope="module")
def runs(env):
    fake = env["fake"]
    fake.not_ready_after_upgrade = {"k3"}
    args = ("upgrade", "k3s", "--to", V35, str(env["lab"]), "-y", "--kubeconfig", str(env["kubeconfig"]))
    first = cli(*args, **env["env"])
    after_first = {n: [r["version"] for r in standin_records(h)] for n, h in env["sb"].hosts.items()}
    cordoned = {n: bool(fake.node(n)["spec"].get("unschedulable")) for n in NODES}
    fake.not_ready_after_upgrade = set()
    fake.set_ready("k3", True)
    second = cli(*args, **env["env"])
    return {"first": first, "second": second, "after_first": after_first, "cordoned": cordoned}


def installs(host) -> list[dict]:
    text = host.read_file(INSTALL_LOG) or ""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_bootstrap_installed_v133_with_the_pinned_script(env):
    for name, host in env["sb"].hosts.items():
        assert [i["version"] for i in installs(host)][:1] == [V33], name
        assert [r["version"] for r in standin_records(host)][:1] == [V33], name


def test_first_run_stops_at_the_failed_gate_and_leaves_the_rest(runs):
    first = runs["first"]
    assert first.returncode == 3, first.stdout + first.stderr
    assert "stopped at k3 (v1.34.1+k3s1), gate 'ready'" in first.stderr
    assert "k3 is not Ready (KubeletNotReady" in first.stderr and "Traceback" not in first.stderr
    assert runs["after_first"] == {"k1": [V33, V34], "k2": [V33, V34], "k3": [V33, V34], "k4": [V33]}
    assert runs["cordoned"] == {"k1": False, "k2": False, "k3": True, "k4": False}


def test_the_rerun_resumes_and_every_host_went_v134_then_v135(runs, env):
    second = runs["second"]
    assert second.returncode == 0, second.stdout + second.stderr
    for name, host in env["sb"].hosts.items():
        # started once per version: nothing was reinstalled by the resumed run
        assert [r["version"] for r in standin_records(host)] == [V33, V34, V35], name
        assert [i["version"] for i in installs(host)] == [V33, V34, V35], name
        assert all(i["skip_start"] == "true" and i["args"] == ("server" if name in SERVERS else "agent")
                   for i in installs(host)), installs(host)
        assert running_version(host) == V35
    for name in NODES:
        node = env["fake"].node(name)
        assert node["status"]["nodeInfo"]["kubeletVersion"] == V35 and not node["spec"].get("unschedulable")


def test_one_node_at_a_time_cordon_drain_install_uncordon(runs, env):
    """Interleave the fake's cordon/eviction/uncordon requests with the hosts' k3s starts, by time."""
    fake, events = env["fake"], []
    for r in fake.requests:
        if r.method == "PATCH" and r.path.startswith("/api/v1/nodes/"):
            node = r.path.rsplit("/", 1)[1]
            events.append((r.time_ns, ("cordon " if r.body["spec"]["unschedulable"] else "uncordon ") + node))
        elif r.method == "POST" and r.path.endswith("/eviction"):
            pod = r.path.split("/")[6]
            events.append((r.time_ns, f"evict {pod}"))
    for name, host in env["sb"].hosts.items():
        for rec in standin_records(host):
            if rec["version"] != V33:
                events.append((rec["time_ns"], f"start {name} {rec['version']}"))
    order = [e for _, e in sorted(events) if not e.startswith("evict")]
    expected = []
    for version in (V34, V35):
        for n in NODES:
            expected += [f"cordon {n}", f"start {n} {version}", f"uncordon {n}"]
    # the stopped run left k3 cordoned; the resumed run cordons nothing twice and uncordons it once
    assert order == expected
    evicted = [e.split()[1] for _, e in sorted(events) if e.startswith("evict")]
    assert not any(p.startswith("svclb-") for p in evicted)  # DaemonSet pods stay
    assert {"web-0", "web-1", "web-2", "web-3"} <= set(evicted)


def test_the_lab_names_v135_and_keeps_its_comment(runs, env):
    text = env["lab"].read_text()
    assert f"version: {V35}" in text and text.startswith("# the sandbox lab; comments survive")
    group_vars = (env["lab"].parent / "ansible" / "group_vars" / "k8s.yml").read_text()
    assert f"k3s_version: {V35}" in group_vars
    # state recorded every node at the version it was installed with (the sandbox lab never applied its
    # host layer, so the plan still wants the hosts first -- but no version change is left)
    plan = cli("plan", str(env["lab"]), "--target", "k3s_*", "--format", "json", **env["env"])
    assert plan.returncode == 0, plan.stderr
    changes = [c for layer in json.loads(plan.stdout)["layers"] for c in layer["changes"]]
    assert sorted(c["address"] for c in changes) == ["k3s_agent.k4", *(f"k3s_server.{n}" for n in SERVERS)]
    for c in changes:
        assert c["before"]["version"] == c["after"]["version"] == V35, c
        assert "version" not in c["reason"], c
    assert f"k3s_version: {V35}" in (env["lab"].parent / "homelab.lock").read_text()
    proc = cli("upgrade", "k3s", "--to", V35, str(env["lab"]), "-y", "--kubeconfig", str(env["kubeconfig"]),
               **env["env"])
    assert proc.returncode == 0 and "nothing to upgrade" in proc.stderr


def test_node_remove_uninstalls_k3s_for_real_and_leaves_the_others(runs, env):
    """`homelab node remove k4`: drained, out of the lab, the role's uninstall path over SSH, Node deleted."""
    hosts = env["sb"].hosts
    before = {n: standin_records(hosts[n]) for n in SERVERS}
    proc = cli("node", "remove", "k4", str(env["lab"]), "-y", "--kubeconfig", str(env["kubeconfig"]), **env["env"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "deleted k3s_agent.k4" in proc.stdout and "Node object deleted" in proc.stdout
    gone = hosts["k4"].run("test ! -e /usr/local/bin/k3s && test ! -e /etc/rancher/k3s && "
                           "test ! -e /var/lib/rancher/k3s && ! test -s /run/k3s-agent.pid")
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert "k3s" not in hosts["k4"].run("ps -eo args").stdout.replace("sshd", "")
    for name in SERVERS:  # the servers were not touched
        assert standin_records(hosts[name]) == before[name]
        assert hosts[name].run("/usr/local/bin/k3s-detached status k3s").returncode == 0
    text = env["lab"].read_text()
    assert "k4" not in text.split("clusters:")[1] and "name: k4" not in text
    assert env["fake"].get_object("v1", "Node", "k4") is None
    again = cli("node", "remove", "k4", str(env["lab"]), "-y", "--kubeconfig", str(env["kubeconfig"]), **env["env"])
    assert again.returncode == 2 and "not a K3s node" in again.stderr


def test_destroy_clusters_lists_and_uninstalls_exactly_the_nodes_for_real(runs, env):
    """`homelab destroy --layer clusters`: the plan lists the three servers left in state, the typed name is
    required, and the role's uninstall path runs on each of them -- nothing else is in the plan or changes."""
    hosts = env["sb"].hosts
    args = ("destroy", str(env["lab"]), "--layer", "clusters")
    listed = cli(*args, "--plan-only", **env["env"])
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "destroy: 3 resource(s) of clusters will be deleted" in listed.stderr
    for name in SERVERS:
        assert f"k3s_server.{name}" in listed.stdout
    refused = cli(*args, "--yes-destroy", "not-the-lab", **env["env"])
    assert refused.returncode == 2
    assert all(h.run("test -x /usr/local/bin/k3s").returncode == 0 for n, h in hosts.items() if n in SERVERS)
    name = yaml.safe_load(env["lab"].read_text())["name"]
    done = cli(*args, "--yes-destroy", name, **env["env"])
    assert done.returncode == 0, done.stdout + done.stderr
    for server in SERVERS:
        gone = hosts[server].run("test ! -e /usr/local/bin/k3s && test ! -e /etc/rancher/k3s && "
                                 "! /usr/local/bin/k3s-detached status k3s 2>/dev/null")
        assert gone.returncode == 0, (server, gone.stdout, gone.stderr)
        assert hosts[server].run("test -e /etc/hostname").returncode == 0  # the host itself is left alone
    again = cli(*args, "--plan-only", **env["env"])
    assert again.returncode == 0 and "nothing of clusters is in state or live" in again.stderr
