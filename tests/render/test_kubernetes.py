"""Kubernetes manifests and Helm values rendered from the reference lab, checked by real validators
(kubernetes-validate strict, yamllint) and against the seed (`shared/seed/tech-stack.md`) and the chart
facts (`shared/reference/platform-facts.md` §3, §5, §6). Expected values are written out from those
documents, not read back from the renderer."""

from __future__ import annotations

import io
import os
import re

import pytest

from homelab.lab.load import load_text
from homelab.render import argocd, kubernetes
from homelab.render.base import header

# The reference lab runs K3s v1.33.4+k3s1; kubernetes-validate bundles strict schemas for it.
K8S_VERSION = "1.33.0"

SEED_NAMESPACES = {"argocd", "prometheus", "elastic-stack", "llm", "media", "home-automation"}
GPU_APPS = ("ollama", "text-generation-webui")


# ------------------------------------------------------------------------------------------ helpers


def _safe_yaml():
    from ruamel.yaml import YAML

    return YAML(typ="safe")


def render_lab(doc) -> dict[str, str]:
    files = list(kubernetes.render(doc)) + list(argocd.render(doc))
    paths = [f.path for f in files]
    assert len(paths) == len(set(paths)), "two files with the same path"
    return {f.path: f.content for f in files}


_PARSED: dict[int, tuple[dict, list]] = {}


def documents(tree: dict[str, str]) -> list[tuple[str, object]]:
    cached = _PARSED.get(id(tree))
    if cached and cached[0] is tree:
        return cached[1]
    out = []
    for path, text in sorted(tree.items()):
        for data in _safe_yaml().load_all(text):
            out.append((path, data))
    _PARSED[id(tree)] = (tree, out)
    return out


def objects(tree, kind: str | None = None) -> list[dict]:
    return [d for _, d in documents(tree)
            if isinstance(d, dict) and "kind" in d and (kind is None or d["kind"] == kind)]


def load_values(tree, path: str) -> dict:
    return _safe_yaml().load(tree[path])


def lab_text(reference_path, mutate=None) -> str:
    """The reference lab as plain data, optionally changed, back as YAML text."""
    data = _safe_yaml().load(reference_path.read_text())
    if mutate:
        mutate(data)
    buf = io.StringIO()
    _safe_yaml().dump(data, buf)
    return buf.getvalue()


def tolerates(toleration: dict, taint: str) -> bool:
    """Kubernetes' toleration/taint matching (core/v1 Toleration.ToleratesTaint)."""
    key_value, _, effect = taint.rpartition(":")
    key, _, value = key_value.partition("=")
    if toleration.get("effect") and toleration["effect"] != effect:
        return False
    if toleration.get("key") and toleration["key"] != key:
        return False
    op = toleration.get("operator", "Equal")
    if op == "Exists":
        return True
    return op == "Equal" and toleration.get("value", "") == value


@pytest.fixture(scope="module")
def tree(reference_doc):
    return render_lab(reference_doc)


@pytest.fixture(scope="module")
def lab(reference_doc):
    return reference_doc.lab


# ------------------------------------------------------------------------------------- every file


def test_every_file_starts_with_the_generated_header(tree):
    assert len(tree) > 40
    for path, text in tree.items():
        assert text.startswith(header("#")), path
        assert text.endswith("\n") and not text.endswith("\n\n"), path
        assert "\r" not in text, path


@pytest.mark.validators
def test_yamllint_is_clean_with_relaxed_line_length(tree):
    from yamllint import linter
    from yamllint.config import YamlLintConfig

    conf = YamlLintConfig("extends: default\nrules:\n  line-length: {max: 160, level: warning}\n")
    errors = [(path, str(p)) for path, text in tree.items() for p in linter.run(text, conf)
              if p.level == "error"]
    assert errors == []


@pytest.mark.validators
def test_yamllint_config_used_above_does_catch_errors():
    from yamllint import linter
    from yamllint.config import YamlLintConfig

    conf = YamlLintConfig("extends: default\nrules:\n  line-length: {max: 160, level: warning}\n")
    bad = "---\nkey: value\nkey: other\n"
    assert [p for p in linter.run(bad, conf) if p.level == "error"]


