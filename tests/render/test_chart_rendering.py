"""What the rendered ArgoCD Applications deploy, templated by the real charts at their pinned versions.

Every Application homelab renders (platform releases, ArgoCD itself, every app) is templated here with
the Helm engine (`helm_charts.py`: pip helm-python-sdk, the chart archives in shared/charts/) using
the values file the Application points at. The assertions are about what the cluster would receive
on the first sync (issue 10), each written from the chart's templates, the image's documentation or
the Kubernetes/ArgoCD/MetalLB rules, not read back from the renderer:

- ArgoCD refuses an Application whose objects go to a namespace its AppProject does not list, or are
  of a cluster-scoped kind the project does not whitelist (item 1);
- an object larger than the last-applied annotation can hold needs ServerSideApply=true (item 2);
- every DaemonSet tolerates every taint the lab puts on a node (items 3 and 7);
- every LoadBalancer Service asks MetalLB for a fixed, unique address in the pool, and no pinned
  address is left in the auto-assign pool (item 4);
- the GPUs the apps request fit the GPU nodes with time-slicing, and the device plugin's
  ConfigMap carries it (item 5); the RuntimeClass the GPU pods name exists (item 6);
- no value homelab renders is ignored by its chart (item 10: Traefik 41.3.0 reads service.spec);
- Pi-hole has no DHCP NodePort, and every Ingress has a tls section for its hosts (item 18).
"""

from __future__ import annotations

import copy
import io
import ipaddress

import pytest

from helm_charts import LAST_APPLIED_LIMIT, of_kind, pod_spec, render, render_text
from homelab.lab.load import load_text
from homelab.lab.models.gitops import Chart
from homelab.render import argocd, kubernetes

# The Helm engine renders every chart here: a real engine, so the validators lane (make test) runs it.
pytestmark = pytest.mark.validators

METALLB_IPS = ("metallb.io/loadBalancerIPs", "metallb.universe.tf/loadBalancerIPs")


def _yaml():
    from ruamel.yaml import YAML

    return YAML(typ="safe")


def render_tree(doc) -> dict[str, str]:
    return {f.path: f.content for f in [*kubernetes.render(doc), *argocd.render(doc)]}


def docs_of(tree, kind: str | None = None) -> list[dict]:
    out = []
    for text in tree.values():
        for d in _yaml().load_all(text):
            if isinstance(d, dict) and "kind" in d and (kind is None or d["kind"] == kind):
                out.append(d)
    return out


# cert-manager's chart is not among the packaged charts (shared/charts): its values are only
# `crds.enabled`, and its ClusterIssuers are validated against cert-manager v1.21.1's CRD in test_pki_charts.py.
UNPACKAGED = frozenset({"cert-manager"})


def releases(tree) -> list[tuple[dict, Chart, dict]]:
    """(Application, chart, values) for every Helm Application in the rendered tree (packaged charts)."""
    out = []
    for app in docs_of(tree, "Application"):
        chart_src = next((s for s in app["spec"].get("sources", []) if "chart" in s), None)
        if chart_src is None or chart_src["chart"] in UNPACKAGED:
            continue  # the root app-of-apps (directories), or a chart we cannot template here
        values: dict = {}
        for ref in chart_src["helm"]["valueFiles"]:
            values.update(_yaml().load(tree[ref.removeprefix("$values/")]) or {})
        out.append((app, Chart(repo=chart_src["repoURL"], name=chart_src["chart"],
                               version=chart_src["targetRevision"]), values))
    return sorted(out, key=lambda r: r[0]["metadata"]["name"])


def rendered(app, chart, values):
    return render(chart, values, app["spec"]["sources"][0]["helm"]["releaseName"],
                  app["spec"]["destination"]["namespace"])


def lab_doc(reference_path, mutate=None):
    data = _yaml().load(reference_path.read_text())
    if mutate:
        mutate(data)
    buf = io.StringIO()
    _yaml().dump(data, buf)
    return load_text(buf.getvalue(), "homelab.yaml")


@pytest.fixture(scope="module")
def tree(reference_doc):
    return render_tree(reference_doc)


@pytest.fixture(scope="module")
def all_releases(tree):
    return [(app, chart, values, rendered(app, chart, values)) for app, chart, values in releases(tree)]


