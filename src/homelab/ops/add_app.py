"""`homelab app add NAME --chart REPO/CHART@VERSION --namespace NS` as an edit of the lab file.

Chart syntax: the Helm repository URL (https://, http:// or oci://), a slash, the chart name, `@`,
and the exact chart version (SemVer, as Helm requires), e.g.

    https://bjw-s-labs.github.io/helm-charts/app-template@4.1.1
    oci://ghcr.io/bjw-s-labs/helm/app-template@4.1.1

The version is mandatory: charts are pinned. The namespace is added to `namespaces` when missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from homelab.errors import UsageError
from homelab.lab.edit import LabEditor
from homelab.ops.add_vm import NAME_RE

CHART_RE = re.compile(
    r"^(?P<repo>(?:https?|oci)://[^\s@]+)/(?P<name>[a-z0-9][a-z0-9._-]*)"
    r"@(?P<version>v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)$")
IMAGE_RE = re.compile(r"^(?P<repository>[a-z0-9][a-z0-9._/:-]*[a-z0-9]):(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$")


def parse_chart(spec: str) -> dict:
    m = CHART_RE.match(spec or "")
    if not m:
        hint = "write REPO/CHART@VERSION, e.g. https://bjw-s-labs.github.io/helm-charts/app-template@4.1.1"
        if spec and "@" not in spec:
            raise UsageError(f"chart {spec!r} has no version: charts are pinned", hint)
        raise UsageError(f"{spec!r} is not a chart reference", hint)
    return {"repo": m["repo"], "name": m["name"], "version": m["version"]}


def parse_image(spec: str) -> dict:
    m = IMAGE_RE.match(spec or "")
    if not m or m["repository"].endswith(":"):
        raise UsageError(f"{spec!r} is not an image reference", "write REPOSITORY:TAG, e.g. lscr.io/linuxserver/radarr:5.26.2")
    return {"repository": m["repository"], "tag": m["tag"]}


@dataclass
class AppEdit:
    name: str
    namespace: str
    chart: dict
    text: str
    namespace_added: bool = False


def add_app(doc, text: str, name: str, *, chart: str, namespace: str, image: str | None = None,
            port: int | None = None, ingress: str | None = None) -> AppEdit:
    lab = doc.lab
    for what, value in (("app name", name), ("namespace", namespace)):
        if not NAME_RE.match(value or ""):
            raise UsageError(f"{value!r} is not a valid {what}", "lowercase letters, digits and '-' (a DNS label)")
    if any(a.name == name and a.namespace == namespace for a in lab.apps):
        raise UsageError(f"app {namespace}/{name} already exists in {doc.file}")
    ch = parse_chart(chart)
    entry = {"name": name, "namespace": namespace, "chart": ch}
    if image:
        entry["image"] = parse_image(image)
    if port is not None:
        if not 1 <= port <= 65535:
            raise UsageError(f"port {port} is out of range 1-65535")
        entry["port"] = port
    if ingress:
        entry["ingress"] = ingress
    ed = LabEditor(text, doc.file)
    from ruamel.yaml.comments import CommentedMap

    nested = {}
    for k, v in entry.items():
        if isinstance(v, dict):
            m = CommentedMap(v)
            m.fa.set_flow_style()
            nested[k] = m
        else:
            nested[k] = v
    ed.append_entry(("apps",), nested)
    added = namespace not in lab.namespaces
    if added:
        if ed.get("namespaces") is None:  # the defaults were in effect: keep them
            for ns in lab.namespaces:
                ed.add_to_list(("namespaces",), ns)
        ed.add_to_list(("namespaces",), namespace)
    return AppEdit(name, namespace, ch, ed.dumps(), added)
