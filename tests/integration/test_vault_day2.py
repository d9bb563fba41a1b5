"""Day-2 Vault commands keep their promises, against a real OpenBao (the reference lab, configured):

* `secrets put PATH` without field names asks for the catalogue's fields (the hint other commands give,
  ``set it with `homelab secrets put infra/proxmox` ``, works as written); values never from argv;
* `vault rotate` says what keeps the old value and must be rolled (K3s token, elastic password, app
  Secrets, the External Secrets login) — and nothing for secrets no service holds;
* exit codes: a missing secret is not an engine failure (1, not 3).
"""

from __future__ import annotations

import json

import pexpect
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.validators]  # a real OpenBao server


@pytest.fixture(scope="module")
def bao(openbao_factory):
    server = openbao_factory("day2")
    proc = server.cli("vault", "configure")
    assert proc.returncode == 0, proc.stderr
    return server


def test_secrets_put_without_fields_reads_the_catalogue_fields_from_stdin(bao):
    proc = bao.cli("secrets", "put", "infra/proxmox", input="terraform@pve!homelab\ntoken-secret-123456\n")
    assert proc.returncode == 0, proc.stderr
    assert "set api_token_id, api_token_secret" in proc.stdout
    assert bao.api().kv_read("infra/proxmox")[0] == {"api_token_id": "terraform@pve!homelab",
                                                     "api_token_secret": "token-secret-123456"}
    assert "token-secret-123456" not in proc.stdout + proc.stderr
    # one line short: nothing is written
    proc = bao.cli("secrets", "put", "infra/proxmox", input="only-one-line\n")
    assert proc.returncode == 2 and "no value for api_token_secret on stdin" in proc.stderr
    assert bao.api().kv_read("infra/proxmox")[1] == 1
    # a path the catalogue does not know still needs field names
    proc = bao.cli("secrets", "put", "apps/unknown", input="x\n")
    assert proc.returncode == 2 and "not in the secret catalogue" in proc.stderr
    assert "homelab secrets put apps/unknown FIELD" in proc.stderr


def test_secrets_put_without_fields_prompts_on_a_terminal(bao):
    import sys

    child = pexpect.spawn(sys.executable, ["-m", "homelab", "secrets", "put", "storage/truenas", "--lab",
                                           str(_lab())], env=bao.env(), cwd=str(bao.cwd),
                          encoding="utf-8", timeout=60)
    child.expect("api_key")  # the catalogue's only field, asked with a hidden prompt
    child.sendline("truenas-key-abcdef")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    assert "truenas-key-abcdef" not in child.before  # not echoed
    assert bao.api().kv_read("storage/truenas")[0] == {"api_key": "truenas-key-abcdef"}


def _lab():
    from pathlib import Path

    return Path(__file__).resolve().parents[2] / "examples" / "reference" / "homelab.yaml"


def test_missing_secret_is_not_an_engine_failure(bao):
    proc = bao.cli("secrets", "get", "apps/nothere")
    assert proc.returncode == 1, proc.stderr
    assert "no secret at secret/apps/nothere" in proc.stderr and "homelab secrets list" in proc.stderr
    proc = bao.cli("secrets", "get", "apps/grafana", "--version", "99")
    assert proc.returncode == 1 and "version 99" in proc.stderr


def test_rotate_says_what_must_be_rolled(bao):
    out = json.loads(bao.cli("vault", "rotate", "k3s/cluster", "elastic/cluster", "apps/pihole", "apps/grafana",
                             "automation/external-secrets", "automation/terraform", "--format", "json").stdout)
    roll = {r["path"]: r["roll"] for r in out["rotations"]}
    assert "k3s token rotate --token" in roll["k3s/cluster"][0]["then"]
    assert "/_security/user/elastic/_password" in roll["elastic/cluster"][0]["then"]
    assert [r["who"] for r in roll["apps/pihole"]] == [
        "app home-automation/pihole: reads it from Secret home-automation/pihole-secrets when it starts"]
    assert "force-sync" in roll["apps/pihole"][0]["then"] and "rollout restart" in roll["apps/pihole"][0]["then"]
    assert "vault-userpass" in roll["automation/external-secrets"][0]["then"]
    assert roll["apps/grafana"] == [] and roll["automation/terraform"] == []  # nobody keeps a copy
    proc = bao.cli("vault", "rotate", "k3s/cluster", "apps/grafana")
    assert proc.returncode == 0, proc.stderr
    assert "rotated secret/k3s/cluster (generated): version 2 -> 3\n  must be rolled: the K3s cluster" in proc.stdout
    assert "rotated secret/apps/grafana (generated): version 2 -> 3\nrotated secret/k3s" in proc.stdout  # no roll
    assert proc.stdout.endswith("token in Vault is refused\n2 secret(s) rotated\n")
    assert "1 of them held by running services (k3s/cluster)" in proc.stderr
    dry = bao.cli("vault", "rotate", "--dry-run", "elastic/cluster")
    assert "would rotate" in dry.stdout and "must be rolled: Elasticsearch" in dry.stdout
