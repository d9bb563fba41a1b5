"""`homelab upgrade app NAME --to VERSION`: a chart upgrade as a lab edit, with what the new chart does
differently to the same values.

1. The app's chart version is edited in the lab (round trip, comments kept); the edited lab must check clean.
2. The values homelab hands the chart (the rendered Application's value files and inline values, resolved
   as ArgoCD resolves them: charts/application.py) are taken from the lab as it is, and both chart
   versions -- from the chart cache (`homelab charts pull`), each verified by its digest -- are templated
   with exactly those values (the Helm engine as a library: charts/helm.py).
3. Reported: the chart's own defaults (values.yaml) that were removed, added or changed between the
   versions; the keys of these values that the new values.yaml no longer has; the keys that shaped the
   old output and change nothing in the new one (charts/effect.py's probe: a key removed or renamed is
   silently ignored); the objects the new chart adds, drops or renders differently.
4. Validation: the new version must template with the values (an error stops the upgrade) and the
   edited lab must check clean; then the edit is committed and rendered (ops/edit_lab.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from homelab.errors import HomelabError, UsageError


@dataclass(frozen=True)
class ValueChange:
    key: str
    kind: str  # removed | added | changed
    old: Any = None
    new: Any = None

    def to_json(self) -> dict:
        return {"key": self.key, "kind": self.kind, "old": self.old, "new": self.new}


@dataclass
class AppUpgrade:
    app: str
    chart: str
    old: str
    new: str
    text: str  # the edited lab
    defaults: list[ValueChange] = field(default_factory=list)
    keys_gone: list[str] = field(default_factory=list)
    now_ignored: list[str] = field(default_factory=list)
    objects: dict[str, list[str]] = field(default_factory=lambda: {"added": [], "removed": [], "changed": []})

    def to_json(self) -> dict:
        return {"app": self.app, "chart": self.chart, "from": self.old, "to": self.new,
                "defaults": [c.to_json() for c in self.defaults], "keys_gone": self.keys_gone,
                "now_ignored": self.now_ignored, "objects": self.objects}


def flatten(node, prefix: tuple = ()) -> dict[str, Any]:
    """Leaf key paths of a values mapping ("a.b.c" -> value); lists and empty mappings are leaves."""
    if isinstance(node, dict) and node:
        out: dict[str, Any] = {}
        for k, v in node.items():
            out.update(flatten(v, (*prefix, str(k))))
        return out
    return {".".join(prefix): node} if prefix else {}


def default_changes(old: dict, new: dict) -> list[ValueChange]:
    a, b = flatten(old), flatten(new)
    out = [ValueChange(k, "removed", a[k]) for k in sorted(set(a) - set(b))]
    out += [ValueChange(k, "added", None, b[k]) for k in sorted(set(b) - set(a))]
    out += [ValueChange(k, "changed", a[k], b[k]) for k in sorted(set(a) & set(b)) if a[k] != b[k]]
    return out


def _app(doc, name: str):
    for i, app in enumerate(doc.lab.apps):
        if app.name == name:
            return i, app
    raise UsageError(f"there is no app named {name} in {doc.file}", "`homelab inventory` lists the lab's apps")


def edited_text(doc, name: str, version: str) -> str:
    from homelab.lab.edit import LabEditor

    i, app = _app(doc, name)
    if app.chart.version == version:
        raise UsageError(f"app {name} already runs chart {app.chart.name} {version}")
    editor = LabEditor(Path(doc.file).read_text(encoding="utf-8"), doc.file)
    editor.tree["apps"][i]["chart"]["version"] = version
    return editor.dumps()


def chart_values(doc, name: str):
    """(ChartSource, values) of the app's chart as the rendered Application hands them to Helm."""
    import yaml

    from homelab.charts.application import chart_sources, resolve_values
    from homelab.render import render_all

    files = {f.path: f.content for f in render_all(doc)}
    for text in files.values():
        if "kind: Application" not in text:
            continue
        for obj in yaml.safe_load_all(text):
            if not (isinstance(obj, dict) and obj.get("kind") == "Application"
                    and (obj.get("metadata") or {}).get("name") == name):
                continue
            sources = chart_sources(obj)
            if not sources:
                break

            def read(rel: str):
                return yaml.safe_load(files[rel]) if rel in files else None

            resolved = resolve_values(sources[0], read)
            return sources[0], resolved.values
    raise HomelabError(f"no rendered Application for app {name} holds a Helm chart")


