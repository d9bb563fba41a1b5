"""`homelab secrets scan|purge` on a planted corpus: secrets made up at test time (never committed to this
repository) are planted in a git repository's working tree and in its history (committed, then deleted),
beside decoys that look like secrets but are not (digests, Vault paths, Terraform references, templates).
Recall must be 1.0 and false positives 0; purge removes every planted secret from history, keeps a backup
ref, and a new scan finds none. The rendered reference repository scans clean."""

from __future__ import annotations

import json
import random
import string
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from homelab.scan.scanner import scan

ROOT = Path(__file__).resolve().parents[2]


_SEED = [0]


def rnd(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    """Made-up secret material: deterministic, and never written into this repository."""
    _SEED[0] += 1
    r = random.Random(1000 + _SEED[0])
    return "".join(r.choice(alphabet) for _ in range(n))


def planted() -> dict[str, tuple[str, str]]:
    """name -> (rule, the line that carries the secret); the secret is the value after the marker."""
    hexd = "0123456789abcdef"
    k3s_pw = rnd(32, hexd)
    pem = "-----BEGIN OPENSSH PRIVATE KEY-----"
    return {
        "vault-service": ("vault-token", f"export VAULT_TOKEN=hvs.{rnd(91)}"),
        "vault-batch": ("vault-token", f"token: hvb.{rnd(120)}"),
        "vault-legacy": ("vault-token-legacy", f"vault_token = \"s.{rnd(24)}\""),
        "k3s": ("k3s-token", f"token: K10{rnd(64, hexd)}::server:{k3s_pw}"),
        "proxmox-header": ("proxmox-token-secret", f"Authorization: PVEAPIToken=terraform@pve!tf={uuid.UUID(int=random.Random(7).getrandbits(128))}"),
        "proxmox-assign": ("proxmox-token-secret", f"pm_api_token_secret = \"{uuid.UUID(int=random.Random(8).getrandbits(128))}\""),
        "private-key": ("private-key", pem),
        "aws-id": ("aws-access-key", f"aws_access_key_id = AKIA{rnd(16, string.ascii_uppercase + string.digits)}"),
        "aws-secret": ("aws-secret-key", f"aws_secret_access_key = {rnd(40)}"),
        "github": ("github-token", f"GITHUB_TOKEN=ghp_{rnd(36)}"),
        "password-yaml": ("password-assignment", f"admin_password: {rnd(8)}#{rnd(8)}!{rnd(4)}"),
        "password-env": ("password-assignment", f"DB_PASSWORD=\"{rnd(20)}\""),
    }


DECOYS = """\
image: ghcr.io/paperless-ngx/paperless-ngx@sha256:0f3c5d0b1f4c2e8a9b7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b
commit: 4ceb7cd9a5e1f0b2c3d4e5f60718293a4b5c6d7e
password: apps/paperless#admin_password
token_secret: {path: infra/proxmox, field: api_token_secret}
pm_api_token_secret = data.vault_kv_secret_v2.infra_proxmox.data["api_token_secret"]
password = var.vault_password
password: "{{ lookup('community.hashi_vault.vault_kv2_get', 'apps/plex').secret.claim_token }}"
secretKeyRef: {name: plex-secrets, key: claim_token}
api_key: storage/truenas#api_key
password: changeme
secret_key: ${PAPERLESS_SECRET_KEY}
token: <your-token-here>
ansible_become_password: "{{ vault_become_password }}"
client_secret_name: external-secrets
password_file: /run/secrets/vault-password
secret: secret/data/apps/*
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def corpus(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "t@example.org")
    git(repo, "config", "user.name", "t")
    plants = planted()
    names = sorted(plants)
    in_history = names[::2]  # committed, then deleted: only the history has them
    in_tree = names[1::2]
    (repo / "decoys.yaml").write_text(DECOYS)
    (repo / "old.env").write_text("".join(plants[n][1] + "\n" for n in in_history))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "first")
    (repo / "old.env").unlink()
    (repo / "config.env").write_text("# settings\n" + "".join(plants[n][1] + "\n" for n in in_tree))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "second")
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
