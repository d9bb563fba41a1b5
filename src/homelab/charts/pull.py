"""`homelab charts pull`: fill the chart cache with every chart the lab names, verified by digest.

The charts are the Helm sources of the Applications the lab renders (`k8s/`), plus ArgoCD's own chart
(`gitops.argocd.chart`). For each chart version not cached yet:
- an HTTP(S) chart repository: its `index.yaml` (Helm's repository format: `entries.<name>[]` with
  `version`, `urls`, `digest` = sha256 of the archive) — the archive is downloaded from the entry's first
  URL (relative URLs against the repository), its sha256 compared with the index's digest, and only then
  moved into the cache (atomically); an entry without a digest is refused;
- an OCI registry (`oci://host/path`): pulled with the Helm engine (it checks the blob's digest against the
  manifest), and its sha256 recorded.
The digest of each pulled chart goes into `charts.lock.json`; a later run verifies cached archives against it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from homelab.charts.cache import ChartCache, archive_name
from homelab.errors import HomelabError

TIMEOUT = 30.0


class PullError(HomelabError):
    """A chart cannot be pulled or does not match its digest."""

    exit_code = 3


@dataclass(frozen=True)
class ChartRef:
    repo: str
    name: str
    version: str


@dataclass
class Pulled:
    ref: ChartRef
    status: str  # cached | pulled
    digest: str
    path: Path


def lab_charts(doc) -> list[ChartRef]:
    """Every chart the lab's rendering names (Applications' Helm sources) and ArgoCD's chart."""
    import yaml

    from homelab.charts.application import chart_sources
    from homelab.charts.template import yaml_loader
    from homelab.render import render_all

    refs = set()
    for f in render_all(doc):
        if not f.path.startswith("k8s/") or "kind: Application" not in f.content:
            continue
        for obj in yaml.load_all(f.content, Loader=yaml_loader()):
            if isinstance(obj, dict) and obj.get("kind") == "Application":
                refs |= {ChartRef(s.repo, s.chart, s.version) for s in chart_sources(obj)}
    gitops = doc.lab.gitops
    if gitops and gitops.argocd.chart.version:
        c = gitops.argocd.chart
        refs.add(ChartRef(c.repo, c.name, c.version))
    return sorted(refs, key=lambda r: (r.name, r.version, r.repo))


def _get(url: str) -> bytes:
    if urllib.parse.urlparse(url).scheme not in ("http", "https"):
        raise PullError(f"cannot fetch {url}: only http(s) and oci:// chart repositories are supported")
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as resp:  # noqa: S310 - scheme checked above
            return resp.read()
    except OSError as exc:
        raise PullError(f"cannot fetch {url}: {getattr(exc, 'reason', exc)}",
                        "is the repository reachable from here? (or copy the packaged charts into the cache)") from None


def _index(repo: str, memo: dict) -> dict:
    if repo not in memo:
        import yaml

        url = repo.rstrip("/") + "/index.yaml"
        try:
            memo[repo] = yaml.safe_load(_get(url)) or {}
        except yaml.YAMLError:
            raise PullError(f"{url} is not a Helm repository index (not YAML)") from None
    return memo[repo]


def _write_verified(data: bytes, digest: str, target: Path, source: str) -> None:
    got = "sha256:" + hashlib.sha256(data).hexdigest()
    if got != digest:
        raise PullError(f"{source}: the archive's digest is {got}, the repository index says {digest}",
                        "the download was changed in transit or the repository is inconsistent; nothing was cached")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, target)


def _pull_http(ref: ChartRef, cache: ChartCache, memo: dict) -> str:
    index = _index(ref.repo, memo)
    entries = (index.get("entries") or {}).get(ref.name) or []
    entry = next((e for e in entries if str(e.get("version")) == ref.version), None)
    if entry is None:
        raise PullError(f"{ref.repo} has no chart {ref.name} {ref.version}",
                        f"versions there: {', '.join(str(e.get('version')) for e in entries[:8]) or 'none'}")
    digest = str(entry.get("digest") or "")
    if not digest:
        raise PullError(f"{ref.repo}: the index gives no digest for {ref.name} {ref.version}: refusing an "
                        "unverifiable download")
    digest = digest if digest.startswith("sha256:") else "sha256:" + digest
    urls = entry.get("urls") or []
    if not urls:
        raise PullError(f"{ref.repo}: the index gives no URL for {ref.name} {ref.version}")
    url = urllib.parse.urljoin(ref.repo.rstrip("/") + "/", str(urls[0]))
    _write_verified(_get(url), digest, cache.dir / archive_name(ref.name, ref.version), url)
    return digest


def _pull_oci(ref: ChartRef, cache: ChartCache) -> str:
    from homelab.charts import helm
    from homelab.charts.cache import file_digest

    with tempfile.TemporaryDirectory(dir=cache.dir) as tmp:
        path = Path(helm.pull_oci(f"{ref.repo.rstrip('/')}/{ref.name}", ref.version, tmp))
        digest = file_digest(path)
        os.replace(path, cache.dir / archive_name(ref.name, ref.version))
    return digest


def pull(refs: list[ChartRef], cache: ChartCache, progress=None) -> list[Pulled]:
    cache.dir.mkdir(parents=True, exist_ok=True)
    memo: dict = {}
    out = []
    for ref in refs:
        found = cache.find(ref.repo, ref.name, ref.version)
        if found is not None and cache.lock.get(f"{ref.repo.rstrip('/')}|{ref.name}|{ref.version}"):
            out.append(Pulled(ref, "cached", found.digest, found.path))
            continue
        if progress:
            progress(f"pulling {ref.name} {ref.version} from {ref.repo}")
        digest = _pull_oci(ref, cache) if ref.repo.startswith("oci://") else _pull_http(ref, cache, memo)
        cache.record(ref.repo, ref.name, ref.version, digest)
        out.append(Pulled(ref, "pulled", digest, cache.dir / archive_name(ref.name, ref.version)))
    return out
