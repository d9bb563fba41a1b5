"""The Helm values homelab gives each chart: one builder per chart, one table (`CHART_VALUES`).

To see or change what homelab sets for chart X, look up X in `CHART_VALUES` at the bottom: its builder
returns the values in the chart's own shape, before the lab's `values` (the app's or the component's)
are deep-merged over them. Keys are emitted in the order the builder writes them (the rendered files
keep that order). When a setting is specific to a chart, say so beside it: the chart version and the
values key it targets.

- Application charts (bjw-s app-template v4, otwld ollama, pajikos home-assistant, MoJo2600 pihole):
  picked by the app's `chart.name`; any other chart gets `helm_create`, the conventions of `helm create`
  that most charts follow. They compose the small pieces of `pieces.py` (image, resources, secrets as
  env, ingress, persistence) and `gpu.gpu_scheduling`.
- Platform charts (metallb, cert-manager, external-secrets, traefik, democratic-csi,
  kube-prometheus-stack, nvidia-device-plugin, velero): picked by the platform component whose chart
  it is by default (`lab.models.platform`), so a component pointed at a fork keeps its values. The
  releases themselves (waves, prerequisites) are in `platform.py`.

Written to `<values_path>/<app>.yaml` and `<values_path>/platform/<release>.yaml`.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

from homelab.lab.certificates import cert_manager_on, inventory_of
from homelab.lab.dns import served as served_records
from homelab.lab.models.platform import Platform
from homelab.render.base import RenderedFile
from homelab.render.kubernetes.common import app_values_file, sorted_apps, with_user_values, yaml_file
from homelab.render.kubernetes.external_secrets import VAULT_CA_CONFIGMAP as TRUST_BUNDLE
from homelab.render.kubernetes.external_secrets import app_secret_keys, app_secret_name
from homelab.render.kubernetes.gpu import (
    GPU_RESOURCE,
    GPU_RUNTIME_CLASS,
    every_node_tolerations,
    gpu_node_selector,
    gpu_scheduling,
    gpu_toleration,
    time_slicing_replicas,
)
from homelab.render.kubernetes.images import image_settings
from homelab.render.kubernetes.monitoring import GRAFANA_ADMIN_SECRET
from homelab.render.kubernetes.pieces import (
    claim,
    compact,
    enabled_claim,
    env_list,
    env_map,
    first_volume,
    helm_create_ingress,
    image,
    ingress_class_key,
    ingress_meta,
    ingress_tls,
    resources,
    root_path,
    secret_key_ref,
)
from homelab.render.kubernetes.storage import csi_classes, driver_config_secret, truenas_verified
from homelab.render.kubernetes.velero import VELERO_CREDENTIALS, fs_backup_annotations, velero_schedules
from homelab.render.serializers import LiteralStr, dump_yaml

# velero/velero-plugin-for-aws minor line paired with Velero 1.18 (1.14 <-> plugin 1.10, ... 1.18 <-> 1.14).
VELERO_AWS_PLUGIN = "velero/velero-plugin-for-aws:v1.14.0"


# ----------------------------------------------------------------------------- application charts
# builder(lab, app) -> values


def app_template(lab, app) -> dict:
    """bjw-s app-template v4: controllers / service / ingress / persistence (facts §5), plus what the image
    needs (images.py: plain env, args, a broker as a second controller)."""
    extra = image_settings(lab, app)
    env = {**extra.env, **env_map(app)}
    container = compact({"image": image(app), "args": extra.args, "env": env, "resources": resources(app)})
    # app-template 4.1.1 controllers.<c>.pod.annotations: the pod's annotations; each persistence item is the pod
    # volume of the same name (common 4.1.1 lib/pod/_volumes.tpl).
    backup = fs_backup_annotations(lab, app)
    controller = compact({
        # an RWO volume cannot be attached to two pods at once
        "strategy": "Recreate" if any(v.access_mode == "ReadWriteOnce" for v in app.storage) else None,
        "pod": compact({**gpu_scheduling(lab, app), "annotations": backup}),
        "containers": {"main": container},
    })
    services = {"main": {"controller": "main", "ports": {"http": {"port": app.port}}}} if app.port else {}
    services.update(extra.services)
    route = {**root_path(), "service": {"identifier": "main", "port": "http"}}
    # app-template 4.1.1 ingress.<id>.annotations (templates/lib/ingress: metadata.annotations of the Ingress).
    ingress = {"main": {**ingress_class_key(lab), **ingress_meta(lab, app),
                        "hosts": [{"host": app.ingress, "paths": [route]}], "tls": ingress_tls(lab, app)}}
    # app-template 4.1.1 globalMounts mount into every controller: with a second one (a broker), the app's
    # volumes go to the main container only (advancedMounts.<controller>.<container>).
    def mounts(vol) -> dict:
        return ({"advancedMounts": {"main": {"main": [{"path": vol.mount}]}}} if extra.controllers
                else {"globalMounts": [{"path": vol.mount}]})
    persistence = {vol.name: {"type": "persistentVolumeClaim", **claim(vol), **mounts(vol)} for vol in app.storage}
    return compact({
        "controllers": {"main": controller, **extra.controllers},
        "service": services,
        "ingress": ingress if app.ingress and app.port else None,
        "persistence": persistence,
    })


def ollama(lab, app) -> dict:
    """otwld/ollama-helm: `ollama.gpu.*`, top-level runtimeClassName, `persistentVolume` (facts §5)."""
    vol = first_volume(app)  # the chart has one data volume: the model cache
    gpu = {"enabled": True, "type": "nvidia", "number": app.gpu, "nvidiaResource": GPU_RESOURCE}
    return compact({
        "image": image(app),
        "ollama": compact({"gpu": gpu if app.gpu else None, "mountPath": vol.mount if vol else None}),
        "service": {"port": app.port} if app.port else None,  # also the container port in this chart
        # ollama 1.77.0 templates/deployment.yaml merges the GPU limit from ollama.gpu.number under
        # resources.limits: a GPU limit there would win and gpu.number be ignored.
        # ...and renders resources (with that limit) only when resources is not empty.
        "resources": resources(app, gpu=False) or ({"limits": {}} if app.gpu else None),
        **gpu_scheduling(lab, app),
        "extraEnv": env_list(app),
        "ingress": helm_create_ingress(lab, app),
        # ollama 1.77.0 templates/deployment.yaml: podAnnotations; the model volume is the pod volume ollama-data.
        "podAnnotations": fs_backup_annotations(lab, app, lambda vol: "ollama-data", first_only=True),
        "persistentVolume": enabled_claim(vol, access_modes=True),
    })


def home_assistant(lab, app) -> dict:
    """pajikos/home-assistant-helm-chart: image, service.port, env[], ingress, persistence (facts §5)."""
    # Home Assistant rejects proxied requests unless the proxy is trusted: Traefik runs in the pod network.
    pod_cidr = lab.clusters.k3s.cluster_cidr if lab.clusters.k3s else "10.42.0.0/16"
    return compact({
        "image": image(app),
        "service": {"port": app.port} if app.port else None,
        "env": env_list(app),
        "resources": resources(app),
        **gpu_scheduling(lab, app, runtime_class=False),  # the chart has no runtimeClassName value
        "ingress": helm_create_ingress(lab, app),
        "configuration": {"enabled": True, "trusted_proxies": [pod_cidr]} if app.ingress else None,
        # home-assistant 0.3.72 templates/statefulset.yaml: podAnnotations; the volume is the volumeClaimTemplate
        # named by the chart's fullname (the release name when it contains "home-assistant").
        "podAnnotations": fs_backup_annotations(lab, app, lambda vol: _chart_fullname(app.name, "home-assistant"),
                                                first_only=True),
        "persistence": enabled_claim(first_volume(app)),
    })


def pihole(lab, app) -> dict:
    """MoJo2600/pihole-kubernetes: image, persistentVolumeClaim, ingress{hosts: [str]}, admin.existingSecret."""
    keys = app_secret_keys(app)
    admin = next((k for k in keys if "password" in k.field.lower()), None)
    # pihole 2.38.0 templates/ingress.yaml: ingress.annotations, ingress.tls as given.
    ingress = {"enabled": True, **ingress_class_key(lab, "ingressClassName"), **ingress_meta(lab, app),
               "hosts": [app.ingress], **root_path(), "tls": ingress_tls(lab, app)}
    return compact({
        "image": image(app),
        # pihole 2.38.0 serviceDhcp.enabled defaults to true (a NodePort on 67/udp): DHCP stays with the router.
        "serviceDhcp": {"enabled": False},
        "admin": {"existingSecret": app_secret_name(app), "passwordKey": admin.key} if admin else None,
        "extraEnvVarsSecret": {k.env: secret_key_ref(app, k) for k in keys if k is not admin},
        "resources": resources(app),
        **gpu_scheduling(lab, app, runtime_class=False),
        "ingress": ingress if app.ingress else None,
        # pihole 2.38.0 templates/deployment.yaml: podAnnotations; the claim is the pod volume `config`.
        "podAnnotations": fs_backup_annotations(lab, app, lambda vol: "config", first_only=True),
        "persistentVolumeClaim": enabled_claim(first_volume(app), access_modes=True),
        # pihole 2.38.0 templates/configmap.yaml: dnsmasq.additionalHostsEntries become /etc/addn-hosts, which
        # 02-custom.conf loads (addn-hosts=; dnsmasq.d is read with enableCustomDnsMasq, the default). Hosts-file
        # lines: one address and name each; several lines for one name answer round-robin (the K3s API).
        "dnsmasq": {"additionalHostsEntries": hosts} if (hosts := dns_hosts_entries(lab)) else None,
    })


def dns_hosts_entries(lab) -> list[str]:
    """The lab's DNS records (lab/dns.py) as hosts-file lines, sorted by name then address."""
    served = served_records(lab, inventory_of(lab))
    return [f"{ip} {name}" for name, ips in served.items() for ip in ips]


