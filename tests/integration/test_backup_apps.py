"""`homelab backup apps` and `homelab restore app NAME [--to NS]` against the Kubernetes contract fake
(tests/fakes/kube_apiserver.py) serving the real Velero CRDs of the pinned chart (tests/fakes/velero_crds.py):
the fake checks each object against the CRD's openAPIV3Schema, so a field Velero does not have is refused.
A small stand-in for the Velero server (a thread) moves the objects' `status.phase` as Velero does
(New -> InProgress -> Completed, or a failure phase) through an Update of the object (the CRDs have no
status subresource). The Schedules in the cluster are the ones homelab renders for the reference lab.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fakes import velero_crds  # noqa: E402
from fakes.kube_apiserver import APPLY, FakeKubeApiServer  # noqa: E402
from helm_charts import load_chart, of_kind, render  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
REFERENCE_LAB = ROOT / "examples" / "reference" / "homelab.yaml"
TOKEN = "velero-test-admin-token"


class VeleroStandIn:
    """Moves Backups and Restores through their phases, as the Velero server does; `outcome` per kind."""

    def __init__(self, fake: FakeKubeApiServer):
        self.fake, self.outcome = fake, {"Backup": "Completed", "Restore": "Completed"}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _loop(self):
        while not self._stop.is_set():
            for (group, plural, ns, name), obj in list(self.fake._objects.items()):
                kind = {"backups": "Backup", "restores": "Restore"}.get(plural)
                if group != "velero.io" or kind is None:
                    continue
                phase = (obj.get("status") or {}).get("phase")
                if phase is None:
                    self.fake.set_status("velero.io/v1", kind, name, ns, {"phase": "InProgress"}, manager="velero-server")
                elif phase == "InProgress":
                    status = {"phase": self.outcome[kind], "completionTimestamp": time.strftime(
                        "%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "errors": 0 if self.outcome[kind] == "Completed" else 2}
                    if kind == "Backup":
                        status["progress"] = {"itemsBackedUp": 42, "totalItems": 42}
                    self.fake.set_status("velero.io/v1", kind, name, ns, status, manager="velero-server")
            time.sleep(0.1)


@pytest.fixture
def cluster(tmp_path):
    from homelab.engines.kubernetes.client import KubeClient
    from homelab.engines.kubernetes.kubeconfig import load_kubeconfig
    from homelab.lab.load import load_lab
    from homelab.render.kubernetes.velero import velero_schedules
    from homelab.secrets import Redactor

    with FakeKubeApiServer(tokens={TOKEN: "admin"}) as fake, VeleroStandIn(fake) as velero:
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "lab",
            "clusters": [{"name": "lab", "cluster": {"server": fake.url}}],
            "users": [{"name": "admin", "user": {"token": TOKEN}}],
            "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": "admin"}}]}))
        kubeconfig.chmod(0o600)
        client = KubeClient(load_kubeconfig(kubeconfig), redactor=Redactor())
        for kind in ("Backup", "Restore", "Schedule"):  # what the chart installs
            client.apply(velero_crds.crd(kind))
        client.invalidate()
        lab = load_lab(REFERENCE_LAB).lab.model_copy(deep=True)
        client.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "velero"}})
        # the Schedule objects as the velero 12.1.0 chart makes them of the rendered `schedules` value
        values = {"schedules": velero_schedules(lab.model_copy(update={"platform": lab.platform.model_copy(update={
            "velero": lab.platform.velero.model_copy(update={"enabled": True})})}))}
        schedules = of_kind(render(load_chart("velero", "12.1.0"), values, "velero", "velero"), "Schedule")
        for s in schedules:
            for key in ("labels",):  # the chart's own labels stay; Helm's managed-by is not ours to apply
                s["metadata"].get(key, {}).pop("app.kubernetes.io/managed-by", None)
            s["metadata"].pop("annotations", None)
            client.apply(s)
        fake.requests.clear()
        yield fake, velero, client, kubeconfig, {s["metadata"]["name"]: s for s in schedules}


def run(homelab_tools, tmp_path, *args):
    env = homelab_tools.clean_env(HOMELAB_STATE_DIR=str(tmp_path / ".homelab"))
    return homelab_tools.run_homelab([*args, "--lab", str(REFERENCE_LAB)], env=env, cwd=tmp_path)


def velero_writes(fake, plural: str):
    return [r for r in fake.requests if r.method == "PATCH" and f"/apis/velero.io/v1/namespaces/velero/{plural}/"
            in r.path]


def test_backup_apps_previews_and_waits_for_consent(cluster, homelab_tools, tmp_path):
    fake, _, _, kubeconfig, _ = cluster
    proc = run(homelab_tools, tmp_path, "backup", "apps", "--kubeconfig", str(kubeconfig))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "will back up  apps: a Velero Backup from Schedule velero/velero-daily-apps" in proc.stderr
    assert velero_writes(fake, "backups") == []


def test_backup_apps_creates_a_backup_from_the_schedule_and_reports_its_phase(cluster, homelab_tools, tmp_path):
    fake, _, _, kubeconfig, schedules = cluster
    proc = run(homelab_tools, tmp_path, "backup", "apps", "-y", "--kubeconfig", str(kubeconfig), "--format", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = json.loads(proc.stdout)
    (entry,) = out["backups"]
    assert entry["phase"] == "Completed" and entry["items"] == 42
    (req,) = velero_writes(fake, "backups")
    # the documented shape: server-side apply, homelab's field manager, a Backup whose spec is the template
    assert req.content_type == APPLY and req.query == {"fieldManager": "homelab", "force": "true"}
    assert req.body["apiVersion"] == "velero.io/v1" and req.body["kind"] == "Backup"
    name = req.body["metadata"]["name"]  # as Velero names a scheduled backup: the Schedule's name and a stamp
    assert name.startswith("velero-daily-apps-") and len(name) == len("velero-daily-apps-") + 14
    assert req.body["metadata"]["labels"]["velero.io/schedule-name"] == "velero-daily-apps"
    assert req.body["spec"] == schedules["velero-daily-apps"]["spec"]["template"]
    assert fake.get_object("velero.io/v1", "Backup", entry["backup"], "velero")["status"]["phase"] == "Completed"
    run_manifest = json.loads(Path(out["manifest"]).read_text())
    assert run_manifest["backups"][0]["backup"] == entry["backup"]


def test_backup_from_a_schedule_the_cluster_lacks_says_so(cluster, homelab_tools, tmp_path):
    fake, _, client, kubeconfig, _ = cluster
    client.delete("velero.io/v1", "Schedule", "velero-weekly-all", "velero")
    proc = run(homelab_tools, tmp_path, "backup", "apps", "-y", "--kubeconfig", str(kubeconfig), "--schedule",
               "weekly-all")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "no Velero Schedule velero/velero-weekly-all" in proc.stderr and "Traceback" not in proc.stderr


def _backup(client, fake, name: str, namespaces: list[str], phase: str, finished: str):
    client.apply({"apiVersion": "velero.io/v1", "kind": "Backup", "metadata": {"name": name, "namespace": "velero"},
                  "spec": {"includedNamespaces": namespaces, "ttl": "720h0m0s"}})
    fake.set_status("velero.io/v1", "Backup", name, "velero", {"phase": phase, "completionTimestamp": finished},
                    manager="velero-server")


def test_restore_app_uses_the_newest_completed_backup_covering_it(cluster, homelab_tools, tmp_path):
    fake, velero, client, kubeconfig, _ = cluster
    velero.outcome["Backup"] = "unused"  # the backups below are finished already
    _backup(client, fake, "daily-apps-20260101040000", ["media", "finance"], "Completed", "2026-01-01T04:10:00Z")
    _backup(client, fake, "daily-apps-20260102040000", ["media", "finance"], "Completed", "2026-01-02T04:10:00Z")
    _backup(client, fake, "daily-apps-20260103040000", ["media", "finance"], "PartiallyFailed", "2026-01-03T04:10:00Z")
    _backup(client, fake, "other-20260104040000", ["paperless"], "Completed", "2026-01-04T04:10:00Z")
    fake.requests.clear()
    proc = run(homelab_tools, tmp_path, "restore", "app", "sonarr", "--to", "sonarr-check", "-y",
               "--kubeconfig", str(kubeconfig), "--wait", "30")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "from Backup daily-apps-20260102040000" in proc.stderr
    assert "phase Completed" in proc.stdout
    (req,) = velero_writes(fake, "restores")
    assert req.content_type == APPLY and req.body["kind"] == "Restore"
    assert req.body["spec"] == {"backupName": "daily-apps-20260102040000", "includedNamespaces": ["media"],
                                "namespaceMapping": {"media": "sonarr-check"}}


def test_restore_app_in_place_and_a_failed_restore_exits_1(cluster, homelab_tools, tmp_path):
    fake, velero, client, kubeconfig, _ = cluster
    _backup(client, fake, "weekly-all-20260104050000", ["*"], "Completed", "2026-01-04T05:10:00Z")
    velero.outcome["Restore"] = "PartiallyFailed"
    proc = run(homelab_tools, tmp_path, "restore", "app", "ollama", "-y", "--kubeconfig", str(kubeconfig),
               "--wait", "30")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "phase PartiallyFailed (2 error(s)" in proc.stdout
    (req,) = velero_writes(fake, "restores")
    assert req.body["spec"] == {"backupName": "weekly-all-20260104050000", "includedNamespaces": ["llm"]}


def test_restore_app_without_a_covering_backup_says_so(cluster, homelab_tools, tmp_path):
    fake, _, client, kubeconfig, _ = cluster
    _backup(client, fake, "other-20260104040000", ["paperless"], "Completed", "2026-01-04T04:10:00Z")
    proc = run(homelab_tools, tmp_path, "restore", "app", "plex", "-y", "--kubeconfig", str(kubeconfig))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "no Completed Velero Backup covers namespace 'media'" in proc.stderr
    assert velero_writes(fake, "restores") == []
    proc = run(homelab_tools, tmp_path, "restore", "app", "nosuchapp", "-y", "--kubeconfig", str(kubeconfig))
    assert proc.returncode == 2 and "no app 'nosuchapp'" in proc.stderr


def test_the_crds_refuse_a_field_velero_does_not_have(cluster):
    from homelab.engines.kubernetes.client import KubeApiError

    _, _, client, _, _ = cluster
    with pytest.raises(KubeApiError):
        client.apply({"apiVersion": "velero.io/v1", "kind": "Restore", "metadata": {"name": "x", "namespace": "velero"},
                      "spec": {"backupName": "b", "namespaceMappings": {"a": "b"}}})
