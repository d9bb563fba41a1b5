"""`homelab app add NAME --chart REPO/CHART@VERSION --namespace NS` and `homelab app remove NAME` as edits of
the lab file.

Chart syntax: the Helm repository URL (https://, http:// or oci://), a slash, the chart name, `@`,
and the exact chart version (SemVer, as Helm requires), e.g.

    https://bjw-s-labs.github.io/helm-charts/app-template@4.1.1
    oci://ghcr.io/bjw-s-labs/helm/app-template@4.1.1

The version is mandatory: charts are pinned. A namespace the lab does not declare is added to
`namespaces` only with consent (`create_namespace`, the CLI's `--create-namespace`): a typo must not
become a new namespace. Options, each giving one field of the app (lab/models/apps.py):

    --storage NAME:SIZE:MOUNT[:CLASS]   a persistent volume (repeatable), e.g. config:5GiB:/config
    --secret PATH#FIELD[=ENV]           a Vault field as an environment variable (repeatable)
    --gpu N                             nvidia.com/gpu count (pins the app to a GPU node)
    --backup SCHEDULE[:DAYS]            Velero backup of its volumes: hourly, daily or weekly, kept DAYS

`app remove NAME [--namespace NS]` takes the entry out of `apps`; its namespace stays declared (other
things may live there) and the catalogue secrets it used stay in Vault — the result says which.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

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
    notes: list[str] = field(default_factory=list)  # what the edit leaves behind (app remove)


BACKUP_SCHEDULES = ("hourly", "daily", "weekly")


def parse_storage(spec: str) -> dict:
    parts = (spec or "").split(":")
    if len(parts) not in (3, 4) or not all(parts) or not parts[2].startswith("/"):
        raise UsageError(f"--storage {spec!r} is not NAME:SIZE:MOUNT[:CLASS]", "e.g. --storage config:5GiB:/config")
    if not NAME_RE.match(parts[0]):
        raise UsageError(f"--storage {spec!r}: volume name {parts[0]!r} is not a DNS label")
    from homelab.lab.types import parse_size

    try:
        if parse_size(parts[1]) <= 0:
            raise ValueError
    except ValueError:
        raise UsageError(f"--storage {spec!r}: {parts[1]!r} is not a size", "e.g. 5GiB, 500MiB") from None
    vol = {"name": parts[0], "size": parts[1], "mount": parts[2]}
    if len(parts) == 4:
        vol["class"] = parts[3]
    return vol


def parse_secret(spec: str) -> dict:
    path, _, rest = (spec or "").partition("#")
    fld, _, env = rest.partition("=")
    if not path.strip("/") or not fld or "," in fld:
        raise UsageError(f"--secret {spec!r} is not PATH#FIELD[=ENV]", "e.g. --secret apps/plex#claim_token=PLEX_CLAIM")
    use = {"path": path.strip("/"), "field": fld}
    if env:
        if not re.match(r"^[A-Z_][A-Z0-9_]*$", env):
            raise UsageError(f"--secret {spec!r}: {env!r} is not an environment variable name", "e.g. PLEX_CLAIM")
        use["env"] = env
    return use


def parse_backup(spec: str) -> dict:
    schedule, _, days = (spec or "").partition(":")
    if schedule not in BACKUP_SCHEDULES or (days and (not days.isdigit() or int(days) < 1)):
        raise UsageError(f"--backup {spec!r} is not SCHEDULE[:DAYS]",
                         f"SCHEDULE is {', '.join(BACKUP_SCHEDULES)}; DAYS kept, e.g. --backup daily:30")
    return {"schedule": schedule, **({"retention_days": int(days)} if days else {})}


def _flow(value):
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(value, dict):
        m = CommentedMap(value)
        m.fa.set_flow_style()
        return m
    if isinstance(value, list):
        seq = CommentedSeq([_flow(v) for v in value])
        seq.fa.set_flow_style()
        return seq
    return value


def add_app(doc, text: str, name: str, *, chart: str, namespace: str, image: str | None = None,
            port: int | None = None, ingress: str | None = None, storage: list[str] = (),
            secrets: list[str] = (), gpu: int | None = None, backup: str | None = None,
            create_namespace: bool = False) -> AppEdit:
    lab = doc.lab
    for what, value in (("app name", name), ("namespace", namespace)):
        if not NAME_RE.match(value or ""):
            raise UsageError(f"{value!r} is not a valid {what}", "lowercase letters, digits and '-' (a DNS label)")
    if any(a.name == name and a.namespace == namespace for a in lab.apps):
        raise UsageError(f"app {namespace}/{name} already exists in {doc.file}")
    added = namespace not in lab.namespaces
    if added and not create_namespace:
        raise UsageError(f"namespace {namespace!r} is not declared in `namespaces` of {doc.file}",
                         f"pass --create-namespace to add it, or use one of: {', '.join(lab.namespaces)}")
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
    if storage:
        entry["storage"] = [parse_storage(s) for s in storage]
    if gpu:
        if not 1 <= gpu <= 8:
            raise UsageError(f"--gpu {gpu} is out of range 1-8")
        entry["gpu"] = gpu
    if secrets:
        entry["secrets"] = [parse_secret(s) for s in secrets]
    if backup:
        entry["backup"] = parse_backup(backup)
    ed = LabEditor(text, doc.file)
    ed.append_entry(("apps",), {k: _flow(v) for k, v in entry.items()})
    if added:
        if ed.get("namespaces") is None:  # the defaults were in effect: keep them
            for ns in lab.namespaces:
                ed.add_to_list(("namespaces",), ns)
        ed.add_to_list(("namespaces",), namespace)
    return AppEdit(name, namespace, ch, ed.dumps(), added)


def remove_app(doc, text: str, name: str, namespace: str | None = None) -> AppEdit:
    lab = doc.lab
    found = [a for a in lab.apps if a.name == name and (namespace is None or a.namespace == namespace)]
    if not found:
        where = f" in namespace {namespace}" if namespace else ""
        raise UsageError(f"there is no app named {name}{where} in {doc.file}",
                         "apps: " + ", ".join(sorted(f"{a.namespace}/{a.name}" for a in lab.apps)))
    if len(found) > 1:
        raise UsageError(f"{len(found)} apps are named {name}", "say which with --namespace: "
                         + ", ".join(sorted(a.namespace for a in found)))
    app = found[0]
    ed = LabEditor(text, doc.file)
    ed.remove_entry(("apps",), lambda item: hasattr(item, "get") and item.get("name") == app.name
                    and item.get("namespace") == app.namespace)
    notes = []
    if not any(a.namespace == app.namespace for a in lab.apps if a is not app):
        notes.append(f"namespace {app.namespace} stays in `namespaces` (no other app uses it: remove it by hand "
                     "if nothing else lives there)")
    others = {u.path for a in lab.apps if a is not app for u in a.secrets}
    for path in sorted({u.path for u in app.secrets} - others):
        notes.append(f"secret {path} stays in the catalogue and in Vault (no other app uses it)")
    if app.storage:
        notes.append(f"its volumes ({', '.join(v.name for v in app.storage)}) are deleted with the app's "
                     "PersistentVolumeClaims when ArgoCD prunes it, depending on the storage class's reclaim policy")
    return AppEdit(app.name, app.namespace, {"name": app.chart.name, "version": app.chart.version}, ed.dumps(),
                   notes=notes)
