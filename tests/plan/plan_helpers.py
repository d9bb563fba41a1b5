"""Helpers for the plan tests: patch the reference lab as data, build a prior state, make a plan."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

from fake_engine import ENGINE_NAMES, RecordingEngine

from homelab.lab.load import load_text
from homelab.plan.desired import desired
from homelab.plan.planner import make_plan
from homelab.state.store import StateStore

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "examples" / "reference" / "homelab.yaml"
_PART = re.compile(r"^([^\[\]]+)(?:\[([^\]]+)\])?$")


def reference_data() -> dict:
    from ruamel.yaml import YAML

    return json.loads(json.dumps(YAML(typ="safe").load(REFERENCE.read_text())))


def _walk(data, path: str, create: bool = False):
    """Returns (parent, key) for a path like 'vms[name=kube04].memory' or 'clusters.k3s.agents'."""
    parts = path.split(".")
    node = data
    for i, part in enumerate(parts):
        m = _PART.match(part)
        key, sel = m.group(1), m.group(2)
        last = i == len(parts) - 1
        if sel is None:
            if last:
                return node, key
            if key not in node and create:
                node[key] = {}
            node = node[key]
            continue
        seq = node[key]
        if "=" in sel:
            k, v = sel.split("=", 1)
            idx = next(j for j, item in enumerate(seq) if str(item.get(k)) == v)
        else:
            idx = int(sel)
        if last:
            return seq, idx
        node = seq[idx]
    raise AssertionError(path)


def patch_lab(data: dict, patches: list[dict]) -> dict:
    data = copy.deepcopy(data)
    for p in patches or []:
        if "set" in p:
            parent, key = _walk(data, p["set"], create=True)
            parent[key] = p["value"]
        elif "delete" in p:
            parent, key = _walk(data, p["delete"])
            del parent[key]
        elif "remove" in p:
            parent, key = _walk(data, p["remove"])
            parent[key].remove(p["value"])
        elif "append" in p:
            parent, key = _walk(data, p["append"], create=True)
            parent.setdefault(key, []).append(p["value"])
        else:
            raise AssertionError(f"unknown patch {p}")
    return data


def doc_of(data: dict, name: str = "homelab.yaml"):
    return load_text(json.dumps(data, indent=1), name)


def record_all(store: StateStore, doc, patch: dict | None = None) -> None:
    """Record every desired resource of doc as applied (optionally with patched attrs)."""
    for addr, res in desired(doc).items():
        attrs = dict(res.attrs)
        if patch and addr in patch:
            if patch[addr] is None:
                continue
            attrs.update(patch[addr])
        store.record(addr, layer=res.layer, engine=res.engine, attrs=attrs, lab_digest=doc.digest,
                     depends_on=res.depends_on)


LIVE = Path(__file__).resolve().parent / "live"


def reference_live() -> dict[str, dict]:
    """Live facts of the applied reference lab, written from outside homelab (tests/plan/live/*.yaml), in the
    vocabulary of the real engines: VMs through the terraform engine's own converter from telmate/proxmox
    state values, ArgoCD Applications as the kubernetes engine reports them."""
    from ruamel.yaml import YAML

    from homelab.engines.terraform.vm_facts import proxmox_vm_facts

    yaml = YAML(typ="safe")
    facts: dict[str, dict] = {}
    pve = yaml.load((LIVE / "reference-proxmox.yaml").read_text())
    common = pve["common"]
    for name, vm in pve["vms"].items():
        values = {"vmid": vm["vmid"], "clone": common["clone"],
                  "network": [{"bridge": common["bridge"], "tag": common["tag"], "model": "virtio"}],
                  "ipconfig0": f"ip={vm['ip']}/24,gw={common['gateway']}"}
        if "node" in vm:
            values["target_node"] = vm["node"]
        if "cores" in vm:
            values["cpu"] = [{"cores": vm["cores"], "sockets": 1, "type": "host"}]
            values["memory"] = vm["memory"]
            values["disks"] = [{"scsi": [{"scsi0": [{"disk": [{"size": vm["disk"], "storage": common["storage"]}]}]}]}]
        facts[f"proxmox_vm.{name}"] = {"env": vm["env"], **proxmox_vm_facts(values)}
    argo = yaml.load((LIVE / "reference-argocd.yaml").read_text())
    for group, prefix in (("apps", None), ("platform", "platform")):
        for name, app in argo[group].items():
            fact = {"sync": "Synced", "health": "Healthy", "revisions": [app["chart"], argo["values_commit"]]} \
                if "chart" in app else {"sync": "Synced", "health": "Healthy"}
            if "namespace" in app:
                fact["namespace"] = app["namespace"]
            facts[f"argocd_app.{prefix or app['namespace']}/{name}"] = fact
    facts["argocd_bootstrap.argocd"] = dict(argo["bootstrap"])
    return facts


def engines_for(spec: dict | None, live: dict[str, dict]) -> dict[str, RecordingEngine]:
    """Default: every engine not configured. spec: {engine: {configured, reachable, reason, live: reference}}:
    `live: reference` — the engine reports the outside-written facts (with the case's live_patch)."""
    spec = spec or {}
    out = {}
    for name in ENGINE_NAMES:
        s = spec.get(name)
        if s is None:
            out[name] = RecordingEngine(name, configured=False, reachable=False, reason="off in this test")
            continue
        eng = RecordingEngine(name, configured=s.get("configured", True), reachable=s.get("reachable", True),
                              reason=s.get("reason", ""))
        if s.get("live") == "reference":
            eng.live = {a: v for a, v in live.items()}
        elif "live" in s:
            raise AssertionError(f"unknown live source {s['live']!r}: live facts come from tests/plan/live/")
        if "fact_types" in s:
            eng.fact_types = frozenset(s["fact_types"])
        out[name] = eng
    return out


def plan_for(doc, store: StateStore, engines: dict, tmp_path: Path):
    from homelab.engines.base import EngineContext

    ctx = EngineContext(doc=doc, workdir=tmp_path, state_dir=store.dir)
    return make_plan(doc, state=store.resources(), serial=store.serial(), engines=lambda n: engines[n], ctx=ctx,
                     workdir=str(tmp_path))
