"""external-secrets-policy-missing on variations of the reference lab (its ExternalSecrets read apps/*,
storage/truenas and backup/velero; its `external-secrets` user is the store's least-privilege identity)."""

from __future__ import annotations

import io

from ruamel.yaml import YAML

from homelab.checks import run_checks
from homelab.lab.load import load_text

RULE = "external-secrets-policy-missing"


def lab_with(reference_path, mutate) -> list:
    yaml = YAML(typ="safe")
    data = yaml.load(reference_path.read_text())
    mutate(data)
    buf = io.StringIO()
    YAML(typ="safe").dump(data, buf)
    doc = load_text(buf.getvalue(), "homelab.yaml")
    return [(d.severity.value, d.message, d.hint) for d in run_checks(doc) if d.rule == RULE]


def drop_user(data):
    data["vault"]["users"] = [u for u in data["vault"]["users"] if u["name"] != "external-secrets"]


def test_the_reference_lab_has_its_identity(reference_path):
    assert lab_with(reference_path, lambda d: None) == []


def test_only_over_broad_users_left_is_a_warning_naming_why(reference_path):
    found = lab_with(reference_path, drop_user)
    assert len(found) == 1
    severity, message, hint = found[0]
    assert severity == "warning"
    assert "only over-broad Vault users" in message
    assert "admin: policy admin grants create, delete, patch, sudo, update on path *" in message
    # ansible may also write the Elastic service tokens it creates (issue 11, item 6)
    assert "update on secrets elastic/fleet; reads elastic/cluster, elastic/fleet, elastic/kibana, elastic/kibana-encryption, ..." in message
    assert "apps/plex" in message and "backup/velero" in message and "storage/truenas" in message
    assert "name: external-secrets" in hint


def test_a_policy_missing_one_path_is_an_error(reference_path):
    def narrow(data):
        drop_user(data)
        data["vault"]["users"] = [u for u in data["vault"]["users"] if u["name"] not in ("ansible", "admin")]
        data["vault"]["users"].append({"name": "eso", "policies": ["external-secrets"]})
        data["vault"]["policies"]["external-secrets"]["rules"] = [
            r for r in data["vault"]["policies"]["external-secrets"]["rules"] if r["secrets"] != "backup/velero"]
    found = lab_with(reference_path, narrow)
    assert [(s, m) for s, m, _ in found] == [(
        "error", "no Vault user can read every path the ExternalSecrets use: apps/copyparty, apps/grafana, "
                 "apps/paperless, apps/pihole, apps/plex, backup/velero, storage/truenas "
                 "(closest: user eso cannot read backup/velero)")]


def test_a_deny_in_another_policy_of_the_user_wins(reference_path):
    def deny(data):
        data["vault"]["policies"]["no-plex"] = {"rules": [{"secrets": "apps/plex", "capabilities": ["deny"]}]}
        for u in data["vault"]["users"]:
            if u["name"] == "external-secrets":
                u["policies"].append("no-plex")
    found = lab_with(reference_path, deny)
    assert len(found) == 1 and found[0][0] == "warning"  # ansible/admin still read plex: only over-broad


def test_a_writing_policy_does_not_qualify(reference_path):
    def writes(data):
        data["vault"]["policies"]["external-secrets"]["rules"][0]["capabilities"] = ["read", "update"]
    found = lab_with(reference_path, writes)
    assert len(found) == 1 and "external-secrets: policy external-secrets grants update on secrets apps/*" \
        in found[0][1]


def test_nothing_to_check_when_external_secrets_is_off(reference_path):
    def off(data):
        drop_user(data)
        data["platform"]["external_secrets"]["enabled"] = False
    assert lab_with(reference_path, off) == []
