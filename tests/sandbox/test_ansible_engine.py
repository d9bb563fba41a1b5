"""The ansible engine over real SSH to isolated test hosts (real ansible-core + ansible-runner)."""

from __future__ import annotations

import textwrap

import pytest

from homelab.engines.ansible import run_playbook
from homelab.errors import EngineError


@pytest.fixture()
def project(tmp_path, sandbox3):
    proj = tmp_path / "ansible"
    (proj / "playbooks").mkdir(parents=True)
    (proj / "ansible.cfg").write_text("[defaults]\ninventory = inventory.yml\nhost_key_checking = False\n"
                                      "interpreter_python = /usr/bin/python3\n"
                                      "[ssh_connection]\n"
                                      "ssh_args = -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no\n")
    hosts = {name: {"ansible_host": h.ip, "ansible_user": "root"} for name, h in sandbox3.hosts.items()}
    hosts["ghost"] = {"ansible_host": sandbox3.controller_ip.rsplit(".", 1)[0] + ".99", "ansible_user": "root"}
    import json

    (proj / "inventory.yml").write_text(json.dumps({"all": {"hosts": hosts}}))
    (proj / "playbooks" / "marker.yml").write_text(textwrap.dedent("""
        - name: Write a marker
          hosts: all
          gather_facts: false
          tasks:
            - name: Marker file
              ansible.builtin.copy:
                dest: /etc/homelab-marker
                content: "{{ inventory_hostname }}\\n"
                mode: "0644"
            - name: Fail on beta only
              ansible.builtin.fail:
                msg: beta refuses
              when: inventory_hostname == 'beta' and (fail_beta | default(false) | bool)
    """))
    return proj


def test_playbook_runs_streams_events_and_is_idempotent(project, sandbox3):
    events = []
    first = run_playbook(project, "playbooks/marker.yml", limit="alpha,gamma",
                         private_key=str(sandbox3.key_file), progress=events.append)
    assert first.succeeded, first.tail
    assert first.changed == {"alpha": 1, "gamma": 1}
    assert any("Marker file" in e for e in events)
    assert sandbox3.hosts["alpha"].read_file("/etc/homelab-marker") == "alpha\n"
    assert sandbox3.hosts["beta"].read_file("/etc/homelab-marker") is None  # not in --limit
    second = run_playbook(project, "playbooks/marker.yml", limit="alpha,gamma", private_key=str(sandbox3.key_file))
    assert second.succeeded and not any(second.changed.values())


def test_failing_task_is_reported_with_host_and_task(project, sandbox3):
    result = run_playbook(project, "playbooks/marker.yml", limit="alpha,beta", extravars={"fail_beta": True},
                          private_key=str(sandbox3.key_file))
    assert not result.succeeded
    assert [(f.host, f.task, f.message) for f in result.failures] == [("beta", "Fail on beta only", "beta refuses")]


def test_unreachable_host_is_reported(project, sandbox3):
    result = run_playbook(project, "playbooks/marker.yml", limit="ghost", private_key=str(sandbox3.key_file),
                          extravars={"ansible_ssh_common_args": "-o ConnectTimeout=2"})
    assert not result.succeeded
    assert len(result.failures) == 1 and result.failures[0].host == "ghost" and result.failures[0].unreachable


def test_wrong_key_is_reported_as_unreachable(project, sandbox3, tmp_path):
    import subprocess

    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    result = run_playbook(project, "playbooks/marker.yml", limit="gamma", private_key=str(other))
    assert not result.succeeded
    assert result.failures and result.failures[0].host == "gamma" and result.failures[0].unreachable
    assert "Permission denied" in result.failures[0].message


def test_engine_apply_raises_with_failing_host_and_task(project, sandbox3):
    from homelab.engines.ansible import AnsibleEngine

    def runner(project_dir, playbook, **kwargs):
        kwargs["extravars"] = {"fail_beta": True}
        kwargs["private_key"] = str(sandbox3.key_file)
        return run_playbook(project, "playbooks/marker.yml", **kwargs)

    class Ctx:
        workdir = project.parent
        progress = staticmethod(lambda m: None)
        redactor = staticmethod(lambda t: t)
        options: dict = {}

        class doc:  # noqa: N801 - minimal stand-in for a LabDocument
            class lab:  # noqa: N801
                class access:  # noqa: N801
                    ssh_private_key = None

    from homelab.engines.base import Change

    engine = AnsibleEngine(runner=runner)
    with pytest.raises(EngineError) as info:
        engine.apply(Ctx, [Change("host.beta", "create", "new"), Change("host.alpha", "create", "new")])
    assert "beta: failed at task 'Fail on beta only': beta refuses" in info.value.message
