"""The platform as ArgoCD would sync it: every Application of `k8s/`, its objects — chart sources
templated with their values (charts/), directory sources read from the repository — and the AppProjects.

An object knows where it came from: a repository document (file and line), or a chart template of an
Application (pointing at the Application's `chart:` line). Namespaced objects without a namespace get the
Application's destination namespace, as ArgoCD gives them.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

from homelab.charts.application import ChartSource, chart_sources, resolve_values, sources_of
from homelab.validate.kube import CLUSTER_KINDS, group_of
from homelab.validate.tree import Doc, RepoTree

ARGO_GROUP = "argoproj.io"


@dataclass
class KObj:
    obj: dict
    file: str
    line: int
    app: App | None = None
    origin: str = "repo"  # repo | chart | crd
    template: str | None = None
    doc: Doc | None = None
    source: str = ""  # what it was made from (file content hash / templating key): names it in cache keys

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind", ""))

    @property
    def api_version(self) -> str:
        return str(self.obj.get("apiVersion", ""))

    @property
    def group(self) -> str:
        return group_of(self.api_version)

    @property
    def name(self) -> str:
        return str((self.obj.get("metadata") or {}).get("name", ""))

    @property
    def namespace(self) -> str | None:
        return (self.obj.get("metadata") or {}).get("namespace")

    @property
    def ident(self) -> str:
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {ns}{self.name}"

    @property
    def where(self) -> str:
        """How a message names the object: with its chart template when it came from one."""
        return f"{self.ident} ({self.template})" if self.template else self.ident


@dataclass
class ChartRun:
    source: ChartSource
    line: int  # of `chart:` in the Application
    chart_path: str | None = None
    digest: str | None = None
    values: dict = field(default_factory=dict)
    layers: list = field(default_factory=list)
    missing: list = field(default_factory=list)
    problems: list = field(default_factory=list)
    error: str | None = None
    unavailable: str | None = None
    templated: object = None  # charts.template.Templated


@dataclass
class App:
    name: str
    doc: Doc
    project: str
    namespace: str
    server: str
    charts: list[ChartRun] = field(default_factory=list)
    objects: list[KObj] = field(default_factory=list)

    @property
    def obj(self) -> dict:
        return self.doc.data

    @property
    def sync_options(self) -> list[str]:
        return [str(o) for o in ((self.obj.get("spec") or {}).get("syncPolicy") or {}).get("syncOptions") or []]


@dataclass
class Platform:
    tree: RepoTree
    apps: list[App] = field(default_factory=list)
    projects: dict[str, KObj] = field(default_factory=dict)
    objects: list[KObj] = field(default_factory=list)  # every object, each once (repo objects first)
    crd_scope: dict[tuple[str, str], str] = field(default_factory=dict)  # (group, kind) -> Namespaced|Cluster

    def namespaced(self, o: KObj) -> bool:
        scope = self.crd_scope.get((o.group, o.kind))
        if scope:
            return scope == "Namespaced"
        return o.kind not in CLUSTER_KINDS

    def of_kind(self, *kinds: str) -> list[KObj]:
        return [o for o in self.objects if o.kind in kinds]


def _is_object(data) -> bool:
    return isinstance(data, dict) and bool(data.get("apiVersion")) and bool(data.get("kind")) and \
        bool((data.get("metadata") or {}).get("name"))


def _directory_files(tree: RepoTree, source: dict) -> list[str]:
    path = str(source.get("path", "")).strip("/")
    directory = source.get("directory") or {}
    files = tree.files(path) if path else []
    if not directory.get("recurse"):
        files = [f for f in files if f.rpartition("/")[0] == path]

    def matches(f: str, pattern) -> bool:
        if not pattern:
            return False
        name = f[len(path) + 1:] if path else f
        pats = pattern.strip("{}").split(",") if pattern.startswith("{") else [pattern]
        return any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(f.rpartition("/")[2], p) for p in pats)

    if directory.get("include"):
        files = [f for f in files if matches(f, directory["include"])]
    if directory.get("exclude"):
        files = [f for f in files if not matches(f, directory["exclude"])]
    return files


def _chart_line(doc: Doc, source: ChartSource) -> int:
    spec = doc.data.get("spec") or {}
    base = ("spec", "sources", source.index) if spec.get("sources") else ("spec", "source")
    return doc.line_of((*base, "chart"))


def build(tree: RepoTree, charts) -> Platform:
    """`charts(app, run)` templates one chart source (see validate/templating.py) and fills the run."""
    p = Platform(tree)
    docs = [d for d in tree.k8s_docs if _is_object(d.data)]
    for d in docs:
        o = KObj(d.data, d.file, d.line, doc=d)
        if o.group == ARGO_GROUP and o.kind == "AppProject":
            p.projects[o.name] = o
    owned: dict[int, App] = {}
    for d in docs:
        data = d.data
        if group_of(str(data["apiVersion"])) != ARGO_GROUP or data["kind"] != "Application":
            continue
        spec = data.get("spec") or {}
        dest = spec.get("destination") or {}
        app = App(str(data["metadata"]["name"]), d, str(spec.get("project", "default")),
                  str(dest.get("namespace") or ""), str(dest.get("server") or dest.get("name") or ""))
        p.apps.append(app)
        for src in sources_of(data):
            if src.get("path") is not None and not src.get("chart"):
                for f in _directory_files(tree, src):
                    for fd in tree.docs(f):
                        if _is_object(fd.data):
                            owned[id(fd)] = app
        for cs in chart_sources(data):
            run = ChartRun(cs, _chart_line(d, cs))
            rv = resolve_values(cs, tree.mapping, None)
            run.values, run.layers, run.missing, run.problems = rv.values, rv.layers, rv.missing, rv.problems
            app.charts.append(run)
            charts(app, run)
    for d in docs:
        o = KObj(d.data, d.file, d.line, app=owned.get(id(d)), doc=d, source=f"{d.key}#{d.index}")
        p.objects.append(o)
        if o.app:
            o.app.objects.append(o)
    for app in p.apps:
        for run in app.charts:
            t = run.templated
            if t is None:
                continue
            for origin, items in (("crd", t.crds), ("chart", t.objects)):
                for template, obj in items:
                    if _is_object(obj):
                        o = KObj(obj, app.doc.file, run.line, app=app, origin=origin, template=template,
                                 source=f"{t.key}#{origin}")
                        app.objects.append(o)
                        p.objects.append(o)
    for o in p.objects:
        if o.kind == "CustomResourceDefinition":
            spec = o.obj.get("spec") or {}
            p.crd_scope[(spec.get("group"), (spec.get("names") or {}).get("kind"))] = spec.get("scope", "Namespaced")
    for app in p.apps:  # ArgoCD puts a namespaced object without a namespace into the destination namespace
        for o in app.objects:
            if not o.namespace and app.namespace and p.namespaced(o):
                o.obj = {**o.obj, "metadata": {**(o.obj.get("metadata") or {}), "namespace": app.namespace}}
    return p
