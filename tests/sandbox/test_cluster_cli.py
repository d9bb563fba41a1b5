"""`homelab cluster bootstrap` and `homelab node join`, through the real CLI, against 4 sandbox hosts.

c1, c2, c3 form the cluster (3 servers: HA with embedded etcd); c4 is then added to the lab as a GPU
agent and joined with `homelab node join c4`. On the way, the join fails three ways -- c4 unreachable
(its address in the lab is an unused one), c4 refusing the key (the lab names another key), and a task
failing mid-run (c4's /etc/rancher is a file) -- each reported with host and task and exit code 3;
after each cause is fixed the re-run converges. Through all of it, c1..c3 are left exactly as they
were (files, mtimes, stand-in records, process ids).

The hosts run the stand-in `k3s` (tests/sandbox/helpers.py), installed through `install_source`.
"""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml
from helpers import (
    GPU_LABEL,
    GPU_TAINT,
    NODE_TOKEN,
    cli,
    config_of,
    host_state,
    sha256,
    ssh_env,
    standin_records,
    subnet_index,
    write_lab,
    write_standin,
)

SERVERS = ["c1", "c2", "c3"]
INDEX = subnet_index(6)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    from homelab.sandbox import Sandbox

    work = tmp_path_factory.mktemp("cluster")
    with Sandbox([*SERVERS, "c4"], workdir=work / "sb", index=INDEX) as sb:
        ips = {n: h.ip for n, h in sb.hosts.items()}
        yield {"sb": sb, "ips": ips, "work": work, "source": write_standin(work / "k3s-source"),
               "home": work / "home", "outputs": []}


def lab_file(env, *, with_c4: bool = False, c4_ip: str | None = None, key=None, ssh: bool = True):
    ips = {n: env["ips"][n] for n in SERVERS}
    agents, gpu = [], []
    if with_c4:
        ips["c4"] = c4_ip or env["ips"]["c4"]
        agents, gpu = ["c4"], ["c4"]
    return write_lab(env["work"] / "lab" / "homelab.yaml", ips, INDEX, key or env["sb"].key_file, servers=SERVERS,
                     agents=agents, gpu=gpu, install_source=env["source"], ssh=ssh)


def run(env, *args):
    env["home"].mkdir(exist_ok=True)
    proc = cli(*args, HOME=str(env["home"]), **ssh_env(env["work"]))
    env["outputs"].append(proc.stdout + proc.stderr)
    return proc


@pytest.fixture(scope="module")
def bootstrapped(env):
    lab = lab_file(env)
    proc = run(env, "cluster", "bootstrap", str(lab))
    states = {n: host_state(env["sb"].hosts[n]) for n in SERVERS}
    records = {n: standin_records(env["sb"].hosts[n]) for n in SERVERS}
    return {"proc": proc, "states": states, "records": records}


def test_refuses_when_ssh_is_not_allowed(env, tmp_path):
    lab = write_lab(tmp_path / "homelab.yaml", {n: env["ips"][n] for n in SERVERS}, INDEX, env["sb"].key_file,
                    servers=SERVERS, install_source=env["source"], ssh=False)
    for args in (["cluster", "bootstrap", str(lab)], ["node", "join", "c2", str(lab)]):
        proc = cli(*args)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "access.ssh is false" in proc.stderr
        assert "set `access: {ssh: true" in proc.stderr
        assert "[k3s]" not in proc.stderr  # nothing ran
    assert not (tmp_path / "ansible").exists()  # refused before rendering


def test_join_refuses_what_it_cannot_join(env, tmp_path):
    lab = write_lab(tmp_path / "homelab.yaml", {n: env["ips"][n] for n in SERVERS}, INDEX, env["sb"].key_file,
                    servers=SERVERS, install_source=env["source"], extra_vms={"c5": f"10.213.{INDEX}.50"})
    cases = {
        "c1": ("c1 is the first server", "run `homelab cluster bootstrap` instead"),
        "c5": ("c5 is not in clusters.k3s.servers or clusters.k3s.agents", "add c5 to clusters.k3s.agents"),
        "nope": ("nope is not a VM of", "homelab vm add nope"),
    }
    for name, (message, hint) in cases.items():
        proc = cli("node", "join", name, str(lab))
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert message in proc.stderr and hint in proc.stderr
        assert "[k3s]" not in proc.stderr