def helm_create(lab, app) -> dict:
    """Any other chart: the `helm create` conventions most charts follow."""
    return compact({
        "image": image(app),
        "env": env_list(app),
        "resources": resources(app),
        **gpu_scheduling(lab, app),
        "ingress": helm_create_ingress(lab, app),
        # `helm create` charts: podAnnotations; the pod volume's name is the chart's own (assumed: the volume's).
        "podAnnotations": fs_backup_annotations(lab, app, first_only=True),
        "persistence": enabled_claim(first_volume(app)),
    })


def _chart_fullname(release: str, chart: str) -> str:
    """The `<chart>.fullname` helper of `helm create` charts: the release name when it contains the chart's."""
    return release if chart in release else f"{release}-{chart}"[:63].rstrip("-")


# -------------------------------------------------------------------------------- platform charts
# builder(lab, variant) -> values; the variant is democratic-csi's protocol (one release each), else None


def metallb(lab, variant=None) -> dict:
    """metallb/metallb: the address pools are custom resources (metallb.py); the speaker runs on every node."""
    tolerations = every_node_tolerations(lab)
    # metallb 0.16.1 templates/speaker.yaml appends speaker.tolerations to the control-plane ones; its
    # frr-k8s 0.0.25 subchart (the default backend) reads frrk8s.tolerations for its DaemonSet.
    return compact({
        "speaker": compact({"tolerations": tolerations}),
        "frr-k8s": compact({"frrk8s": compact({"tolerations": tolerations})}),
    })