def test_rendering_is_deterministic(reference_doc, tree):
    assert render_lab(reference_doc) == tree


def test_reordered_input_lists_give_identical_bytes(reference_path, tree):
    def shuffle(data):
        data["apps"].reverse()
        data["namespaces"].reverse()
        data["storage"]["classes"].reverse()
        data["backup"]["velero"]["schedules"].reverse()

    assert render_lab(load_text(lab_text(reference_path, shuffle))) == tree


# ------------------------------------------------------------------- built-in objects, strict schema


def _is_builtin(obj: dict) -> bool:
    group = obj["apiVersion"].rpartition("/")[0]
    return group == "" or group.endswith(".k8s.io") or group in ("apps", "batch", "policy", "autoscaling")


def test_pinned_kubernetes_version_is_bundled_and_matches_the_lab(lab):
    import kubernetes_validate.utils as kv

    assert K8S_VERSION in kv.all_versions()
    assert lab.clusters.k3s.version.startswith("v" + K8S_VERSION.rsplit(".", 1)[0] + ".")


@pytest.mark.validators
def test_builtin_objects_pass_kubernetes_validate_strict(tree):
    import kubernetes_validate

    builtin = [o for o in objects(tree) if _is_builtin(o)]
    kinds = {o["kind"] for o in builtin}
    assert "Namespace" in kinds
    for obj in builtin:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


@pytest.mark.validators
def test_strict_validation_rejects_a_misspelt_field():
    import kubernetes_validate

    bad = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x", "lables": {}}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)


def _chart_storage_classes(values: dict) -> list[dict]:
    """What democratic-csi's templates/storage-classes.yaml makes of `storageClasses[]` (facts §5)."""
    out = []
    for sc in values["storageClasses"]:
        meta: dict = {"name": sc["name"]}
        if sc.get("defaultClass"):
            meta["annotations"] = {"storageclass.kubernetes.io/is-default-class": "true"}
        obj = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": meta,
               "provisioner": values["csiDriver"]["name"], "reclaimPolicy": sc["reclaimPolicy"],
               "allowVolumeExpansion": sc["allowVolumeExpansion"], "volumeBindingMode": sc["volumeBindingMode"],
               "parameters": {k: str(v) for k, v in sc["parameters"].items()}}
        if sc.get("mountOptions"):
            obj["mountOptions"] = sc["mountOptions"]
        out.append(obj)
    return out


@pytest.mark.validators
def test_storage_classes_from_democratic_csi_values_are_valid_kubernetes(tree):
    import kubernetes_validate

    classes = []
    for protocol in ("iscsi", "nfs"):
        classes += _chart_storage_classes(load_values(tree, f"k8s/values/platform/democratic-csi-{protocol}.yaml"))
    for sc in classes:
        kubernetes_validate.validate(sc, K8S_VERSION, strict=True)
    assert {sc["metadata"]["name"] for sc in classes} == {"freenas-iscsi-csi", "freenas-nfs-csi"}


def _gpu_pod_specs(tree) -> dict[str, dict]:
    """The pod specs of the GPU apps' Deployments, as the real charts (ollama 1.77.0, app-template 4.1.1)
    template them from the rendered values files."""
    from helm_charts import of_kind, pod_spec, render
    from homelab.lab.models.gitops import Chart

    charts = {"ollama": Chart(repo="https://helm.otwld.com/", name="ollama", version="1.77.0"),
              "text-generation-webui": Chart(repo="https://bjw-s-labs.github.io/helm-charts", name="app-template",
                                             version="4.1.1")}
    out = {}
    for app, chart in charts.items():
        deployments = of_kind(render(chart, load_values(tree, f"k8s/values/{app}.yaml"), app, "llm"), "Deployment")
        assert len(deployments) == 1, app
        out[app] = pod_spec(deployments[0])
    return out


@pytest.mark.validators
def test_gpu_scheduling_fields_are_valid_pod_spec(tree):
    import kubernetes_validate

    for name, spec in _gpu_pod_specs(tree).items():
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}
        kubernetes_validate.validate(pod, K8S_VERSION, strict=True)


