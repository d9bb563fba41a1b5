"""An ArgoCD Application's Helm sources, read as ArgoCD reads them (argo-cd v2.6+ multi-source):

- `spec.sources` (or the single `spec.source`); a source with `chart:` is a Helm chart from `repoURL` at
  `targetRevision`; a source with `ref: <name>` lends its repository to `$<name>/...` value files;
- release name `helm.releaseName`, else the Application's name; namespace `spec.destination.namespace`;
- values, lowest precedence first: the chart's values.yaml, `helm.valueFiles` in order, `helm.values`
  (a YAML string), `helm.valuesObject` (wins over `values`), `helm.parameters` (`--set`);
- CRDs of the chart's `crds/` are included unless `helm.skipCrds`.
(ArgoCD docs: user-guide/helm.md "Values Files", "Helm Release Name", "Helm Parameters";
user-guide/multiple_sources.md "Helm value files from external Git repository".)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ChartSource:
    app: str  # the Application's metadata.name
    index: int  # position in spec.sources (0 for spec.source)
    repo: str
    chart: str
    version: str
    release: str
    namespace: str
    value_files: tuple[str, ...] = ()
    values_text: str | None = None
    values_object: dict | None = None
    parameters: tuple = ()
    skip_crds: bool = False
    refs: dict = field(default_factory=dict)  # ref name -> repoURL of the source that declares it
    ignore_missing: bool = False


def sources_of(app: dict) -> list[dict]:
    spec = app.get("spec") or {}
    if spec.get("sources"):
        return [s for s in spec["sources"] if isinstance(s, dict)]
    return [spec["source"]] if isinstance(spec.get("source"), dict) else []


def chart_sources(app: dict) -> list[ChartSource]:
    """The Helm chart sources of an Application object."""
    meta = app.get("metadata") or {}
    spec = app.get("spec") or {}
    sources = sources_of(app)
    refs = {s["ref"]: s.get("repoURL", "") for s in sources if s.get("ref")}
    out = []
    for i, s in enumerate(sources):
        if not s.get("chart"):
            continue
        helm = s.get("helm") or {}
        out.append(ChartSource(
            app=str(meta.get("name", "")), index=i, repo=str(s.get("repoURL", "")), chart=str(s["chart"]),
            version=str(s.get("targetRevision", "")),
            release=str(helm.get("releaseName") or meta.get("name", "")),
            namespace=str((spec.get("destination") or {}).get("namespace") or ""),
            value_files=tuple(str(v) for v in helm.get("valueFiles") or ()),
            values_text=helm.get("values") if isinstance(helm.get("values"), str) else None,
            values_object=helm.get("valuesObject") if isinstance(helm.get("valuesObject"), dict) else None,
            parameters=tuple((str(p.get("name")), str(p.get("value", "")), bool(p.get("forceString")))
                             for p in helm.get("parameters") or () if isinstance(p, dict)),
            skip_crds=bool(helm.get("skipCrds")), refs=refs,
            ignore_missing=bool(helm.get("ignoreMissingValueFiles")),
        ))
    return out


def merge(base: dict, over: dict) -> dict:
    """Helm's merge of a later values file over an earlier one: maps merge, everything else replaces."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


@dataclass
class ResolvedValues:
    values: dict
    layers: list[tuple[str, dict]]  # (value file as written, its data), in order
    missing: list[str]  # value files that do not exist
    problems: list[str]


def resolve_values(src: ChartSource, read_repo_file, chart_files=None) -> ResolvedValues:
    """Merge the source's values as ArgoCD hands them to Helm. `read_repo_file(path)` returns the parsed
    YAML mapping of a file of the validated repository (None when absent); `chart_files()` the chart's
    own files (for a value file named without `$ref/`)."""
    import yaml

    values: dict = {}
    layers: list[tuple[str, dict]] = []
    missing: list[str] = []
    problems: list[str] = []
    for vf in src.value_files:
        data: Any
        if vf.startswith("$"):
            ref, _, rel = vf[1:].partition("/")
            if ref not in src.refs:
                problems.append(f"{vf}: no source declares `ref: {ref}`")
                continue
            data = read_repo_file(rel)
        else:
            text = (chart_files() if chart_files else {}).get(vf)
            data = yaml.safe_load(text) if text is not None else None
        if data is None:
            if not src.ignore_missing:
                missing.append(vf)
            continue
        if not isinstance(data, dict):
            problems.append(f"{vf}: not a mapping of values")
            continue
        layers.append((vf, data))
        values = merge(values, data)
    if src.values_text:
        try:
            data = yaml.safe_load(src.values_text)
        except yaml.YAMLError as exc:
            problems.append(f"helm.values is not YAML: {exc}")
            data = None
        if isinstance(data, dict):
            layers.append(("helm.values", data))
            values = merge(values, data)
    if src.values_object:
        layers.append(("helm.valuesObject", src.values_object))
        values = merge(values, src.values_object)
    if src.parameters:
        from homelab.charts import helm

        for name, value, force in src.parameters:
            values = merge(values, helm.parse_set(f"{name}={value}", string=force))
    return ResolvedValues(values, layers, missing, problems)
