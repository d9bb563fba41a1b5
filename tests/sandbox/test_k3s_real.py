"""The rendered K3s playbook, for real, against 4 sandbox hosts (3 servers + 1 GPU agent); and the Vault
token path through `homelab cluster bootstrap --token-from vault` (2 hosts, a real OpenBao dev server).

The role installs a stand-in `k3s` (tests/sandbox/helpers.py: STANDIN_K3S) from `k3s_install_source`
(the air-gapped path) and starts it through `k3s-detached` (the hosts have no systemd). The stand-in
records, on each host, how it was started: argv, environment variable names and the config file with
the token replaced by its sha256. The assertions read those records over SSH, not the playbook.

The token comes from the first server (`k3s_token_source: first_server`): the stand-in generates it
on the cluster-init server, the others read it from there; the test reads it from the first server
only to prove it is the one every other node got, and that it appears in nothing we captured.
"""

from __future__ import annotations

import pytest
import yaml
from helpers import (
    BIN,
    GPU_LABEL,
    GPU_TAINT,
    NODE_TOKEN,
    cli,
    config_of,
    render,
    sha256,
    ssh_env,
    standin_records,
    subnet_index,
    write_lab,
    write_standin,
)

from homelab.engines.ansible import run_playbook

SERVERS, AGENTS, GPU = ["k1", "k2", "k3"], ["k4"], ["k4"]
CRITICAL = ("disable", "flannel-backend", "cluster-cidr", "service-cidr")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    from homelab.sandbox import Sandbox

    work = tmp_path_factory.mktemp("k3s")
    with Sandbox([*SERVERS, *AGENTS], workdir=work / "sb", index=subnet_index(5)) as sb:
        ips = {n: h.ip for n, h in sb.hosts.items()}
        source = write_standin(work / "k3s-source")
        lab = write_lab(work / "lab" / "homelab.yaml", ips, subnet_index(5), sb.key_file, servers=SERVERS, agents=AGENTS,
                        gpu=GPU, install_source=source)
        tree = render(lab)
        ssh = ssh_env(work)
        kubeconfig = work / "kube" / "sbx5.yaml"
        extravars = {"k3s_token_source": "first_server", "k3s_kubeconfig_dest": str(kubeconfig)}
        events: list[str] = []
        first = run_playbook(tree, "playbooks/k3s.yml", private_key=str(sb.key_file), extravars=extravars,
                             envvars=ssh, progress=events.append)
        records_after_first = {n: standin_records(h) for n, h in sb.hosts.items()}
        second = run_playbook(tree, "playbooks/k3s.yml", private_key=str(sb.key_file), extravars=extravars,
                             envvars=ssh, progress=events.append)
        yield {"sb": sb, "ips": ips, "first": first, "second": second, "events": events,
               "records": records_after_first, "kubeconfig": kubeconfig,
               "token": (sb.hosts["k1"].read_file(NODE_TOKEN) or "").strip()}


def test_first_run_configures_every_node(cluster):
    first = cluster["first"]
    assert first.succeeded, [str(f) for f in first.failures] or first.tail
    assert set(first.changed) == {*SERVERS, *AGENTS}
    # Each node's stand-in was started exactly once, as the right role.
    for name, records in cluster["records"].items():
        assert [r["role"] for r in records] == ["server" if name in SERVERS else "agent"], name
        assert records[0]["argv"] == [records[0]["role"]]


def test_cluster_init_only_on_the_first_server_and_join_url_elsewhere(cluster):
    configs = {n: config_of(r[0]) for n, r in cluster["records"].items()}
    assert configs["k1"].get("cluster-init") is True and "server" not in configs["k1"]
    for name in ["k2", "k3", "k4"]:
        assert "cluster-init" not in configs[name], name
        assert configs[name]["server"] == f"https://{cluster['ips']['k1']}:6443", name
    for name, cfg in configs.items():
        assert cfg["node-ip"] == cluster["ips"][name]


def test_same_critical_values_on_every_server_and_none_on_agents(cluster):
    configs = {n: config_of(r[0]) for n, r in cluster["records"].items()}
    for key in CRITICAL:
        values = {n: configs[n].get(key) for n in SERVERS}
        assert len({repr(v) for v in values.values()}) == 1 and values["k1"] is not None, (key, values)
    assert configs["k1"]["disable"] == ["servicelb", "traefik"]
    assert configs["k1"]["flannel-backend"] == "vxlan"
    assert not set(CRITICAL) & set(configs["k4"])