def cert_manager(lab, variant=None) -> dict:
    """jetstack/cert-manager: install its CRDs with the chart."""
    return {"crds": {"enabled": True}}


def external_secrets(lab, variant=None) -> dict:
    """external-secrets/external-secrets: install its CRDs with the chart."""
    return {"installCRDs": True}


def traefik(lab, variant=None) -> dict:
    """traefik/traefik: the default IngressClass, exposed as a LoadBalancer at the lab's fixed address."""
    # traefik 41.3.0 values service.spec: entries of the Service spec (there is no service.type).
    service: dict = {"spec": {"type": "LoadBalancer"}}
    address = lab.platform.traefik.load_balancer_ip
    if address:
        # MetalLB >= 0.15 reads the requested address from this annotation (spec.loadBalancerIP is deprecated).
        service["annotations"] = {"metallb.io/loadBalancerIPs": address}
    # traefik 41.3.0 ports.web.http.redirections.entryPoint (templates/_podtemplate.tpl: --entryPoints.web.http.
    # redirections.entryPoint.to=:443, .scheme, .permanent): every http request is redirected to https.
    # ports.web.allowACMEByPass: ACME HTTP-01 challenges (cert-manager's solver Ingress for step-ca) still
    # reach their router on port 80 instead of being redirected.
    web = {"http": {"redirections": {"entryPoint": {"to": "websecure", "scheme": "https", "permanent": True}}}}
    if cert_manager_on(lab) and lab.pki.ca == "step-ca":
        web["allowACMEByPass"] = True
    return {"ingressClass": {"enabled": True, "isDefaultClass": True}, "service": service, "ports": {"web": web}}


