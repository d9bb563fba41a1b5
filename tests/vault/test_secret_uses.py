"""What `vault rotate` says must be rolled, per lab (lab/secret_uses.py): only what the lab really runs."""

from __future__ import annotations

import json

from homelab.lab.load import load_text
from homelab.lab.secret_uses import rolls_for


def _starter():
    from importlib import resources

    return load_text(resources.files("homelab.lab.templates").joinpath("homelab.yaml").read_text(), "homelab.yaml")


def test_reference_lab(reference_doc):
    lab = reference_doc.lab
    (k3s,) = rolls_for(lab, "k3s/cluster")
    assert "k3s token rotate --token <previous version> --new-token <new version>" in k3s.then
    (es,) = rolls_for(lab, "elastic/cluster")
    assert "POST /_security/user/elastic/_password" in es.then
    (pihole,) = rolls_for(lab, "/apps/pihole/")
    assert pihole.who.startswith("app home-automation/pihole")
    assert rolls_for(lab, "apps/grafana") == []  # in the catalogue, used by no app
    assert rolls_for(lab, "automation/ansible") == []  # homelab logs in with it on every run
    (store,) = rolls_for(lab, "automation/external-secrets")
    assert "external-secrets create secret generic vault-userpass --from-file=password=/dev/stdin" in store.then


def test_a_lab_without_elasticsearch_or_external_secrets():
    doc = _starter()
    assert doc.lab.clusters.elasticsearch is None
    assert rolls_for(doc.lab, "elastic/cluster") == []
    (mealie,) = rolls_for(doc.lab, "apps/mealie")
    assert "created out of band (External Secrets is not deployed)" in mealie.then
    assert "force-sync" not in mealie.then
    assert rolls_for(doc.lab, "automation/apps") == []  # no ClusterSecretStore logs in as anyone
    assert len(rolls_for(doc.lab, "k3s/cluster")) == 1
    json.dumps([r.to_json() for r in rolls_for(doc.lab, "apps/mealie")])
