"""Velero backups that make sense for a homelab (issue 14 item 4), templated by the real charts.

The Velero chart (12.1.0) renders the lab's schedules from its `schedules` value (templates/schedule.yaml):
the Schedule objects must carry the cron, TTL, namespaces and file-system-backup mode the lab says. Each
app chart must put the file-system backup annotation on the pod template, naming pod volumes that exist
and are backed by the app's claims (Velero matches the annotation against `spec.volumes[].name`: Velero
1.18 docs, file-system-backup "Using opt-out approach" / "Using opt-in approach"). Plex's 4 TiB media
library is not backed up unless the lab opts it in.
"""

from __future__ import annotations

import pytest

from helm_charts import of_kind, pod_spec
from homelab.lab.backups import FS_EXCLUDE, FS_INCLUDE
from homelab.render.kubernetes.velero import schedule_object_name
from render.test_chart_rendering import lab_doc, releases, render_tree, rendered

pytestmark = pytest.mark.validators

WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet")


def _manifests(doc, name: str):
    tree = render_tree(doc)
    app, chart, values = next(r for r in releases(tree) if r[0]["metadata"]["name"] == name)
    return rendered(app, chart, values)


def _schedules(doc) -> dict[str, dict]:
    return {s["metadata"]["name"]: s for s in of_kind(_manifests(doc, "velero"), "Schedule")}


def _pods(doc, app: str) -> list[dict]:
    """Pod templates of the app's workloads (with the StatefulSet's claim templates as volumes)."""
    out = []
    for m in _manifests(doc, app):
        if m.kind in WORKLOADS:
            tpl = m.obj["spec"]["template"]
            claims = {c["metadata"]["name"] for c in m.obj["spec"].get("volumeClaimTemplates", [])}
            vols = {v["name"]: v for v in pod_spec(m.obj).get("volumes", [])}
            vols.update({c: {"persistentVolumeClaim": {"claimName": c}} for c in claims})
            out.append({"annotations": tpl["metadata"].get("annotations") or {}, "volumes": vols,
                        "labels": tpl["metadata"].get("labels") or {}})
    return out


def test_schedules_come_out_of_the_chart_with_cron_ttl_and_namespaces(reference_doc):
    schedules = _schedules(reference_doc)
    # docs/backup.md names each Schedule object as the chart names it
    assert {schedule_object_name(s) for s in ("daily-apps", "weekly-all", "app-plex")} <= set(schedules)
    daily = schedules["velero-daily-apps"]
    assert daily["metadata"]["namespace"] == "velero"
    assert daily["metadata"]["annotations"]["argocd.argoproj.io/sync-options"] == "SkipDryRunOnMissingResource=true"
    assert daily["spec"]["schedule"] == "0 4 * * *"
    assert daily["spec"]["template"]["ttl"] == "720h"
    assert daily["spec"]["template"]["includedNamespaces"] == sorted(
        ["media", "home-automation", "paperless", "mealie", "finance", "files"])
    assert daily["spec"]["template"]["defaultVolumesToFsBackup"] is True
    assert daily["spec"]["template"]["snapshotVolumes"] is False  # no snapshot location: file-system backup only
    weekly = schedules["velero-weekly-all"]["spec"]
    assert weekly["schedule"] == "0 5 * * 0" and weekly["template"]["includedNamespaces"] == ["*"]
    assert weekly["template"]["ttl"] == "2160h"
    ha = schedules["velero-app-home-assistant"]
    assert ha["metadata"]["labels"]["homelab/app"] == "home-assistant"
    assert ha["spec"]["template"]["includedNamespaces"] == ["home-automation"]
    assert ha["spec"]["template"]["ttl"] == f"{30 * 24}h"
    assert ha["spec"]["template"]["labelSelector"] == {"matchLabels": {"app.kubernetes.io/instance": "home-assistant"}}
    # the per-app schedule selects the app's pods: the chart labels them with that instance label
    assert any(p["labels"].get("app.kubernetes.io/instance") == "home-assistant"
               for p in _pods(reference_doc, "home-assistant"))
    # the chart installs its CRDs in a pre-install hook (ArgoCD: PreSync), before the Schedules sync
    crd_job = [m for m in _manifests(reference_doc, "velero") if m.kind == "Job" and "upgrade-crds" in m.template]
    assert crd_job and "pre-install" in crd_job[0].obj["metadata"]["annotations"]["helm.sh/hook"]
    # nothing is rendered beside the chart any more
    assert not any("velero-schedules" in path for path in render_tree(reference_doc))