def tolerates(toleration: dict, taint: str) -> bool:
    """core/v1 Toleration.ToleratesTaint."""
    key_value, _, effect = taint.rpartition(":")
    key, _, value = key_value.partition("=")
    if toleration.get("effect") and toleration["effect"] != effect:
        return False
    if toleration.get("key") and toleration["key"] != key:
        return False
    if toleration.get("operator", "Equal") == "Exists":
        return True
    return toleration.get("value", "") == value


# ------------------------------------------------------------------------- item 1: AppProject scope


def test_every_object_goes_where_its_project_allows(tree, all_releases):
    projects = {p["metadata"]["name"]: p["spec"] for p in docs_of(tree, "AppProject")}
    problems = []
    for app, _chart, _values, manifests in all_releases:
        project = projects[app["spec"]["project"]]
        allowed_ns = {d["namespace"] for d in project["destinations"]}
        allowed_kinds = {(w["group"], w["kind"]) for w in project.get("clusterResourceWhitelist", [])}
        release_ns = app["spec"]["destination"]["namespace"]
        for m in manifests:
            ns = m.namespace(release_ns)
            group = m.obj["apiVersion"].rpartition("/")[0]
            if ns is None and (group, m.kind) not in allowed_kinds:
                problems.append(f"{app['metadata']['name']}: cluster-scoped {group}/{m.kind} {m.name}")
            elif ns is not None and ns not in allowed_ns:
                problems.append(f"{app['metadata']['name']}: {m.kind} {m.name} in namespace {ns}")
    assert not problems, "ArgoCD would refuse these Applications:\n" + "\n".join(problems)


# ------------------------------------------------------------------------- item 2: server-side apply


def test_applications_with_objects_too_large_for_client_side_apply_use_server_side_apply(all_releases):
    big = {}
    for app, _chart, _values, manifests in all_releases:
        large = [f"{m.kind} {m.name} ({m.size()} bytes)" for m in manifests if m.size() > LAST_APPLIED_LIMIT]
        if large:
            big[app["metadata"]["name"]] = large
            assert "ServerSideApply=true" in app["spec"]["syncPolicy"].get("syncOptions", []), (
                f"{app['metadata']['name']}: {', '.join(large)} exceed(s) the {LAST_APPLIED_LIMIT}-byte "
                "last-applied annotation: the Application needs ServerSideApply=true")
    # The measurement is real: external-secrets 2.9.0 and kube-prometheus-stack 75.18.1 do bring such CRDs.
    assert {"external-secrets", "kube-prometheus-stack", "argocd"} <= set(big), big


# --------------------------------------------------------------------- items 3 and 7: node agents


def _lab_taints(lab) -> list[str]:
    k3s = lab.clusters.k3s
    return [k3s.gpu.taint] if k3s and k3s.gpu.nodes else []


@pytest.mark.parametrize("taint", [None, "dedicated=gpu:NoExecute", "nvidia.com/gpu:NoSchedule"])
def test_every_daemonset_tolerates_every_taint_the_lab_declares(reference_path, taint):
    def mutate(data):
        if taint:
            data["clusters"]["k3s"]["gpu"]["taint"] = taint

    doc = lab_doc(reference_path, mutate)
    taints = _lab_taints(doc.lab)
    assert taints
    seen = []
    for app, chart, values in releases(render_tree(doc)):
        for ds in of_kind(rendered(app, chart, values), "DaemonSet"):
            seen.append(ds["metadata"]["name"])
            tolerations = pod_spec(ds).get("tolerations") or []
            for t in taints:
                assert any(tolerates(tol, t) for tol in tolerations), (
                    f"DaemonSet {ds['metadata']['name']} ({app['metadata']['name']}) does not tolerate {t}: "
                    f"it would not run on the GPU node ({tolerations})")
    # democratic-csi's node plugins (iSCSI, NFS), Velero's node agent, node-exporter, MetalLB's speaker.
    for name in ("democratic-csi-iscsi-node", "democratic-csi-nfs-node", "node-agent", "metallb-speaker",
                 "kube-prometheus-stack-prometheus-node-exporter"):
        assert name in seen, seen


# ---------------------------------------------------------------------- item 4: LoadBalancer addresses


def _lb_addresses(svc: dict) -> list[str]:
    ann = svc["metadata"].get("annotations") or {}
    found = [a.strip() for k in METALLB_IPS if k in ann for a in str(ann[k]).split(",")]
    if svc["spec"].get("loadBalancerIP"):
        found.append(svc["spec"]["loadBalancerIP"])
    return found


