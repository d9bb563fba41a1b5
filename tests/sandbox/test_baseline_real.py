"""The rendered host-baseline playbook, for real, against the 3 session sandbox hosts (alpha, beta, gamma).

As Molecule does it: converge (a lab rendered by `homelab render`, run through the ansible engine),
converge again and require zero changes (idempotence), then verify on the hosts over SSH,
testinfra-style: what the hosts report (`sshd -T`, `getent`, `apt-config dump`, `dpkg-query`, a real
SSH login as the admin user with the lab's key), not what the playbook says.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import render, ssh_env, subnet_index, write_lab

from homelab.engines.ansible import run_playbook

REFERENCE_ROLES = Path(__file__).resolve().parents[2] / "examples" / "reference" / "rendered" / "ansible" / "roles"

HARDENED = {
    "permitrootlogin": "without-password",  # sshd -T prints prohibit-password under its old name
    "pubkeyauthentication": "yes",
    "passwordauthentication": "no",
    "kbdinteractiveauthentication": "no",
    "permitemptypasswords": "no",
    "x11forwarding": "no",
    "maxauthtries": "3",
    "logingracetime": "30",
    "clientaliveinterval": "300",
    "clientalivecountmax": "2",
}


def sshd_settings(host) -> dict[str, str]:
    proc = host.run("/usr/sbin/sshd -T")
    assert proc.returncode == 0, proc.stderr
    return {k: v for k, _, v in (line.partition(" ") for line in proc.stdout.splitlines())}


@pytest.fixture(scope="module")
def baseline(sandbox3, tmp_path_factory):
    work = tmp_path_factory.mktemp("baseline")
    admin_key = work / "admin_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "admin@test", "-f", str(admin_key)],
                   check=True)
    pubkey = (work / "admin_key.pub").read_text().strip()
    ips = {n: h.ip for n, h in sandbox3.hosts.items()}
    lab = write_lab(work / "lab" / "homelab.yaml", ips, subnet_index(1), sandbox3.key_file, ssh_keys=[pubkey])
    before = {n: sshd_settings(h) for n, h in sandbox3.hosts.items()}
    tree = render(lab)
    ssh = ssh_env(work)
    events: list[str] = []
    first = run_playbook(tree, "playbooks/baseline.yml", private_key=str(sandbox3.key_file), progress=events.append,
                         envvars=ssh)
    second = run_playbook(tree, "playbooks/baseline.yml", private_key=str(sandbox3.key_file), envvars=ssh)
    return {"sb": sandbox3, "ips": ips, "first": first, "second": second, "events": events, "before": before,
            "admin_key": admin_key, "pubkey": pubkey, "tree": tree, "work": work}


def test_converges_on_every_host(baseline):
    first = baseline["first"]
    assert first.succeeded, [str(f) for f in first.failures] or first.tail
    assert set(first.changed) == {"alpha", "beta", "gamma"} and all(n > 0 for n in first.changed.values())
    assert "[baseline] Harden sshd with a drop-in" in baseline["events"]


def test_second_run_changes_nothing(baseline):
    second = baseline["second"]
    assert second.succeeded, [str(f) for f in second.failures] or second.tail
    assert not any(second.changed.values()), second.changed
    assert set(second.ok) == {"alpha", "beta", "gamma"}


def test_admin_user_with_sudo_and_the_labs_key(baseline):
    for name, host in baseline["sb"].hosts.items():
        proc = host.run("id -nG ubuntu; getent passwd ubuntu | cut -d: -f6,7; "
                        "stat -c '%U %a' /home/ubuntu/.ssh /home/ubuntu/.ssh/authorized_keys")
        groups, home_shell, ssh_dir, keys_file = proc.stdout.splitlines()
        assert "sudo" in groups.split(), name
        assert home_shell == "/home/ubuntu:/bin/bash"
        assert ssh_dir == "ubuntu 700" and keys_file == "ubuntu 600"
        assert host.read_file("/home/ubuntu/.ssh/authorized_keys").splitlines() == [baseline["pubkey"]]
        assert host.run("/usr/sbin/visudo -cf /etc/sudoers.d/90-homelab-admins").returncode == 0
    # The key really lets the admin in, and sudo works without a password (what Ansible's become needs).
    host = baseline["sb"].hosts["beta"]
    login = subprocess.run(
        ["ssh", "-i", str(baseline["admin_key"]), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
         "-o", "UserKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=5",
         f"ubuntu@{host.ip}", "whoami; sudo -n whoami; hostname"],
        capture_output=True, text=True, timeout=30)
    assert login.returncode == 0, login.stderr
    assert login.stdout.split() == ["ubuntu", "root", "beta"]


def test_sshd_hardening_is_effective(baseline):
    for name, host in baseline["sb"].hosts.items():
        settings = sshd_settings(host)
        assert {k: settings.get(k) for k in HARDENED} == HARDENED, name
        # ...and it was not like that before the run (the drop-in did it).
        before = baseline["before"][name]
        assert before["passwordauthentication"] == "yes" and before["maxauthtries"] == "6"


def _auth_methods(ip: str, port: int) -> str:
    """The authentication methods sshd offers, from a client that has no key to try."""
    proc = subprocess.run(
        ["ssh", "-p", str(port), "-o", "BatchMode=yes", "-o", "PubkeyAuthentication=no", "-o", "ConnectTimeout=5",
         "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", f"root@{ip}", "true"],
        capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0
    return proc.stderr.strip().splitlines()[-1]


def test_a_freshly_started_sshd_offers_keys_only(baseline):
    # The sandbox's sshd started before the drop-in existed (no systemd here to reload it); an sshd
    # started now with the host's configuration is what a rebooted/reloaded VM runs.
    host = baseline["sb"].hosts["alpha"]
    start = host.run("/usr/sbin/sshd -p 2222 -o PidFile=/run/sshd-2222.pid && sleep 0.3")
    assert start.returncode == 0, start.stderr
    try:
        assert _auth_methods(host.ip, 22) == "root@" + host.ip + ": Permission denied (publickey,password)."
        assert _auth_methods(host.ip, 2222) == "root@" + host.ip + ": Permission denied (publickey)."
    finally:
        host.run("kill $(cat /run/sshd-2222.pid)")


def test_every_lab_vm_resolves_from_etc_hosts(baseline):
    for name, host in baseline["sb"].hosts.items():
        for other, ip in baseline["ips"].items():
            # NSS "files" only: plain `getent hosts` asks DNS for an IPv6 address first (no resolver here).
            assert host.run(f"getent -s files hosts {other}.sbx.test").stdout.split() == [
                ip, f"{other}.sbx.test", other]
            if other != name:  # a host's own short name stays on Debian's 127.0.1.1 line, which comes first
                assert host.run(f"getent -s files hosts {other}").stdout.split()[0] == ip
        assert host.read_file("/etc/hosts").count("# BEGIN homelab lab hosts") == 1


def test_time_sync_points_at_the_labs_sources(baseline):
    for host in baseline["sb"].hosts.values():
        assert host.read_file("/etc/chrony/sources.d/homelab.sources").splitlines()[1:] == ["pool pool.ntp.org iburst"]
        conf = host.read_file("/etc/chrony/chrony.conf")
        assert "sourcedir /etc/chrony/sources.d" in conf.splitlines()  # chrony reads the drop-in directory
        assert host.run("dpkg-query -W -f='${Status}' chrony").stdout == "install ok installed"


def test_unattended_upgrades_enabled_without_automatic_reboot(baseline):
    for host in baseline["sb"].hosts.values():
        dump = host.run("apt-config dump").stdout.splitlines()
        assert 'APT::Periodic::Update-Package-Lists "1";' in dump
        assert 'APT::Periodic::Unattended-Upgrade "1";' in dump
        assert 'Unattended-Upgrade::Automatic-Reboot "false";' in dump
        assert host.run("dpkg-query -W -f='${Status}' unattended-upgrades").stdout == "install ok installed"


def test_guest_agent_package_present(baseline):
    for host in baseline["sb"].hosts.values():
        assert host.run("dpkg-query -W -f='${Status}' qemu-guest-agent").stdout == "install ok installed"


# --------------------------------------------------------------------------------------------- offline ES
ES_INSTALL_PLAY = """---
- name: Install Elasticsearch only (the offline path)
  hosts: gamma
  become: true
  gather_facts: false
  tasks:
    - name: Install
      ansible.builtin.import_role:
        name: elasticsearch
        tasks_from: install.yml