def kube_prometheus_stack(lab, variant=None) -> dict:
    """prometheus-community/kube-prometheus-stack."""
    values: dict = {}
    admin = lab.platform.kube_prometheus_stack.grafana_admin
    if admin:
        # grafana 9.3.1 (subchart) admin.existingSecret/userKey/passwordKey replace adminPassword (prom-operator).
        values["grafana"] = {"admin": {"existingSecret": GRAFANA_ADMIN_SECRET, "userKey": "admin-user",
                                       "passwordKey": "admin-password"}}
    # Pick up ServiceMonitors/PodMonitors of every release, not only this chart's own.
    values["prometheus"] = {"prometheusSpec": {
        "podMonitorSelectorNilUsesHelmValues": False,
        "serviceMonitorSelectorNilUsesHelmValues": False,
    }}
    if every_node_tolerations(lab):
        # prometheus-node-exporter (subchart) tolerations default to [NoSchedule Exists]; keep it, add the lab's.
        values["prometheus-node-exporter"] = {
            "tolerations": [{"effect": "NoSchedule", "operator": "Exists"}, *every_node_tolerations(lab)]}
    return values


def nvidia_device_plugin(lab, variant=None) -> dict:
    """nvidia/k8s-device-plugin: runs on the GPU nodes only, with the nvidia runtime (gpu.py), sharing each
    GPU by time-slicing when the lab asks for it (clusters.k3s.gpu.time_slicing)."""
    values: dict = {}
    replicas = time_slicing_replicas(lab)
    if replicas > 1:
        # nvidia-device-plugin 0.20.0 config.map/config.default: the plugin's config file (version v1,
        # sharing.timeSlicing.resources[].replicas), served to it by the chart's config-manager sidecar.
        config = {"version": "v1", "sharing": {"timeSlicing": {
            # A pod asking for 2 shares of one GPU gets no more GPU: refuse such requests.
            "failRequestsGreaterThanOne": True,
            "resources": [{"name": GPU_RESOURCE, "replicas": replicas}],
        }}}
        values["config"] = {"map": {"default": LiteralStr(dump_yaml(config))}, "default": "default"}
    return values | {
        "runtimeClassName": GPU_RUNTIME_CLASS,
        "nodeSelector": gpu_node_selector(lab),
        # The chart's default affinity wants NFD labels (feature.node.kubernetes.io/pci-10de.present);
        # without NFD the plugin would never schedule. null removes the default (Helm semantics).
        "affinity": None,
        "tolerations": [gpu_toleration(lab), {"key": "CriticalAddonsOnly", "operator": "Exists"}],
    }


def velero(lab, variant=None) -> dict:
    """vmware-tanzu/velero: the AWS plugin, credentials from a Secret (velero.py), S3 storage location."""
    backup = lab.backup.velero
    values: dict = {
        "initContainers": [{
            "name": "velero-plugin-for-aws",
            "image": VELERO_AWS_PLUGIN,
            "imagePullPolicy": "IfNotPresent",
            "volumeMounts": [{"mountPath": "/target", "name": "plugins"}],
        }],
        "credentials": {"useSecret": True, "existingSecret": VELERO_CREDENTIALS},
        "snapshotsEnabled": False,
        "deployNodeAgent": True,  # file-system backup of PVC data (kopia)
    }
    if every_node_tolerations(lab):
        # velero 12.1.0 templates/node-agent-daemonset.yaml: nodeAgent.tolerations (the agent backs up the
        # volumes of the pods on its node, the GPU node's too).
        values["nodeAgent"] = {"tolerations": every_node_tolerations(lab)}
    if backup and backup.bucket:
        config = {"region": "minio", "s3ForcePathStyle": "true", **compact({"s3Url": backup.s3_url})}
        ca_cert = velero_ca(lab)
        if backup.insecure_skip_tls_verify and not ca_cert:
            # velero-plugin-for-aws BSL config insecureSkipTLSVerify (a string, as every config value).
            config["insecureSkipTLSVerify"] = "true"
        location = {"name": "default", "provider": "aws", "bucket": backup.bucket, "default": True}
        if ca_cert:
            # velero 12.1.0 templates/backupstoragelocation.yaml: caCert, a base64-encoded PEM bundle.
            location["caCert"] = base64.b64encode(ca_cert.strip().encode() + b"\n").decode()
        values["configuration"] = {"backupStorageLocation": [{**location, "config": config}]}
    schedules = velero_schedules(lab)
    if schedules:
        # velero 12.1.0 values schedules.<name>: rendered by templates/schedule.yaml as Schedule objects.
        values["schedules"] = schedules
    return values


