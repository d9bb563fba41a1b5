"""`homelab secrets scan|purge` on a planted corpus: secrets made up at test time (never committed to this
repository) are planted in a git repository's working tree and in its history (committed, then deleted),
beside decoys that look like secrets but are not (digests, Vault paths, Terraform references, templates).
Recall must be 1.0 and false positives 0; purge removes every planted secret from history, keeps a backup
ref, and a new scan finds none. The rendered reference repository scans clean."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from homelab.scan.scanner import scan

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from secrets_corpus import DECOYS, make_repo  # noqa: E402


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def corpus(tmp_path):
    repo = tmp_path / "repo"
    plants, in_history, in_tree = make_repo(repo)
    assert (repo / "decoys.yaml").read_text() == DECOYS
    return repo, plants, in_history, in_tree


def test_recall_is_complete_and_no_decoy_is_reported(corpus):
    repo, plants, in_history, in_tree = corpus
    found = scan(repo)
    history = {(f.file, f.rule) for f in found if f.commit}
    tree = {(f.file, f.rule) for f in found if f.commit is None}
    expected_rules = {plants[n][0] for n in plants}
    hit = {n for n in in_history if ("old.env", plants[n][0]) in history} | \
          {n for n in in_tree if ("config.env", plants[n][0]) in tree}
    recall = len(hit) / len(plants)
    false_positives = [f for f in found if f.file == "decoys.yaml"]
    print(f"planted {len(plants)} secrets of {len(expected_rules)} kinds: recall {recall:.2f}, "
          f"false positives {len(false_positives)}")
    assert recall == 1.0, sorted(set(plants) - hit)
    assert false_positives == [], [(f.file, f.line, f.rule) for f in false_positives]


def test_findings_never_carry_the_secret_in_what_is_printed(corpus):
    repo, plants, *_ = corpus
    out = subprocess.run([sys.executable, "-m", "homelab", "secrets", "scan", str(repo), "--format", "json"],
                         capture_output=True, text=True)
    assert out.returncode == 1
    data = json.loads(out.stdout)
    assert {f["rule"] for f in data["findings"]} >= {"vault-token", "k3s-token", "proxmox-token-secret"}
    text = subprocess.run([sys.executable, "-m", "homelab", "secrets", "scan", str(repo)],
                          capture_output=True, text=True)
    for _, line in plants.values():
        secret = line.split("=", 1)[-1].split(": ", 1)[-1].strip('"')
        if len(secret) > 12:
            assert secret not in out.stdout + text.stdout + text.stderr


def test_purge_rewrites_history_keeps_a_backup_and_a_new_scan_is_clean(corpus):
    repo, plants, in_history, _ = corpus
    ids = sorted({f.id for f in scan(repo) if f.commit and f.file == "old.env"})
    assert len(ids) >= len(in_history)  # a line can carry two (PVEAPIToken=user!name=<uuid>: the token and the assignment)
    out = subprocess.run([sys.executable, "-m", "homelab", "secrets", "purge", "--repo", str(repo), "-y",
                          *[a for i in ids for a in ("--finding", i)]], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "ROTATE" in out.stdout and "refs/homelab-backup/" in out.stdout
    after = scan(repo)
    assert not [f for f in after if f.id in ids]
    backups = git(repo, "for-each-ref", "--format=%(refname)", "refs/homelab-backup/").split()
    assert backups and backups[0].endswith("/heads/main")
    old = git(repo, "log", "-p", backups[0])
    assert "hvs." in old or "K10" in old  # the backup still has the old history until the user deletes it
    assert "***REMOVED***" in git(repo, "log", "-p", "main")


def test_the_rendered_reference_repository_scans_clean():
    found = scan(ROOT / "examples" / "reference" / "rendered", history=False)
    assert [(f.file, f.line, f.rule) for f in found] == []


def test_exit_codes_and_sarif(corpus, tmp_path):
    repo, *_ = corpus
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "a.txt").write_text("nothing here\n")
    assert subprocess.run([sys.executable, "-m", "homelab", "secrets", "scan", str(clean)]).returncode == 0
    out = subprocess.run([sys.executable, "-m", "homelab", "secrets", "scan", str(repo), "--format", "sarif"],
                         capture_output=True, text=True)
    assert out.returncode == 1
    import jsonschema

    schema = json.loads((ROOT / "tests" / "fixtures" / "sarif" / "sarif-schema-2.1.0.json").read_text())
    jsonschema.Draft4Validator(schema).validate(json.loads(out.stdout))
    assert subprocess.run([sys.executable, "-m", "homelab", "secrets", "scan", str(tmp_path / "nope")],
                          capture_output=True).returncode == 2