def _objects(templated) -> dict[str, dict]:
    return {f"{o.get('kind')}/{(o.get('metadata') or {}).get('name')}": o for _, o in templated.objects
            if isinstance(o, dict)}


def compare(doc, name: str, version: str, cache, template_cache) -> AppUpgrade:
    """Everything but the commit: the edit, both templatings with the same values, the differences."""
    from homelab.charts import helm
    from homelab.charts.effect import ignored_values
    from homelab.charts.template import template
    from homelab.ops.edit_lab import EditRejected

    text = edited_text(doc, name, version)
    _, app = _app(doc, name)
    src, values = chart_values(doc, name)
    found = {}
    for v in (app.chart.version, version):
        found[v] = cache.find(app.chart.repo, app.chart.name, v)
        if found[v] is None:
            raise UsageError(f"{app.chart.name}-{v}.tgz is not in the chart cache ({cache.dir})",
                             f"pull it: `homelab charts pull` (after the edit for {version}), or copy the archive there")
    old, new = found[app.chart.version], found[version]
    result = AppUpgrade(name, app.chart.name, app.chart.version, version, text)
    t_old = template(old.path, old.digest, values, release=src.release, namespace=src.namespace,
                     include_crds=False, cache=template_cache)
    t_new = template(new.path, new.digest, values, release=src.release, namespace=src.namespace,
                     include_crds=False, cache=template_cache)
    if t_new.error:
        raise EditRejected(f"{doc.file} was not changed: {app.chart.name} {version} does not template with the "
                           f"app's values: {t_new.error}", [])
    d_old, d_new = helm.default_values(str(old.path)), helm.default_values(str(new.path))
    result.defaults = default_changes(d_old, d_new)
    flat_old, flat_new = flatten(d_old), flatten(d_new)
    mine = flatten(values)
    result.keys_gone = sorted(k for k in mine if _known(k, flat_old) and not _known(k, flat_new))
    ignored_old = {".".join(map(str, p)) for p in ignored_values(old.path, old.digest, values, release=src.release,
                                                                  namespace=src.namespace, cache=template_cache)}
    ignored_new = {".".join(map(str, p)) for p in ignored_values(new.path, new.digest, values, release=src.release,
                                                                  namespace=src.namespace, cache=template_cache)}
    result.now_ignored = sorted(ignored_new - ignored_old)
    a, b = _objects(t_old), _objects(t_new)
    result.objects = {"added": sorted(set(b) - set(a)), "removed": sorted(set(a) - set(b)),
                      "changed": sorted(k for k in set(a) & set(b) if _strip(a[k]) != _strip(b[k]))}
    return result


def _known(key: str, flat: dict) -> bool:
    """The key, or a parent of it, is a key of the chart's values.yaml."""
    parts = key.split(".")
    return any(".".join(parts[:i]) in flat for i in range(len(parts), 0, -1)) or any(
        k.startswith(key + ".") for k in flat)


def _strip(obj: dict) -> dict:
    """An object without what changes with every chart version by itself (chart/version labels)."""
    import copy

    out = copy.deepcopy(obj)
    for meta in _metas(out):
        for key in ("labels", "annotations"):
            for label in list(meta.get(key) or {}):
                if label in ("helm.sh/chart", "chart", "app.kubernetes.io/version"):
                    del meta[key][label]
    return out


def _metas(node):
    if isinstance(node, dict):
        if isinstance(node.get("metadata"), dict):
            yield node["metadata"]
        for v in node.values():
            yield from _metas(v)
    elif isinstance(node, list):
        for v in node:
            yield from _metas(v)


def validate_edit(doc, text: str) -> list:
    """The edited lab must load and check clean (warnings are returned)."""
    from homelab.checks import run_checks
    from homelab.diagnostics import Severity
    from homelab.errors import LoadError
    from homelab.lab.edit import reload
    from homelab.ops.edit_lab import EditRejected

    try:
        new = reload(doc, text)
    except LoadError as exc:
        raise EditRejected(f"{doc.file} was not changed: the edited file would not load", exc.diagnostics) from None
    diags = run_checks(new)
    if any(d.severity is Severity.ERROR for d in diags):
        raise EditRejected(f"{doc.file} was not changed: the edited lab would not check clean", diags)
    return diags


def commit(doc, upgrade: AppUpgrade, *, out=None):
    from homelab.ops.edit_lab import commit_edit

    return commit_edit(doc, upgrade.text, render=True, out=out)
