"""`homelab drill` with a real embedded OpenBao (the live one is backed up; the drill restores into a scratch
server of its own), the Elasticsearch contract fake and the Kubernetes fake with the Velero CRDs: the report
(docs/drills/DATE.md + .json) carries measured RPO and RTO per kind against backup.targets, kinds without an
endpoint are "not checked (no endpoint)", a missed target or a failed restore exits 1, and no secret value
appears anywhere (Vault data is compared by hash)."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fakes import velero_crds  # noqa: E402
from fakes.elasticsearch import FakeElasticsearch  # noqa: E402
from fakes.kube_apiserver import FakeKubeApiServer  # noqa: E402
from homelab.engines.vault import VaultApi  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.validators]  # a real OpenBao server

REFERENCE_LAB = Path(__file__).resolve().parents[2] / "examples" / "reference" / "homelab.yaml"
ES_PASSWORD = "drill-es-password-42"
TOKEN = "drill-kube-token"


class Box:
    def __init__(self, root: Path, tools):
        self.root, self.tools, self.outputs = root, tools, []
        self.state, self.lab = root / ".homelab", root / "homelab.yaml"
        self.lab.write_text(REFERENCE_LAB.read_text())

    def run(self, *args, env=None):
        e = self.tools.clean_env(HOMELAB_STATE_DIR=str(self.state), HOMELAB_VAULT_ADDR="embedded",
                                 ELASTIC_PASSWORD=ES_PASSWORD, **(env or {}))
        proc = self.tools.run_homelab([*args, "--lab", str(self.lab)], env=e, cwd=self.root)
        self.outputs += [proc.stdout, proc.stderr]
        return proc

    def targets(self, text: str) -> None:
        body = REFERENCE_LAB.read_text()
        old = "    vault: {rpo: 26h, rto: 15m}"
        assert old in body
        self.lab.write_text(body.replace(old, text))


@pytest.fixture(scope="module")
def box(tmp_path_factory, bao_binary, homelab_tools):
    from homelab.engines.vault import server as vault_server

    b = Box(tmp_path_factory.mktemp("drill"), homelab_tools)
    for step in (["vault", "up"], ["vault", "init"], ["vault", "unseal"], ["vault", "configure"]):
        assert b.run(*step).returncode == 0
    api = VaultApi((b.state / "vault" / "address").read_text().strip(),
                   json.loads((b.state / "vault" / "init-keys.json").read_text())["root_token"])
    api.kv_write("apps/plex", {"claim_token": "plex-claim-secret-1"})
    api.kv_write("apps/plex", {"claim_token": "plex-claim-secret-2"})
    yield b
    vault_server.down(b.state)


def test_without_a_backup_the_drill_fails(box):
    proc = box.run("drill", "--out", str(box.root / "none"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "no Vault backup to restore" in proc.stdout
    data = json.loads(next((box.root / "none").glob("*.json")).read_text())
    assert data["passed"] is False and data["missed"] == ["vault: failed"]


def test_drill_restores_vault_into_a_scratch_server_and_reports_rpo_rto(box):
    assert box.run("backup", "vault", "--no-offsite", "-y").returncode == 0
    live = (box.state / "vault" / "address").read_text()
    proc = box.run("drill", "--format", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    vault, es, apps = data["kinds"]
    assert vault["status"] == "ok" and vault["missed"] == []
    assert 0 <= vault["rpo_seconds"] < 600 and 0 < vault["rto_seconds"] < 900
    assert vault["facts"]["versions_by_hash"] >= vault["facts"]["kv_paths"] > 0
    assert "apps/plex" not in vault["facts"]["catalogue_missing"]
    assert es["detail"] == apps["detail"] == "not checked (no endpoint)"
    day = data["drill"][:10]
    md = box.root / "docs" / "drills" / f"{day}.md"
    assert Path(data["report"]) == md and md.is_file() and (md.parent / f"{day}.json").is_file()
    text = md.read_text()
    assert "| vault | ok |" in text and "(26h)" in text and "(15m)" in text and "all targets met" in text
    # the live server was not touched: same address, still unsealed, and no scratch server left running
    assert (box.state / "vault" / "address").read_text() == live
    assert VaultApi(live.strip()).seal_status()["sealed"] is False
    assert not list(Path("/tmp").glob("homelab-drill-*/.homelab/vault/pid"))


def test_a_missed_target_exits_1(box):
    box.targets("    vault: {rpo: 26h, rto: 1s}")  # no restore of a real server takes under a second
    try:
        proc = box.run("drill", "--out", str(box.root / "strict"))
    finally:
        box.targets("    vault: {rpo: 26h, rto: 15m}")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "MISSED: rto" in proc.stdout
    data = json.loads(next((box.root / "strict").glob("*.json")).read_text())
    assert data["missed"] == ["vault: rto"]


def test_elasticsearch_and_velero_are_drilled_through_their_apis(box, tmp_path):
    es = FakeElasticsearch(bootstrap_password=ES_PASSWORD)
    url = es.start(tmp_path / "tls")
    es.repositories["s3-backups"] = {"type": "s3", "settings": {"bucket": "es-snapshots"}}
    es.indices["logs-2026.01.01"] = {"docs": 77, "open": True}
    old = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        assert box.run("backup", "elasticsearch", "--es-url", url, "--es-ca", str(es.ca_file), "-y").returncode == 0
        with FakeKubeApiServer(tokens={TOKEN: "admin"}) as kube:
            from homelab.engines.kubernetes.client import KubeClient
            from homelab.engines.kubernetes.kubeconfig import load_kubeconfig
            from homelab.secrets import Redactor

            kubeconfig = tmp_path / "kubeconfig"
            kubeconfig.write_text(json.dumps({
                "apiVersion": "v1", "kind": "Config", "current-context": "lab",
                "clusters": [{"name": "lab", "cluster": {"server": kube.url}}],
                "users": [{"name": "admin", "user": {"token": TOKEN}}],
                "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": "admin"}}]}))
            client = KubeClient(load_kubeconfig(kubeconfig), redactor=Redactor())
            client.apply(velero_crds.crd("Backup"))
            client.invalidate()
            client.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "velero"}})
            client.apply({"apiVersion": "velero.io/v1", "kind": "Backup",
                          "metadata": {"name": "daily-apps-old", "namespace": "velero"},
                          "spec": {"includedNamespaces": ["media"]}})
            kube.set_status("velero.io/v1", "Backup", "daily-apps-old", "velero",
                            {"phase": "Completed", "completionTimestamp": old}, manager="velero-server")
            time.sleep(0.1)
            proc = box.run("drill", "--es-url", url, "--es-ca", str(es.ca_file), "--kubeconfig", str(kubeconfig),
                           "--out", str(tmp_path / "full"), "--format", "json")
    finally:
        es.stop()
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the Velero backup is 3 days old: RPO 26h missed
    data = json.loads(proc.stdout)
    kinds = {k["kind"]: k for k in data["kinds"]}
    assert kinds["elasticsearch"]["status"] == "ok" and kinds["elasticsearch"]["facts"]["documents"] == 77
    assert kinds["elasticsearch"]["rto_seconds"] is not None and kinds["elasticsearch"]["missed"] == []
    assert kinds["apps"]["missed"] == ["rpo"] and kinds["apps"]["rpo_seconds"] > 2 * 86400
    assert data["missed"] == ["apps: rpo"]
    restores = [(m, p, b) for m, p, b in es.requests if p.endswith("/_restore")]
    assert len(restores) == 1 and restores[0][2]["rename_replacement"].startswith("drill-")
    assert restores[0][2]["indices"] == "logs-2026.01.01" and restores[0][2]["include_global_state"] is False
    assert not [i for i in es.indices if i.startswith("drill-")]  # the temporary index is deleted again


def test_backup_all_runs_what_it_can_reach_and_says_what_it_cannot(box, tmp_path):
    es = FakeElasticsearch(bootstrap_password=ES_PASSWORD)
    url = es.start(tmp_path / "tls")
    es.repositories["s3-backups"] = {"type": "s3", "settings": {"bucket": "es-snapshots"}}
    es.indices["logs-2026.01.02"] = {"docs": 5, "open": True}
    try:
        proc = box.run("backup", "all", "--no-offsite", "--es-url", url, "--es-ca", str(es.ca_file), "-y")
    finally:
        es.stop()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "will back up  vault: raft snapshot" in proc.stderr and "will back up  elasticsearch: snapshot" in proc.stderr
    assert "not run       apps: no Kubernetes connection" in proc.stderr
    manifest = Path(proc.stdout.strip().splitlines()[-1].removeprefix("manifest: "))
    run = json.loads(manifest.read_text())
    assert [b["kind"] for b in run["backups"]] == ["vault", "elasticsearch"]
    assert run["not_run"] == {"apps": "no Kubernetes connection (pass --kubeconfig or set gitops.argocd.kubeconfig)"}
    assert run["backups"][0]["size"] > 0 and len(run["backups"][0]["sha256"]) == 64


def test_no_secret_in_any_output_or_report(box):
    keys = json.loads((box.state / "vault" / "init-keys.json").read_text())
    secrets = set(keys["keys"] + keys["keys_base64"] + [keys["root_token"], "plex-claim-secret-1",
                                                         "plex-claim-secret-2", ES_PASSWORD])
    reports = [p.read_text() for p in box.root.rglob("drills/*") if p.is_file()]
    reports += [p.read_text() for p in box.root.glob("*/*.json")]
    for text in box.outputs + reports:
        for s in secrets:
            assert s not in text
