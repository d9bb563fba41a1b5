"""`k8s/platform/namespaces.yaml`: every namespace the lab uses, created first and never pruned.

The lab's own `namespaces`, every app's namespace, every enabled platform component's namespace and
ArgoCD's, each labelled with its role (platform, apps or reserved). Components whose pods need host
access get the privileged Pod Security Standard on their namespace.
"""

from __future__ import annotations

from homelab.lab.parts import components_on
from homelab.render.base import RenderedFile
from homelab.render.kubernetes.common import SYNC_OPTIONS, WAVES, meta, yaml_file

# Components whose pods need host access (CSI node plugin, device plugin, node agents, L2 speaker,
# node-exporter): their namespaces are labelled for the privileged Pod Security Standard.
PRIVILEGED_COMPONENTS = ("democratic_csi", "kube_prometheus_stack", "metallb", "nvidia_device_plugin", "velero")


def namespaces(lab) -> list[str]:
    names = set(lab.namespaces) | {a.namespace for a in lab.apps}
    names |= {c.namespace for c in components_on(lab).values()}
    if lab.gitops:
        names.add(lab.gitops.argocd.namespace)
    return sorted(names)


def namespace_objects(lab) -> list[dict]:
    components = components_on(lab)
    platform_ns = {c.namespace for c in components.values()}
    privileged = {components[k].namespace for k in PRIVILEGED_COMPONENTS if k in components}
    app_ns = {a.namespace for a in lab.apps}
    objs = []
    for ns in namespaces(lab):
        role = "platform" if ns in platform_ns or (lab.gitops and ns == lab.gitops.argocd.namespace) else (
            "apps" if ns in app_ns else "reserved")
        labels = {"homelab/lab": lab.name, "homelab/role": role}
        if ns in privileged:
            labels["pod-security.kubernetes.io/enforce"] = "privileged"
        objs.append({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": meta(ns, wave=WAVES["namespaces"], labels=labels,
                             annotations={SYNC_OPTIONS: "Prune=false"}),  # never delete a namespace by pruning
        })
    return objs


def files(lab) -> list[RenderedFile]:
    return [yaml_file("k8s/platform/namespaces.yaml", namespace_objects(lab),
                      "Namespaces of the lab, its apps and its platform components (sync wave -10).\n"
                      "Prune=false: removing a namespace from homelab.yaml never deletes its data.")]