def test_excluded_namespaces_reach_the_schedule(reference_path):
    doc = lab_doc(reference_path, lambda d: d["backup"]["velero"]["schedules"][1].update(
        exclude_namespaces=["llm", "kube-system"]))
    weekly = _schedules(doc)["velero-weekly-all"]["spec"]["template"]
    assert weekly["excludedNamespaces"] == ["kube-system", "llm"] and weekly["includedNamespaces"] == ["*"]


@pytest.mark.parametrize("app, volume", [
    ("plex", "media"), ("qbittorrent", "downloads"), ("copyparty", "share"),
    ("text-generation-webui", "models"), ("ollama", "ollama-data"),
])
def test_large_volumes_are_left_out_of_file_system_backup(reference_doc, app, volume):
    pods = _pods(reference_doc, app)
    excluded = [p for p in pods if FS_EXCLUDE in p["annotations"]]
    assert len(excluded) == 1, f"{app}: no pod carries {FS_EXCLUDE}"
    names = excluded[0]["annotations"][FS_EXCLUDE].split(",")
    assert names == [volume]
    assert "persistentVolumeClaim" in excluded[0]["volumes"][volume], f"{app}: {volume} is not the claim's pod volume"


def test_small_volumes_are_backed_up_and_plex_config_is_not_excluded(reference_doc):
    plex = next(p for p in _pods(reference_doc, "plex") if FS_EXCLUDE in p["annotations"])
    assert "config" in plex["volumes"] and "config" not in plex["annotations"][FS_EXCLUDE].split(",")
    for app in ("radarr", "mealie", "paperless-ngx", "pihole", "home-assistant"):
        assert all(FS_EXCLUDE not in p["annotations"] for p in _pods(reference_doc, app)), app


def test_a_volume_opted_in_is_backed_up_even_when_large(reference_path):
    def opt_in(d):
        plex = next(a for a in d["apps"] if a["name"] == "plex")
        next(v for v in plex["storage"] if v["name"] == "media")["backup"] = True
    pods = _pods(lab_doc(reference_path, opt_in), "plex")
    assert all(FS_EXCLUDE not in p["annotations"] for p in pods)


def test_opt_in_mode_names_the_volumes_to_back_up_and_schedules_do_not_default_to_it(reference_path):
    doc = lab_doc(reference_path, lambda d: d["backup"]["velero"].update(fs_backup="opt-in"))
    assert all(s["spec"]["template"]["defaultVolumesToFsBackup"] is False for s in _schedules(doc).values())
    plex = [p for p in _pods(doc, "plex") if FS_INCLUDE in p["annotations"]]
    assert len(plex) == 1 and plex[0]["annotations"][FS_INCLUDE] == "config"
    assert "persistentVolumeClaim" in plex[0]["volumes"]["config"]
    ha = [p for p in _pods(doc, "home-assistant") if FS_INCLUDE in p["annotations"]]
    assert len(ha) == 1 and ha[0]["annotations"][FS_INCLUDE] in ha[0]["volumes"]
    pihole = [p for p in _pods(doc, "pihole") if FS_INCLUDE in p["annotations"]]
    assert len(pihole) == 1 and "persistentVolumeClaim" in pihole[0]["volumes"][pihole[0]["annotations"][FS_INCLUDE]]
    ollama = [p for p in _pods(doc, "ollama") if FS_INCLUDE in p["annotations"]]
    assert ollama == []  # its only volume is the 200 GiB model store


def test_without_velero_no_schedules_and_no_annotations(reference_path):
    doc = lab_doc(reference_path, lambda d: d["platform"]["velero"].update(enabled=False))
    assert all(FS_EXCLUDE not in p["annotations"] for p in _pods(doc, "plex"))