def _pool(lab):
    first, _, last = lab.network.pools.metallb.partition("-")
    return ipaddress.IPv4Address(first), ipaddress.IPv4Address(last)


def _auto_assign_addresses(tree) -> set[ipaddress.IPv4Address]:
    out = set()
    for pool in docs_of(tree, "IPAddressPool"):
        if pool["spec"].get("autoAssign", True) is False:
            continue
        for entry in pool["spec"]["addresses"]:
            if "-" in entry:
                a, _, b = entry.partition("-")
                lo, hi = int(ipaddress.IPv4Address(a)), int(ipaddress.IPv4Address(b))
                out |= {ipaddress.IPv4Address(i) for i in range(lo, hi + 1)}
            else:
                out |= set(ipaddress.IPv4Network(entry).hosts()) | {ipaddress.IPv4Network(entry).network_address}
    return out


def test_every_load_balancer_service_has_a_fixed_unique_pool_address(reference_doc, tree, all_releases):
    lo, hi = _pool(reference_doc.lab)
    owners: dict[str, str] = {}
    for app, _chart, _values, manifests in all_releases:
        for svc in of_kind(manifests, "Service"):
            if svc["spec"].get("type") != "LoadBalancer":
                continue
            label = f"{app['metadata']['name']}: Service {svc['metadata']['name']}"
            addrs = set(_lb_addresses(svc))
            assert len(addrs) == 1, f"{label} has no fixed address: MetalLB would hand out the first free one"
            addr = addrs.pop()
            assert lo <= ipaddress.IPv4Address(addr) <= hi, f"{label}: {addr} is outside the MetalLB pool"
            assert owners.get(addr, label) == label, f"{label} and {owners[addr]} both ask for {addr}"
            owners[addr] = label
    assert any("traefik" in o for o in owners.values()) and any("pihole" in o for o in owners.values()), owners
    auto = _auto_assign_addresses(tree)
    assert auto, "no auto-assign pool at all"
    for addr, owner in owners.items():
        assert ipaddress.IPv4Address(addr) not in auto, f"{addr} ({owner}) is still handed out automatically"
    # Pi-hole, the second DNS server, keeps its address.
    assert owners["192.168.10.200"].startswith("pihole")


# --------------------------------------------------------------------- item 5: GPUs and time-slicing


def test_gpu_requests_fit_the_gpu_nodes_with_the_device_plugins_time_slicing(reference_doc, all_releases):
    lab = reference_doc.lab
    requested = 0
    device_plugin = None
    for app, _chart, _values, manifests in all_releases:
        for kind in ("Deployment", "StatefulSet"):
            for obj in of_kind(manifests, kind):
                for c in pod_spec(obj)["containers"]:
                    requested += int((c.get("resources") or {}).get("limits", {}).get("nvidia.com/gpu", 0))
        if app["metadata"]["name"] == "nvidia-device-plugin":
            device_plugin = manifests
    assert requested == 2  # ollama and text-generation-webui
    configs = [_yaml().load(text) for cm in of_kind(device_plugin, "ConfigMap") for text in cm["data"].values()]
    slicing = [r for cfg in configs for r in cfg.get("sharing", {}).get("timeSlicing", {}).get("resources", [])
               if r["name"] == "nvidia.com/gpu"]
    assert slicing, "the device plugin gets no time-slicing config: each GPU is one nvidia.com/gpu"
    replicas = slicing[0]["replicas"]
    assert replicas == lab.clusters.k3s.gpu.time_slicing
    assert requested <= len(lab.clusters.k3s.gpu.nodes) * replicas
    # The plugin container is pointed at that config (CONFIG_FILE / --config-file from the chart).
    ds = next(d for d in of_kind(device_plugin, "DaemonSet") if d["metadata"]["name"] == "nvidia-device-plugin")
    assert any(c["name"] == "config-manager" or "config-manager" in str(c.get("command"))
               for c in pod_spec(ds).get("containers", []) + pod_spec(ds).get("initContainers", [])), ds


# -------------------------------------------------------------------------- item 6: the runtime class