def test_token_comes_from_the_first_server_and_is_never_shown(cluster):
    token = cluster["token"]
    assert token.startswith("K10") and "::server:" in token  # written by the stand-in on k1
    configs = {n: config_of(r[0]) for n, r in cluster["records"].items()}
    assert "token_sha256" not in configs["k1"]  # the first server generated it
    for name in ["k2", "k3", "k4"]:
        assert configs[name]["token_sha256"] == sha256(token), name
    secret = token.split("::server:")[1]
    captured = "\n".join(cluster["events"]) + cluster["first"].tail + cluster["second"].tail
    captured += cluster["kubeconfig"].read_text()
    for text in [captured, *(str(r) for r in cluster["records"].values())]:
        assert token not in text and secret not in text


def test_gpu_label_and_taint_only_on_the_gpu_node(cluster):
    configs = {n: config_of(r[0]) for n, r in cluster["records"].items()}
    assert configs["k4"]["node-label"] == [GPU_LABEL]
    assert configs["k4"]["node-taint"] == [GPU_TAINT]
    for name in SERVERS:
        assert "node-label" not in configs[name] and "node-taint" not in configs[name]


def test_first_server_then_servers_one_at_a_time_then_agents(cluster):
    start = {n: r[0]["time_ns"] for n, r in cluster["records"].items()}
    assert start["k1"] < start["k2"] < start["k3"] < start["k4"]
    # serial: 1 -- k3 was configured only after k2 was started (its config is newer than k2's start).
    mtime = {n: r[0]["config_mtime_ns"] for n, r in cluster["records"].items()}
    assert mtime["k2"] > start["k1"] and mtime["k3"] > start["k2"] and mtime["k4"] > start["k3"]


def test_no_systemd_so_the_environment_carries_no_token(cluster):
    for records in cluster["records"].values():
        env = records[0]["env_names"]
        assert "PATH" in env and "K3S_TOKEN" not in env and records[0]["env_token_sha256"] is None


def test_kubeconfig_comes_back_with_the_api_endpoint(cluster):
    path = cluster["kubeconfig"]
    assert path.stat().st_mode & 0o777 == 0o600
    config = yaml.safe_load(path.read_text())
    assert config["clusters"][0]["cluster"]["server"] == f"https://{cluster['ips']['k1']}:6443"
    assert "127.0.0.1" not in path.read_text()


def test_second_run_changes_nothing_and_restarts_nothing(cluster):
    second = cluster["second"]
    assert second.succeeded, [str(f) for f in second.failures] or second.tail
    assert not any(second.changed.values()), second.changed
    for name, host in cluster["sb"].hosts.items():
        assert standin_records(host) == cluster["records"][name]
        assert host.run("/usr/local/bin/k3s-detached status k3s || /usr/local/bin/k3s-detached status k3s-agent"
                        ).returncode == 0, f"{name}: k3s stand-in not running"


# ------------------------------------------------------------------------------------ the Vault token path
def test_bootstrap_with_the_token_from_vault(tmp_path, openbao_dev):
    """`homelab cluster bootstrap --token-from vault`: every node, the first server included, gets the
    token stored in Vault (read on the controller by the community.hashi_vault lookup)."""
    import secrets

    from homelab.sandbox import Sandbox

    collections = BIN.parent / "share" / "homelab-test-collections" / "ansible-12.3.0"
    if not (collections / "ansible_collections" / "community" / "hashi_vault").is_dir():
        pytest.fail(f"community.hashi_vault is not installed at {collections}: run scripts/test-collections.sh")
    addr, root, client = openbao_dev
    planted = "vault-k3s-token-" + secrets.token_hex(16)
    client.secrets.kv.v2.create_or_update_secret(path="k3s/cluster", secret={"token": planted}, mount_point="secret")
    tmp_path.chmod(0o755)
    mode_before = tmp_path.stat().st_mode & 0o777
    with Sandbox(["v1", "v2"], workdir=tmp_path / "sb", index=subnet_index(9)) as sb:
        ips = {n: h.ip for n, h in sb.hosts.items()}
        lab = write_lab(tmp_path / "lab" / "homelab.yaml", ips, subnet_index(9), sb.key_file, servers=["v1"], agents=["v2"],
                        install_source=write_standin(tmp_path / "k3s-source"))
        proc = cli("cluster", "bootstrap", str(lab), "--token-from", "vault", "--kubeconfig", str(tmp_path / "kc"),
                   HOME=str(tmp_path), VAULT_ADDR=addr, VAULT_TOKEN=root,
                   ANSIBLE_COLLECTIONS_PATH=str(collections), **ssh_env(tmp_path))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert planted not in proc.stdout + proc.stderr
        for name, host in sb.hosts.items():
            records = standin_records(host)
            assert len(records) == 1 and config_of(records[0])["token_sha256"] == sha256(planted), name
        assert sb.hosts["v1"].read_file(NODE_TOKEN).strip().endswith("::server:" + planted)
    assert (tmp_path / "kc").stat().st_mode & 0o777 == 0o600
    assert tmp_path.stat().st_mode & 0o777 == mode_before  # an existing directory keeps its mode
