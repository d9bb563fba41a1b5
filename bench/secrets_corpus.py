"""A planted secret corpus (made up deterministically at run time, never committed) and decoys that look
like secrets but are not — used by tests/scan/test_scan.py (recall/false positives of `homelab secrets
scan`) and by bench/validate.py (the same measured for detect-secrets)."""

from __future__ import annotations

import random
import string
import subprocess
import uuid
from pathlib import Path

_SEED = [0]


def rnd(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    _SEED[0] += 1
    r = random.Random(1000 + _SEED[0])
    return "".join(r.choice(alphabet) for _ in range(n))


def planted() -> dict[str, tuple[str, str]]:
    """name -> (homelab rule, the line that carries the secret)."""
    _SEED[0] = 0
    hexd = "0123456789abcdef"
    return {
        "vault-service": ("vault-token", f"export VAULT_TOKEN=hvs.{rnd(91)}"),
        "vault-batch": ("vault-token", f"token: hvb.{rnd(120)}"),
        "vault-legacy": ("vault-token-legacy", f"vault_token = \"s.{rnd(24)}\""),
        "k3s": ("k3s-token", f"token: K10{rnd(64, hexd)}::server:{rnd(32, hexd)}"),
        "proxmox-header": ("proxmox-token-secret",
                           f"Authorization: PVEAPIToken=terraform@pve!tf={uuid.UUID(int=random.Random(7).getrandbits(128))}"),
        "proxmox-assign": ("proxmox-token-secret",
                           f"pm_api_token_secret = \"{uuid.UUID(int=random.Random(8).getrandbits(128))}\""),
        "private-key": ("private-key", "-----BEGIN OPENSSH PRIVATE KEY-----"),
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


def make_repo(repo: Path) -> tuple[dict, list[str], list[str]]:
    """A git repository: half of the planted secrets only in history (committed, then deleted), half in
    the working tree, and the decoys. Returns (planted, names in history, names in the tree)."""
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "t@example.org")
    git(repo, "config", "user.name", "t")
    plants = planted()
    names = sorted(plants)
    in_history, in_tree = names[::2], names[1::2]
    (repo / "decoys.yaml").write_text(DECOYS)
    (repo / "old.env").write_text("".join(plants[n][1] + "\n" for n in in_history))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "first")
    (repo / "old.env").unlink()
    (repo / "config.env").write_text("# settings\n" + "".join(plants[n][1] + "\n" for n in in_tree))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "second")
    return plants, in_history, in_tree
