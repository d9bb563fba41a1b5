"""Pure parts of the kubernetes engine: kubeconfig reading, manifest loading and order, ArgoCD facts."""

from __future__ import annotations

import base64
import json
import os

import pytest

from homelab.engines.kubernetes.argocd_status import application_facts
from homelab.engines.kubernetes.client import ResourceInfo
from homelab.engines.kubernetes.kubeconfig import load_kubeconfig
from homelab.engines.kubernetes.manifests import apply_order, load_manifests
from homelab.errors import EngineError


def _cfg(tmp_path, user, cluster=None, name="kubeconfig"):
    cfg = {"current-context": "lab",
           "contexts": [{"name": "lab", "context": {"cluster": "c", "user": "u"}},
                        {"name": "other", "context": {"cluster": "c2", "user": "u"}}],
           "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443/", **(cluster or {})}},
                        {"name": "c2", "cluster": {"server": "https://127.0.0.2:6443"}}],
           "users": [{"name": "u", "user": user}]}
    path = tmp_path / name
    path.write_text(json.dumps(cfg))
    return path


def test_kubeconfig_token_file_relative_paths_and_context(tmp_path):
    (tmp_path / "tok").write_text("from-file-token-abc\n")
    path = _cfg(tmp_path, {"tokenFile": "tok", "client-certificate": "certs/c.pem", "client-key": "certs/k.pem"},
                {"certificate-authority": "ca.pem", "insecure-skip-tls-verify": True})
    access = load_kubeconfig(path)
    assert access.server == "https://127.0.0.1:6443"  # the current context's cluster
    assert access.token.reveal() == "from-file-token-abc" and repr(access.token) == "<sensitive>"
    assert access.ca_file == str(tmp_path / "ca.pem") and access.insecure is True
    assert access.cert_file == str(tmp_path / "certs" / "c.pem") and access.key_file == str(tmp_path / "certs" / "k.pem")
    assert load_kubeconfig(path, "other").server == "https://127.0.0.2:6443"


def test_kubeconfig_inline_data_is_decoded_and_key_masked(tmp_path):
    pem = "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n"
    path = _cfg(tmp_path, {"client-certificate-data": base64.b64encode(b"CERT").decode(),
                           "client-key-data": base64.b64encode(pem.encode()).decode()},
                {"certificate-authority-data": base64.b64encode(b"CA PEM").decode()})
    access = load_kubeconfig(path)
    assert access.ca_data == "CA PEM" and access.cert_pem == "CERT"
    assert access.key_pem.reveal() == pem and "PRIVATE" not in repr(access)


def test_kubeconfig_bad_data_is_a_clear_error(tmp_path):
    with pytest.raises(EngineError, match="certificate-authority-data is not valid base64"):
        load_kubeconfig(_cfg(tmp_path, {}, {"certificate-authority-data": "%%%not base64"}))
    p = tmp_path / "garbage"
    p.write_text("{{{{ not yaml")
    with pytest.raises(EngineError, match="cannot be read"):
        load_kubeconfig(p)
    p.write_text(json.dumps({"contexts": []}))
    with pytest.raises(EngineError, match="no current-context"):
        load_kubeconfig(p)


def test_manifests_skip_values_files_and_expand_lists(tmp_path):
    (tmp_path / "a.yaml").write_text(
        "server:\n  replicas: 2\n---\n"
        "apiVersion: v1\nkind: List\nitems:\n"
        "- {apiVersion: v1, kind: ConfigMap, metadata: {name: one, namespace: x}}\n"
        "- {apiVersion: v1, kind: Namespace, metadata: {name: x}}\n"
        "---\n---\napiVersion: v1\nkind: Secret\nmetadata: {}\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.yml").write_text("apiVersion: argoproj.io/v1alpha1\nkind: Application\n"
                                            "metadata: {name: app, namespace: argocd}\n")
    (tmp_path / "notes.txt").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ignored}\n")
    objs = load_manifests([tmp_path])
    assert [(o["kind"], o["metadata"]["name"]) for o in objs] == [
        ("ConfigMap", "one"), ("Namespace", "x"), ("Application", "app")]
    ordered = apply_order(objs + [{"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
                                   "metadata": {"name": "p"}},
                                  {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                                   "metadata": {"name": "c"}}])
    assert [o["kind"] for o in ordered] == ["Namespace", "CustomResourceDefinition", "ConfigMap", "AppProject",
                                            "Application"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [unclosed\n")
    with pytest.raises(EngineError, match="not valid YAML"):
        load_manifests([bad])


def test_resource_urls():
    cm = ResourceInfo("", "v1", "ConfigMap", "configmaps", True)
    assert cm.url("c", "default") == "/api/v1/namespaces/default/configmaps/c"
    app = ResourceInfo("argoproj.io", "v1alpha1", "Application", "applications", True)
    assert app.url("sonarr", "argocd") == "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/sonarr"
    sc = ResourceInfo("storage.k8s.io", "v1", "StorageClass", "storageclasses", False)
    assert sc.url("fast", "ignored") == "/apis/storage.k8s.io/v1/storageclasses/fast"
    assert ResourceInfo("", "v1", "Namespace", "namespaces", False).url("media") == "/api/v1/namespaces/media"


def test_application_facts():
    app = {"spec": {"destination": {"namespace": "llm"}},
           "status": {"sync": {"status": "Synced", "revisions": ["1.2.3", "abc123"]},
                      "health": {"status": "Degraded"}, "operationState": {"phase": "Failed"}}}
    # a multi-source Application: ArgoCD reports one revision per source, all of them are facts
    assert application_facts(app) == {"sync": "Synced", "health": "Degraded", "revisions": ["1.2.3", "abc123"],
                                      "namespace": "llm", "operation": "Failed"}
    single = {"status": {"sync": {"status": "OutOfSync", "revision": "9f86d08"}}}
    assert application_facts(single) == {"sync": "OutOfSync", "health": "Unknown", "revision": "9f86d08"}
    assert application_facts({}) == {"sync": "Unknown", "health": "Unknown"}
    going = {"metadata": {"deletionTimestamp": "2026-01-02T03:04:05Z",
                          "finalizers": ["resources-finalizer.argocd.argoproj.io"]}, **app}
    assert application_facts(going)["deleting"] == "2026-01-02T03:04:05Z"
    assert application_facts(going)["finalizers"] == ["resources-finalizer.argocd.argoproj.io"]


def test_temp_key_files_are_private(tmp_path, monkeypatch):
    from homelab.engines.kubernetes import client
    from homelab.engines.kubernetes.kubeconfig import ClusterAccess
    from homelab.secrets import Redactor, Secret

    seen = []
    real = client._temp_file

    def spy(content, temps):
        path = real(content, temps)
        seen.append((path, os.stat(path).st_mode & 0o777))
        return path

    monkeypatch.setattr(client, "_temp_file", spy)
    access = ClusterAccess(server="https://127.0.0.1:1", cert_pem="not a cert", key_pem=Secret("not a key"))
    with pytest.raises(EngineError, match="client certificate/key cannot be loaded"):
        client.KubeClient(access, redactor=Redactor())
    assert [mode for _, mode in seen] == [0o600, 0o600]
    assert not any(os.path.exists(p) for p, _ in seen)