"""


def _standin_deb(directory, version: str):
    """A tiny `elasticsearch` .deb (dpkg-deb --build): one stub executable, no dependencies."""
    root = directory / "pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: elasticsearch\nVersion: {version}\nArchitecture: all\nMaintainer: homelab tests <t@example.org>\n"
        "Description: stand-in Elasticsearch package for the offline-install test\n")
    stub = root / "usr" / "share" / "elasticsearch" / "bin" / "elasticsearch"
    stub.parent.mkdir(parents=True)
    stub.write_text(f"#!/bin/sh\necho 'Version: {version} (stand-in)'\n")
    stub.chmod(0o755)
    deb = directory / f"elasticsearch-{version}-stand-in.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(root), str(deb)], check=True,
                   capture_output=True)
    return deb


def test_elasticsearch_installs_from_a_local_package_without_network(baseline):
    gamma = baseline["sb"].hosts["gamma"]
    deb = _standin_deb(baseline["work"], "8.18.0")
    play = baseline["tree"] / "_es_offline_test.yml"
    play.write_text(ES_INSTALL_PLAY)
    # The sandbox lab has no Elasticsearch, so its rendering has no elasticsearch role (a lab renders only what it
    # has): the role comes from the reference rendering, which test_reference_rendering keeps current.
    role = baseline["tree"] / "roles" / "elasticsearch"
    shutil.copytree(REFERENCE_ROLES / "elasticsearch", role)
    try:
        extravars = {"es_package_source": str(deb), "elasticsearch_version": "8.18.0"}
        first = run_playbook(baseline["tree"], play.name, private_key=str(baseline["sb"].key_file),
                             extravars=extravars, envvars=ssh_env(baseline["work"]))
        second = run_playbook(baseline["tree"], play.name, private_key=str(baseline["sb"].key_file),
                              extravars=extravars, envvars=ssh_env(baseline["work"]))
    finally:
        play.unlink()
        shutil.rmtree(role)
    assert first.succeeded, [str(f) for f in first.failures] or first.tail
    assert first.changed["gamma"] >= 2
    assert gamma.run("dpkg-query -W -f='${db:Status-Status} ${Version}' elasticsearch").stdout == "installed 8.18.0"
    assert gamma.run("dpkg --get-selections elasticsearch").stdout.split() == ["elasticsearch", "hold"]
    assert gamma.run("/usr/share/elasticsearch/bin/elasticsearch").stdout.strip() == "Version: 8.18.0 (stand-in)"
    # Nothing of the online path: no Elastic apt repository or key was configured.
    assert gamma.run("ls /etc/apt/sources.list.d/elastic-8.x.sources /etc/apt/keyrings/elastic-8.x.asc"
                     ).returncode != 0
    assert second.succeeded and not any(second.changed.values()), second.changed