def test_bootstrap_forms_the_cluster_in_order(env, bootstrapped):
    proc = bootstrapped["proc"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    plan = [line.strip() for line in proc.stderr.splitlines() if line.strip()[:3] in ("1. ", "2. ", "3. ")]
    assert plan == [
        f"1. k3s_server.c1 ({env['ips']['c1']}): first server: cluster-init",
        f"2. k3s_server.c2 ({env['ips']['c2']}): server: join https://{env['ips']['c1']}:6443",
        f"3. k3s_server.c3 ({env['ips']['c3']}): server: join https://{env['ips']['c1']}:6443",
    ]
    assert "[k3s] Write the k3s configuration" in proc.stderr  # progress: task names
    assert "changed: c1=" in proc.stdout
    records = bootstrapped["records"]
    configs = {n: config_of(r[0]) for n, r in records.items()}
    assert [len(records[n]) for n in SERVERS] == [1, 1, 1]
    assert configs["c1"]["cluster-init"] is True
    assert records["c1"][0]["time_ns"] < records["c2"][0]["time_ns"] < records["c3"][0]["time_ns"]
    token = env["sb"].hosts["c1"].read_file(NODE_TOKEN).strip()
    for name in ("c2", "c3"):
        assert configs[name]["server"] == f"https://{env['ips']['c1']}:6443"
        assert configs[name]["token_sha256"] == sha256(token)
        assert configs[name]["disable"] == configs["c1"]["disable"] == ["servicelb", "traefik"]


def test_kubeconfig_saved_in_the_default_place_with_the_endpoint(env, bootstrapped):
    path = env["home"] / ".kube" / f"sbx{INDEX}.yaml"
    assert f"kubeconfig: {path}" in bootstrapped["proc"].stdout
    assert path.stat().st_mode & 0o777 == 0o600
    assert yaml.safe_load(path.read_text())["clusters"][0]["cluster"]["server"] == f"https://{env['ips']['c1']}:6443"


def _join(env, **lab):
    return run(env, "node", "join", "c4", str(lab_file(env, with_c4=True, **lab)))


def test_join_unreachable_host_names_host_and_task(env, bootstrapped):
    proc = _join(env, c4_ip=f"10.213.{INDEX}.99")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "error: ansible: c4: unreachable at task 'Gathering Facts'" in proc.stderr
    assert "run `homelab node join c4` again" in proc.stderr


def test_join_refused_key_names_host_and_task(env, bootstrapped, tmp_path):
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    proc = _join(env, key=other)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "error: ansible: c4: unreachable at task 'Gathering Facts'" in proc.stderr
    assert "Permission denied" in proc.stderr


def test_join_task_failing_mid_run_names_host_and_task(env, bootstrapped):
    c4 = env["sb"].hosts["c4"]
    assert c4.run("touch /etc/rancher").returncode == 0  # a file where k3s needs a directory
    proc = _join(env)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "error: ansible: c4: failed at task 'Create /etc/rancher/k3s'" in proc.stderr
    assert standin_records(c4) == []  # it stopped before starting k3s
    assert c4.run("rm /etc/rancher").returncode == 0  # fix the cause


@pytest.fixture(scope="module")
def joined(env, bootstrapped):
    # Runs after the failure tests above (module order): the causes are fixed, the re-run converges.
    proc = run(env, "node", "join", "c4", str(lab_file(env, with_c4=True)), "--format", "json")
    again = run(env, "node", "join", "c4", str(lab_file(env, with_c4=True)), "--format", "json")
    return {"proc": proc, "again": again}


def test_join_after_fixing_converges_and_configures_the_gpu_agent(env, joined):
    proc = joined["proc"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)
    assert [s["address"] for s in result["steps"]] == ["k3s_agent.c4"]
    assert set(result["changed"]) == {"c4"}  # nobody else was changed
    records = standin_records(env["sb"].hosts["c4"])
    assert [r["role"] for r in records] == ["agent"]
    config = config_of(records[0])
    token = env["sb"].hosts["c1"].read_file(NODE_TOKEN).strip()
    assert config["server"] == f"https://{env['ips']['c1']}:6443"
    assert config["token_sha256"] == sha256(token)
    assert config["node-label"] == [GPU_LABEL] and config["node-taint"] == [GPU_TAINT]
    assert "cluster-init" not in config and "disable" not in config
    again = json.loads(joined["again"].stdout)
    assert joined["again"].returncode == 0 and again["changed"] == {}
    assert len(standin_records(env["sb"].hosts["c4"])) == 1  # not restarted


def test_join_left_the_other_nodes_untouched(env, bootstrapped, joined):
    assert joined["proc"].returncode == 0
    for name in SERVERS:
        assert host_state(env["sb"].hosts[name]) == bootstrapped["states"][name], name
        assert standin_records(env["sb"].hosts[name]) == bootstrapped["records"][name], name


def test_the_token_never_appears_in_any_output(env, joined):
    token = env["sb"].hosts["c1"].read_file(NODE_TOKEN).strip()
    secret = token.split("::server:")[1]
    assert len(env["outputs"]) >= 6
    for text in env["outputs"]:
        assert token not in text and secret not in text
