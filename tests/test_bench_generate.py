"""bench/generate.py makes labs that load and check clean at any size (no timing assertions)."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import pytest

from homelab.checks import run_checks
from homelab.lab.load import load_text

GENERATE = Path(__file__).resolve().parent.parent / "bench" / "generate.py"


@pytest.fixture(scope="module")
def generate():
    spec = importlib.util.spec_from_file_location("bench_generate", GENERATE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("size", [50, 1000])
def test_generated_lab_loads_and_checks_clean(generate, size):
    text = generate.dump(generate.generate(size))
    doc = load_text(text)
    lab = doc.lab
    assert len(lab.vms) == size
    assert len({vm.name for vm in lab.vms}) == size
    findings = run_checks(doc)
    assert [d.format() for d in findings if d.severity.value == "error"] == []
    assert [d.format() for d in findings if d.severity.value == "warning"] == []

    roles = Counter(vm.role for vm in lab.vms)
    # a realistic mix: HA clusters (odd quorum), many workers and data nodes, the seed's service VMs
    assert roles["k8s-control-plane"] in (3, 5) and roles["es-master"] in (3, 5)
    assert roles["k8s-worker"] >= size * 0.3 and roles["es-data"] >= size * 0.2
    for role in ("vault", "plex", "kibana", "fleet", "infra", "proxy", "torrent"):
        assert roles[role] == 1
    assert sorted(lab.clusters.k3s.servers + lab.clusters.k3s.agents) == sorted(
        vm.name for vm in lab.vms if vm.role in ("k8s-control-plane", "k8s-worker"))
    assert len(lab.clusters.k3s.gpu.nodes) == 1
    # some addresses are pinned, the rest allocated; every VM ends up with an address, VMID and node
    inv = doc.inventory.vms
    assert any(vm.ip_allocated for vm in inv) and any(not vm.ip_allocated for vm in inv)
    assert all(vm.ip and vm.vmid and vm.node for vm in inv)
    assert len({vm.ip for vm in inv}) == size and len({vm.vmid for vm in inv}) == size
    assert len(lab.apps) >= 14 + size // 10
    assert len(lab.proxmox.nodes) >= 3


def test_generation_is_deterministic_and_cli_writes_a_file(generate, tmp_path):
    assert generate.dump(generate.generate(60)) == generate.dump(generate.generate(60))
    out = tmp_path / "lab.yaml"
    assert generate.main(["--vms", "40", "-o", str(out)]) == 0
    assert len(load_text(out.read_text()).lab.vms) == 40


def test_too_small_is_refused(generate):
    with pytest.raises(ValueError):
        generate.generate(generate.MIN_VMS - 1)
    with pytest.raises(SystemExit):
        generate.main(["--vms", "3"])