def democratic_csi_trust(lab) -> dict:
    """The lab's root for the controller's TrueNAS API calls (the driver is Node.js: NODE_EXTRA_CA_CERTS adds
    a CA file to its trust store), from the trust bundle ConfigMap. democratic-csi 0.15.1 values
    controller.driver.extraEnv / extraVolumeMounts and controller.extraVolumes (templates/controller.yaml)."""
    if not truenas_verified(lab):
        return {}
    return {"controller": {
        "driver": {"extraEnv": [{"name": "NODE_EXTRA_CA_CERTS", "value": f"/etc/homelab-ca/{TRUST_BUNDLE['key']}"}],
                   "extraVolumeMounts": [{"name": "homelab-ca", "mountPath": "/etc/homelab-ca", "readOnly": True}]},
        "extraVolumes": [{"name": "homelab-ca", "configMap": {"name": TRUST_BUNDLE["name"]}}],
    }}


def velero_ca(lab) -> str | None:
    """The CA Velero verifies its S3 endpoint with: backup.velero.ca_cert, else the lab's root when the lab's
    CA issued the endpoint's certificate."""
    from homelab.lab.certificates import inventory_of, lab_ca_serves
    backup = lab.backup.velero
    if backup.ca_cert:
        return backup.ca_cert
    return lab.pki.root_ca if lab_ca_serves(lab, inventory_of(lab), backup.s3_url) else None


def democratic_csi(lab, protocol: str) -> dict:
    """democratic-csi/democratic-csi: one release per protocol, the StorageClasses of that protocol."""
    storage_classes = [{
        "name": sc.name,
        "defaultClass": sc.default,
        "reclaimPolicy": sc.reclaim_policy,
        "volumeBindingMode": "Immediate",
        "allowVolumeExpansion": True,
        "parameters": {"fsType": sc.fs_type or ("ext4" if protocol == "iscsi" else "nfs")},
        "mountOptions": [] if protocol == "iscsi" else ["noatime", "nfsvers=3"],
    } for sc in sorted(csi_classes(lab, protocol), key=lambda c: c.name)]
    return {
        "csiDriver": {"name": f"org.democratic-csi.{protocol}",
                      **({"fsGroupPolicy": "File"} if protocol == "nfs" else {})},
        "storageClasses": storage_classes,
        "volumeSnapshotClasses": [],
        # democratic-csi 0.15.1 templates/node.yaml: node.tolerations (the node plugin mounts volumes on
        # every node: without them, pods on a tainted node cannot mount theirs).
        **({"node": {"tolerations": every_node_tolerations(lab)}} if every_node_tolerations(lab) else {}),
        **democratic_csi_trust(lab),
        "driver": {
            # The chart requires driver.config; with existingConfigSecret it mounts that Secret instead
            # of rendering one, so the TrueNAS API key never passes through Helm values.
            "config": {"driver": f"freenas-api-{protocol}"},
            "existingConfigSecret": driver_config_secret(protocol),
        },
    }


# ---------------------------------------------------------------------------------------- the table

Builder = Callable[..., dict]

# chart name -> the values homelab gives it (before the lab's own `values` are merged over them)
CHART_VALUES: dict[str, Builder] = {
    # application charts: builder(lab, app)
    "app-template": app_template,
    "home-assistant": home_assistant,
    "ollama": ollama,
    "pihole": pihole,
    # platform charts: builder(lab, variant)
    "cert-manager": cert_manager,
    "democratic-csi": democratic_csi,
    "external-secrets": external_secrets,
    "kube-prometheus-stack": kube_prometheus_stack,
    "metallb": metallb,
    "nvidia-device-plugin": nvidia_device_plugin,
    "traefik": traefik,
    "velero": velero,
}
# The charts an app's `chart.name` selects; an app of any other chart (a platform chart too) gets helm_create.
APP_CHARTS = frozenset({"app-template", "home-assistant", "ollama", "pihole"})


def app_values(lab, app) -> dict:
    """The values file of an app: its chart's builder, then the app's `values` deep-merged last."""
    build = CHART_VALUES[app.chart.name] if app.chart.name in APP_CHARTS else helm_create
    return with_user_values(build(lab, app), app.values)


def platform_chart(component: str) -> str:
    """The chart a platform component deploys by default: the key of its builder in CHART_VALUES."""
    return Platform.model_fields[component].default.chart.name


def platform_values(lab, component: str, variant: str | None = None) -> dict:
    """The values file of a platform release: the component's builder, its `values` deep-merged last."""
    build = CHART_VALUES[platform_chart(component)]
    return with_user_values(build(lab, variant), getattr(lab.platform, component).values)


def app_values_files(lab) -> list[RenderedFile]:
    return [yaml_file(app_values_file(lab, app), [app_values(lab, app)],
                      f"Helm values for {app.name} ({app.chart.name} {app.chart.version}).")
            for app in sorted_apps(lab)]