def test_gpu_pods_name_a_runtime_class_the_lab_renders_with_the_nvidia_handler(tree, all_releases):
    classes = {rc["metadata"]["name"]: rc for rc in docs_of(tree, "RuntimeClass")}
    used = set()
    for _app, _chart, _values, manifests in all_releases:
        for kind in ("Deployment", "StatefulSet", "DaemonSet"):
            for obj in of_kind(manifests, kind):
                if pod_spec(obj).get("runtimeClassName"):
                    used.add(pod_spec(obj)["runtimeClassName"])
    assert used == {"nvidia"}  # ollama, text-generation-webui and the device plugin
    for name in used:
        assert name in classes, f"RuntimeClass {name} is used but not rendered"
        # K3s names the containerd runtime of nvidia-container-runtime `nvidia` (docs/advanced.md).
        assert classes[name]["handler"] == "nvidia"


# ----------------------------------------------------------------- item 10: no value silently ignored


def _leaves(value, path=()):
    if isinstance(value, dict) and value:
        for k, v in value.items():
            yield from _leaves(v, (*path, k))
    else:
        yield path, value


_DELETE = object()


def _mutations(value) -> list:
    """Other values for a leaf (the chart must render something else, or refuse), then its removal."""
    if value is None:
        return [_DELETE]
    if isinstance(value, bool):
        return [not value, _DELETE]
    if isinstance(value, int | float):
        return [value + 1, _DELETE]
    if isinstance(value, str):
        return ["/homelab-probe" if value.startswith("/") else "homelab-probe", _DELETE]
    if isinstance(value, list):
        extra = copy.deepcopy(value[0]) if value and isinstance(value[0], dict) else "homelab-probe"
        return [value + [extra], _DELETE]
    return [{"homelab-probe": "x"}, _DELETE]


def _set(values: dict, path: tuple, new) -> dict:
    out = copy.deepcopy(values)
    node = out
    for key in path[:-1]:
        node = node[key]
    if new is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = new
    return out


def _reads(chart, values, release, ns, base) -> bool:
    try:
        return render_text(chart, values, release, ns) != base
    except Exception:  # noqa: BLE001 - the chart refuses the changed value (`required`, fail): it reads it
        return True


def test_no_rendered_value_is_ignored_by_its_chart(all_releases):
    """Change each value homelab renders: the chart's output must change (or the chart must reject it)."""
    ignored = []
    for app, chart, values, _manifests in all_releases:
        release = app["spec"]["sources"][0]["helm"]["releaseName"]
        ns = app["spec"]["destination"]["namespace"]
        base = render_text(chart, values, release, ns)
        for path, value in _leaves(values):
            if path and not any(_reads(chart, _set(values, path, new), release, ns, base)
                                for new in _mutations(value)):
                ignored.append(f"{app['metadata']['name']} ({chart.name} {chart.version}): "
                               + ".".join(str(p) for p in path))
    assert not ignored, "values the chart never reads:\n" + "\n".join(ignored)


def test_traefik_service_is_a_load_balancer_through_service_spec(all_releases):
    app, chart, values, manifests = next(r for r in all_releases if r[0]["metadata"]["name"] == "traefik")
    assert "type" not in values.get("service", {}), "traefik 41.3.0 ignores service.type"
    assert values["service"]["spec"]["type"] == "LoadBalancer"
    svc = next(s for s in of_kind(manifests, "Service") if s["metadata"]["name"] == "traefik")
    assert svc["spec"]["type"] == "LoadBalancer"


# ----------------------------------------------------------------------------- item 18: leftovers


def test_pihole_has_no_dhcp_node_port(all_releases):
    _app, _chart, _values, manifests = next(r for r in all_releases if r[0]["metadata"]["name"] == "pihole")
    services = of_kind(manifests, "Service")
    assert services
    for svc in services:
        ports = [p["port"] for p in svc["spec"]["ports"]]
        assert 67 not in ports, f"{svc['metadata']['name']} still serves DHCP ({svc['spec'].get('type')})"
        assert svc["spec"].get("type") != "NodePort", svc["metadata"]["name"]


def test_every_ingress_has_tls_for_its_hosts(all_releases):
    seen = 0
    for app, _chart, _values, manifests in all_releases:
        for ing in of_kind(manifests, "Ingress"):
            seen += 1
            hosts = {r["host"] for r in ing["spec"].get("rules", []) if r.get("host")}
            tls_hosts = {h for t in ing["spec"].get("tls") or [] for h in t.get("hosts", [])}
            assert hosts and hosts <= tls_hosts, (
                f"{app['metadata']['name']}: Ingress {ing['metadata']['name']} serves {sorted(hosts)} "
                f"without tls for {sorted(hosts - tls_hosts)}")
    assert seen >= 14
