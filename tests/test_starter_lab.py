"""The starter lab (`homelab init`, issue 11 item 20): it checks clean without a single warning, and its
rendering holds only what the lab has — no Elasticsearch, Kibana, Fleet or Vault-server roles and
playbooks, no NVIDIA device plugin, no README line about an Elasticsearch it does not run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from homelab.lab.load import load_text
from homelab.render import render_all

STARTER = Path(__file__).resolve().parent.parent / "src" / "homelab" / "lab" / "templates" / "homelab.yaml"
REFERENCE = Path(__file__).resolve().parent.parent / "examples" / "reference" / "homelab.yaml"


@pytest.fixture(scope="module")
def starter():
    return load_text(STARTER.read_text(), "homelab.yaml")


@pytest.fixture(scope="module")
def paths(starter):
    return {f.path: f for f in render_all(starter)}


def test_the_starter_checks_clean_without_any_warning(tmp_path):
    out = subprocess.run([sys.executable, "-m", "homelab", "init", str(tmp_path)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    out = subprocess.run([sys.executable, "-m", "homelab", "check", str(tmp_path), "--format", "json"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert json.loads(out.stdout)["diagnostics"] == []  # no error, no warning, no info
    assert out.stderr == ""


def test_the_starter_renders_only_what_it_has(starter, paths):
    lab = starter.lab
    assert lab.clusters.elasticsearch is None and lab.vault.server is None and not lab.clusters.k3s.gpu.nodes
    rendered = "\n".join(sorted(paths))
    for absent in ("ansible/roles/elasticsearch/", "ansible/roles/kibana/", "ansible/roles/fleet_server/",
                   "ansible/roles/vault_server/", "ansible/playbooks/elasticsearch.yml",
                   "ansible/playbooks/elasticsearch-rolling-upgrade.yml", "ansible/playbooks/kibana.yml",
                   "ansible/playbooks/fleet.yml", "ansible/playbooks/vault.yml", "ansible/group_vars/vault.yml",
                   "nvidia-device-plugin"):
        assert absent not in rendered, absent
    for present in ("ansible/roles/k3s/tasks/main.yml", "ansible/playbooks/k3s.yml", "ansible/playbooks/baseline.yml",
                    "ansible/roles/host_baseline/tasks/main.yml"):
        assert present in paths, present
    site = paths["ansible/site.yml"].content
    # every lab has a CA (Vault's PKI by default, `homelab pki init`): its root goes into each VM's trust store
    assert [ln.split(": ", 1)[1] for ln in site.splitlines() if "import_playbook:" in ln] == [
        "playbooks/baseline.yml", "playbooks/pki.yml", "playbooks/k3s.yml"]
    readme = paths["README.md"].content
    assert "3 Proxmox VE nodes, a K3s cluster, Vault and 3 applications" in readme
    assert "nvidia" not in json.dumps([f.content for p, f in paths.items() if p.startswith("k8s/")])


def test_each_part_brings_its_own_roles():
    """Elasticsearch without Kibana: the Elasticsearch role and playbooks, but no Kibana ones."""
    text = STARTER.read_text().replace("clusters:\n", "clusters:\n  elasticsearch:\n    data_nodes: [es01]\n"
                                       "    master_nodes: [es01]\n", 1)
    text = text.replace("vms:\n", "vms:\n  - {name: es01, role: es-data, env: lab}\n", 1)
    doc = load_text(text, "homelab.yaml")
    paths = {f.path for f in render_all(doc)}
    assert "ansible/roles/elasticsearch/tasks/main.yml" in paths and "ansible/playbooks/elasticsearch.yml" in paths
    assert not any(p.startswith(("ansible/roles/kibana/", "ansible/roles/fleet_server/")) for p in paths)
    site = next(f for f in render_all(doc) if f.path == "ansible/site.yml").content
    assert "playbooks/elasticsearch.yml" in site and "playbooks/kibana.yml" not in site


def test_the_reference_lab_keeps_every_role_and_the_gpu_plugin():
    paths = {f.path for f in render_all(load_text(REFERENCE.read_text(), "homelab.yaml"))}
    for role in ("elasticsearch", "kibana", "fleet_server", "vault_server", "k3s", "host_baseline"):
        assert f"ansible/roles/{role}/tasks/main.yml" in paths, role
    assert "k8s/values/platform/nvidia-device-plugin.yaml" in paths