# ------------------------------------------------------------------------------------------ namespaces


def test_namespaces_cover_seed_lab_apps_and_components(tree, lab):
    names = {o["metadata"]["name"] for o in objects(tree, "Namespace")}
    expected = SEED_NAMESPACES | {"paperless", "mealie", "finance", "files"} | {
        "metallb-system", "traefik", "democratic-csi", "nvidia-device-plugin", "external-secrets", "velero",
        "cert-manager"}
    assert names == expected
    for ns in objects(tree, "Namespace"):
        labels = ns["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "homelab"
        assert labels["homelab/lab"] == "thewortmans"
        assert ns["metadata"]["annotations"]["argocd.argoproj.io/sync-options"] == "Prune=false"
    privileged = {o["metadata"]["name"] for o in objects(tree, "Namespace")
                  if o["metadata"]["labels"].get("pod-security.kubernetes.io/enforce") == "privileged"}
    # CSI node plugin, GPU device plugin, node-exporter, MetalLB speaker, Velero node agent need host access
    assert {"democratic-csi", "nvidia-device-plugin", "prometheus", "metallb-system", "velero"} <= privileged
    assert not privileged & {"media", "llm", "files"}


# ------------------------------------------------------------------------------------------- MetalLB


def test_metallb_pool_and_l2_advertisement(tree):
    pools = {p["metadata"]["name"]: p for p in objects(tree, "IPAddressPool")}
    l2 = objects(tree, "L2Advertisement")
    assert len(pools) == 2 and len(l2) == 1
    adv = l2[0]
    for obj in (*pools.values(), adv):
        assert obj["apiVersion"] == "metallb.io/v1beta1"
        assert obj["metadata"]["namespace"] == "metallb-system"
    # network.pools.metallb is 192.168.10.200-250; Pi-hole's DNS asks for .200 and Traefik for .201: those are
    # handed out only on request (autoAssign false), the rest automatically.
    assert pools["default-pool"]["spec"] == {"addresses": ["192.168.10.202-192.168.10.250"]}
    assert pools["pinned"]["spec"] == {"addresses": ["192.168.10.200/32", "192.168.10.201/32"], "autoAssign": False}
    assert sorted(adv["spec"]["ipAddressPools"]) == ["default-pool", "pinned"]


def test_metallb_crs_sync_after_the_metallb_chart(tree):
    apps = {a["metadata"]["name"]: a for a in objects(tree, "Application")}
    chart_wave = int(apps["metallb"]["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])
    for cr in objects(tree, "IPAddressPool") + objects(tree, "L2Advertisement"):
        ann = cr["metadata"]["annotations"]
        assert int(ann["argocd.argoproj.io/sync-wave"]) > chart_wave
        assert "SkipDryRunOnMissingResource=true" in ann["argocd.argoproj.io/sync-options"]
    # Traefik's LoadBalancer service needs an address from the pool: it comes after the pool.
    pool_wave = int(objects(tree, "IPAddressPool")[0]["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])
    assert int(apps["traefik"]["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]) > pool_wave


@pytest.mark.validators
def test_metallb_schema_requires_addresses(tree):
    """metallb.io_ipaddresspools.yaml: spec required, spec.addresses required (facts §6)."""
    import jsonschema

    schema = {"type": "object", "required": ["spec"],
              "properties": {"spec": {"type": "object", "required": ["addresses"],
                                      "properties": {"addresses": {"type": "array", "items": {"type": "string"}}}}}}
    for pool in objects(tree, "IPAddressPool"):
        jsonschema.validate(pool, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"spec": {}}, schema)


def test_no_metallb_pool_without_a_metallb_range(reference_path):
    tree = render_lab(load_text(lab_text(reference_path, lambda d: d["network"]["pools"].pop("metallb"))))
    assert objects(tree, "IPAddressPool") == []


# ------------------------------------------------------------------------------------------- storage


def test_democratic_csi_storage_classes_and_driver_config_secret(tree):
    iscsi = load_values(tree, "k8s/values/platform/democratic-csi-iscsi.yaml")
    nfs = load_values(tree, "k8s/values/platform/democratic-csi-nfs.yaml")
    assert iscsi["csiDriver"]["name"] == "org.democratic-csi.iscsi"
    assert nfs["csiDriver"]["name"] == "org.democratic-csi.nfs"
    assert [(c["name"], c["defaultClass"]) for c in iscsi["storageClasses"]] == [("freenas-iscsi-csi", True)]
    assert [(c["name"], c["defaultClass"]) for c in nfs["storageClasses"]] == [("freenas-nfs-csi", False)]
    for values, protocol in ((iscsi, "iscsi"), (nfs, "nfs")):
        # driver config comes from a Secret, not from values: no API key, no http/ssh connection here
        assert values["driver"]["existingConfigSecret"] == f"democratic-csi-{protocol}-driver-config"
        assert set(values["driver"]["config"]) == {"driver"}
        assert values["driver"]["config"]["driver"] in (f"freenas-{protocol}", f"freenas-api-{protocol}")


def test_driver_config_external_secrets_reference_vault_and_template_the_key(tree):
    secrets = {o["metadata"]["name"]: o for o in objects(tree, "ExternalSecret")}
    for protocol in ("iscsi", "nfs"):
        es = secrets[f"democratic-csi-{protocol}-driver-config"]
        assert es["metadata"]["namespace"] == "democratic-csi"
        assert es["spec"]["data"] == [{"secretKey": "apiKey",
                                       "remoteRef": {"key": "storage/truenas", "property": "api_key"}}]
        config = _safe_yaml().load(es["spec"]["target"]["template"]["data"]["driver-config-file.yaml"])
        assert config["driver"] == f"freenas-api-{protocol}"
        assert config["httpConnection"]["host"] == "truenas.lab.thewortmans.org"
        assert config["httpConnection"]["apiKey"] == "{{ .apiKey }}"
        assert config["zfs"]["datasetParentName"].startswith(f"tank/k8s/{protocol}/")
    iscsi_cfg = _safe_yaml().load(
        secrets["democratic-csi-iscsi-driver-config"]["spec"]["target"]["template"]["data"]["driver-config-file.yaml"])
    assert iscsi_cfg["iscsi"]["targetPortal"] == "truenas.lab.thewortmans.org:3260"
    nfs_cfg = _safe_yaml().load(
        secrets["democratic-csi-nfs-driver-config"]["spec"]["target"]["template"]["data"]["driver-config-file.yaml"])
    assert nfs_cfg["nfs"]["shareAllowedNetworks"] == ["192.168.10.0/24"]


# ------------------------------------------------------------------------------------------- GPU apps


@pytest.mark.parametrize("app", GPU_APPS)
def test_gpu_workloads_get_gpu_memory_node_selector_toleration_runtime_and_pvc(tree, app):
    spec = _gpu_pod_specs(tree)[app]
    resources = spec["containers"][0]["resources"]
    assert resources["limits"]["nvidia.com/gpu"] == 1  # seed: 1 GPU
    assert resources["requests"]["memory"] == "8Gi"  # seed: 8-16Gi
    assert resources["limits"]["memory"] == "16Gi"
    assert spec["nodeSelector"] == {"accelerator": "nvidia-tesla-gpu"}  # seed: GPU node selection
    assert spec["runtimeClassName"] == "nvidia"  # K3s NVIDIA runtime class (facts §3)
    assert any(tolerates(t, "nvidia.com/gpu=true:NoSchedule") for t in spec["tolerations"])


def test_ollama_values_use_the_charts_gpu_and_volume_keys(tree):
    values = load_values(tree, "k8s/values/ollama.yaml")
    assert values["ollama"]["gpu"] == {"enabled": True, "type": "nvidia", "number": 1,
                                       "nvidiaResource": "nvidia.com/gpu"}
    assert values["persistentVolume"]["enabled"] is True
    assert values["persistentVolume"]["size"] == "200Gi"
    assert values["ollama"]["mountPath"] == "/root/.ollama"
    assert values["image"] == {"repository": "ollama/ollama", "tag": "0.32.15"}
    assert values["ingress"]["className"] == "traefik"
    assert values["ingress"]["hosts"][0]["host"] == "ollama.lab.thewortmans.org"


def test_text_generation_webui_has_a_model_cache_pvc(tree):
    values = load_values(tree, "k8s/values/text-generation-webui.yaml")
    models = values["persistence"]["models"]
    assert models["type"] == "persistentVolumeClaim"
    assert models["size"] == "200Gi"
    # Atinoda/text-generation-webui-docker >= v3: models live in /app/user_data/models.
    assert models["globalMounts"] == [{"path": "/app/user_data/models"}]


def test_non_gpu_apps_are_not_pinned_to_the_gpu_node(tree):
    for name in ("plex", "radarr", "sonarr", "mealie"):
        text = tree[f"k8s/values/{name}.yaml"]
        assert "nvidia" not in text and "nodeSelector" not in text, name


def test_gpu_taint_without_value_gets_an_exists_toleration(reference_path):
    def mutate(d):
        d["clusters"]["k3s"]["gpu"]["taint"] = "gpu-only:NoExecute"
    tree = render_lab(load_text(lab_text(reference_path, mutate)))
    specs = _gpu_pod_specs(tree)
    for spec in specs.values():
        assert any(tolerates(t, "gpu-only:NoExecute") for t in spec["tolerations"])
    # (ollama 1.77.0 adds its own `nvidia.com/gpu Exists NoSchedule` toleration whenever ollama.gpu is on)
    webui = specs["text-generation-webui"]
    assert not any(tolerates(t, "nvidia.com/gpu=true:NoSchedule") for t in webui["tolerations"])


# ----------------------------------------------------------------------------------- app values shape


def test_app_template_values_follow_the_v4_shape(tree):
    plex = load_values(tree, "k8s/values/plex.yaml")
    container = plex["controllers"]["main"]["containers"]["main"]
    assert container["image"] == {"repository": "plexinc/pms-docker", "tag": "1.41.9.9961-46083195"}
    assert container["env"]["PLEX_CLAIM"] == {"valueFrom": {"secretKeyRef": {"name": "plex-secrets",
                                                                            "key": "claim_token"}}}
    assert container["resources"] == {"requests": {"cpu": "2", "memory": "4Gi"}, "limits": {"memory": "16Gi"}}
    assert plex["service"]["main"] == {"controller": "main", "ports": {"http": {"port": 32400}}}
    ingress = plex["ingress"]["main"]
    assert ingress["className"] == "traefik"
    assert ingress["hosts"] == [{"host": "watch.lab.thewortmans.org", "paths": [
        {"path": "/", "pathType": "Prefix", "service": {"identifier": "main", "port": "http"}}]}]
    assert plex["persistence"]["config"] == {"type": "persistentVolumeClaim", "accessMode": "ReadWriteOnce",
                                             "size": "50Gi", "storageClass": "freenas-iscsi-csi",
                                             "globalMounts": [{"path": "/config"}]}
    assert plex["persistence"]["media"]["accessMode"] == "ReadWriteMany"
    assert plex["persistence"]["media"]["size"] == "4Ti"
    assert plex["persistence"]["media"]["storageClass"] == "freenas-nfs-csi"


def test_secret_without_env_name_gets_an_upper_case_env_var(tree):
    copyparty = load_values(tree, "k8s/values/copyparty.yaml")
    env = copyparty["controllers"]["main"]["containers"]["main"]["env"]
    assert env == {"ADMIN_PASSWORD": {"valueFrom": {"secretKeyRef": {"name": "copyparty-secrets",
                                                                      "key": "admin_password"}}}}


def test_pihole_and_home_assistant_use_their_charts_keys(tree):
    pihole = load_values(tree, "k8s/values/pihole.yaml")
    assert pihole["image"] == {"repository": "pihole/pihole", "tag": "2026.07.2"}
    assert pihole["admin"] == {"existingSecret": "pihole-secrets", "passwordKey": "admin_password"}
    assert pihole["ingress"]["hosts"] == ["pihole.lab.thewortmans.org"]
    assert pihole["ingress"]["ingressClassName"] == "traefik"
    assert pihole["persistentVolumeClaim"]["enabled"] is True
    # the lab's own values are merged last
    assert pihole["serviceDns"] == {"type": "LoadBalancer", "loadBalancerIP": "192.168.10.200",
                                    "mixedService": True}
    ha = load_values(tree, "k8s/values/home-assistant.yaml")
    assert ha["image"] == {"repository": "ghcr.io/home-assistant/home-assistant", "tag": "2026.7.4"}
    assert ha["ingress"]["enabled"] is True and ha["ingress"]["className"] == "traefik"
    assert ha["ingress"]["hosts"][0]["host"] == "home.lab.thewortmans.org"
    assert ha["persistence"] == {"enabled": True, "accessMode": "ReadWriteOnce", "size": "10Gi"}


def test_app_values_are_deep_merged_last(reference_path):
    def mutate(d):
        radarr = next(a for a in d["apps"] if a["name"] == "radarr")
        radarr["values"] = {"controllers": {"main": {"containers": {"main": {
            "env": {"TZ": "Europe/London"}, "image": {"tag": "override"}}}}}}
    tree = render_lab(load_text(lab_text(reference_path, mutate)))
    main = load_values(tree, "k8s/values/radarr.yaml")["controllers"]["main"]["containers"]["main"]
    assert main["image"] == {"repository": "lscr.io/linuxserver/radarr", "tag": "override"}
    assert main["env"] == {"TZ": "Europe/London"}
    assert load_values(tree, "k8s/values/radarr.yaml")["service"]["main"]["ports"]["http"]["port"] == 7878


def test_platform_values(tree):
    traefik = load_values(tree, "k8s/values/platform/traefik.yaml")
    assert traefik["service"]["spec"]["type"] == "LoadBalancer"  # traefik 41.3.0 has no service.type
    assert traefik["service"]["annotations"] == {"metallb.io/loadBalancerIPs": "192.168.10.201"}
    assert traefik["ingressClass"]["enabled"] is True
    nvidia = load_values(tree, "k8s/values/platform/nvidia-device-plugin.yaml")
    assert nvidia["runtimeClassName"] == "nvidia"
    assert nvidia["nodeSelector"] == {"accelerator": "nvidia-tesla-gpu"}
    assert any(tolerates(t, "nvidia.com/gpu=true:NoSchedule") for t in nvidia["tolerations"])
    assert "affinity" in nvidia and nvidia["affinity"] is None  # drops the chart's NFD-only affinity
    velero = load_values(tree, "k8s/values/platform/velero.yaml")
    location = velero["configuration"]["backupStorageLocation"][0]
    assert location["bucket"] == "velero"
    assert location["config"]["s3Url"] == "https://truenas.lab.thewortmans.org:9000"
    assert velero["credentials"] == {"useSecret": True, "existingSecret": "velero-credentials"}
    # ...and the Secret it names holds the AWS credentials file under key `cloud`, filled from Vault
    creds = next(o for o in objects(tree, "ExternalSecret") if o["metadata"]["name"] == "velero-credentials")
    assert creds["metadata"]["namespace"] == "velero"
    cloud = creds["spec"]["target"]["template"]["data"]["cloud"]
    assert cloud.splitlines()[0] == "[default]" and "aws_secret_access_key={{ .secretKey }}" in cloud
    assert {(d["remoteRef"]["key"], d["remoteRef"]["property"]) for d in creds["spec"]["data"]} == {
        ("backup/velero", "access_key"), ("backup/velero", "secret_key")}


# ---------------------------------------------------------------------------- external secrets, velero


def test_cluster_secret_store_logs_in_as_the_external_secrets_user(tree):
    stores = objects(tree, "ClusterSecretStore")
    assert len(stores) == 1
    vault = stores[0]["spec"]["provider"]["vault"]
    assert vault["server"] == "https://vault.lab.thewortmans.org:8200"
    assert vault["path"] == "secret"
    assert vault["version"] == "v2"
    # ESO v1 VaultUserPassAuth: path (userpass mount), username, secretRef (SecretKeySelector)
    assert vault["auth"] == {"userPass": {
        "path": "userpass", "username": "external-secrets",
        "secretRef": {"name": "vault-userpass", "key": "password", "namespace": "external-secrets"}}}
    requires = stores[0]["metadata"]["annotations"]["homelab/requires"]
    assert "Secret external-secrets/vault-userpass" in requires and "automation/external-secrets" in requires
    text = tree["k8s/platform/external-secrets-store.yaml"]
    assert "Vault user external-secrets, policies external-secrets" in text
    assert "homelab secrets get automation/external-secrets --reveal --field password" in text
    for path in ("apps/plex", "apps/paperless", "storage/truenas", "backup/velero"):
        assert f"#   secret/data/{path}\n" in text


def test_without_a_dedicated_user_the_store_presents_a_token(reference_path):
    def drop_user(data):
        data["vault"]["users"] = [u for u in data["vault"]["users"] if u["name"] != "external-secrets"]

    tree = render_lab(load_text(lab_text(reference_path, drop_user)))
    body = tree["k8s/platform/external-secrets-store.yaml"]
    (store,) = objects({"k8s/platform/external-secrets-store.yaml": body}, "ClusterSecretStore")
    assert store["spec"]["provider"]["vault"]["auth"] == {
        "tokenSecretRef": {"name": "vault-token", "key": "token", "namespace": "external-secrets"}}
    assert "no lab user qualifies: rule external-secrets-policy-missing" in body


def test_app_external_secrets_reference_vault_paths_and_fields(tree, lab):
    secrets = {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in objects(tree, "ExternalSecret")}
    for app in lab.apps:
        if not app.secrets:
            assert (app.namespace, f"{app.name}-secrets") not in secrets
            continue
        es = secrets[(app.namespace, f"{app.name}-secrets")]
        assert es["spec"]["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": "vault"}
        refs = {(d["remoteRef"]["key"], d["remoteRef"]["property"]) for d in es["spec"]["data"]}
        assert refs == {(s.path, s.field) for s in app.secrets}
        assert int(es["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]) < 0  # before the apps


def test_without_external_secrets_no_store_and_no_external_secrets(reference_path):
    tree = render_lab(load_text(lab_text(reference_path,
                                         lambda d: d["platform"]["external_secrets"].update(enabled=False))))
    assert objects(tree, "ClusterSecretStore") == [] and objects(tree, "ExternalSecret") == []
    # the apps still read the Secret by name; the Application says it must be created by hand
    assert "plex-secrets" in tree["k8s/values/plex.yaml"]
    assert "homelab/requires" in tree["k8s/apps/media/plex.yaml"]


def test_velero_schedules_are_chart_values(tree):
    """The Schedules are the Velero chart's `schedules` value (templated by the chart: test_velero_backups.py)."""
    assert objects(tree, "Schedule") == []
    values = load_values(tree, "k8s/values/platform/velero.yaml")
    daily = values["schedules"]["daily-apps"]
    assert daily["schedule"] == "0 4 * * *" and daily["template"]["ttl"] == "720h"
    assert values["schedules"]["app-home-assistant"]["template"]["ttl"] == f"{30 * 24}h"


# ------------------------------------------------------------------------------------ no secret values


SENSITIVE_KEY = re.compile(r"pass(word)?|secret|token|api_?key|credential", re.IGNORECASE)
# keys whose value names a Secret or a key in one (chart conventions, ExternalSecret fields)
REFERENCE_KEY = re.compile(r"(existing\w*Secret|SecretRef|KeyRef|passwordKey|userKey|secretKey|secretName)$|^(name|key|property)$")
TEMPLATE = re.compile(r"^\{\{ \.[A-Za-z_]+ \}\}$")  # external-secrets template placeholder
VAULT_REFS = re.compile(r"^[A-Z_][A-Z0-9_]* <- vault [^\s#]+#\S+(, [A-Z_][A-Z0-9_]* <- vault [^\s#]+#\S+)*$")


def _literal_secrets(node, path=()):
    """(path, value) of every scalar under a secret-looking key that is not a reference or placeholder."""
    found = []
    if isinstance(node, dict):
        for k, v in node.items():
            here = path + (str(k),)
            if isinstance(v, (dict, list)):
                found += _literal_secrets(v, here)
            elif (SENSITIVE_KEY.search(str(k)) and not REFERENCE_KEY.search(str(k)) and isinstance(v, str)
                  and v and not TEMPLATE.match(v) and not VAULT_REFS.match(v)):
                found.append((here, v))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found += _literal_secrets(v, path + (i,))
    return found


def test_no_secret_values_anywhere(reference_path, monkeypatch):
    """Plant secret values where a careless renderer could pick them up (the process environment, a fake
    Vault holding every referenced field, the Vault token variables) and scan the whole tree."""
    from homelab.lab.refs import all_secret_refs

    planted = {"VAULT_TOKEN": "hvs.PLANTEDvaultTOKEN0123456789abcdef",
               "PROXMOX_TOKEN_SECRET": "PLANTED-4b1d6c2e-0000-4f4f-9a9a-pm-secret",
               "TRUENAS_API_KEY": "1-PLANTEDtruenasAPIkeyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}
    for name, value in planted.items():
        monkeypatch.setenv(name, value)
    doc = load_text(lab_text(reference_path))
    fake_vault = {(path, fld): f"PLANTED-{i:04d}-s3cr3t-{path.replace('/', '-')}-{fld}"
                  for i, (_, path, fld) in enumerate(all_secret_refs(doc.lab))}
    assert len(fake_vault) >= 10
    tree = render_lab(doc)
    blob = "\n".join(tree.values())
    for value in list(planted.values()) + list(fake_vault.values()):
        assert value not in blob
    assert "PLANTED" not in blob
    assert objects(tree, "Secret") == []  # Secrets only ever come from ExternalSecrets at run time
    for path, text in tree.items():
        for data in _safe_yaml().load_all(text):
            assert _literal_secrets(data) == [], path


def test_secret_scan_flags_a_literal_secret():
    assert _literal_secrets({"admin": {"password": "hunter2"}}) == [(("admin", "password"), "hunter2")]
    assert _literal_secrets({"httpConnection": {"apiKey": "1-abc"}})
    assert _literal_secrets({"env": {"TOKEN": "abc", "DB_PASSWORD": {"value": "p"}}})
    assert _literal_secrets({"homelab/secrets": "X <- vault apps/x#y, but also hunter2"})
    assert _literal_secrets({"admin": {"existingSecret": "x", "passwordKey": "admin_password"}}) == []
    assert _literal_secrets({"homelab/secrets": "A <- vault apps/x#a, B_C <- vault apps/y#b"}) == []


def test_renderers_do_not_touch_the_filesystem(reference_doc, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    render_lab(reference_doc)
    assert os.listdir(tmp_path) == []


def test_pinned_addresses_leave_the_auto_assign_pool_at_its_edges_too(reference_path):
    def pin(d):
        d["network"]["pools"]["metallb"] = "192.168.10.200-192.168.10.202"
        d["platform"]["traefik"]["load_balancer_ip"] = "192.168.10.202"
    pools = {p["metadata"]["name"]: p["spec"] for p in objects(render_lab(load_text(lab_text(reference_path, pin))),
                                                               "IPAddressPool")}
    assert pools == {"default-pool": {"addresses": ["192.168.10.201-192.168.10.201"]},
                     "pinned": {"addresses": ["192.168.10.200/32", "192.168.10.202/32"], "autoAssign": False}}

    def pin_all(d):
        pin(d)
        d["network"]["pools"]["metallb"] = "192.168.10.200-192.168.10.200"
        d["platform"]["traefik"].pop("load_balancer_ip")
    pools = {p["metadata"]["name"]: p["spec"] for p in objects(
        render_lab(load_text(lab_text(reference_path, pin_all))), "IPAddressPool")}
    assert pools == {"pinned": {"addresses": ["192.168.10.200/32"], "autoAssign": False}}
