"""`homelab charts pull` against a real HTTP chart repository served on 127.0.0.1 from the packaged upstream
charts (../shared/charts) with an index.yaml carrying their sha256 digests, as Helm repositories do. The lab
is the reference lab with every chart repository pointed at that server."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from homelab.charts.cache import ChartCache
from homelab.charts.pull import ChartRef, PullError, pull

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from validate.conftest import need_charts  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
LAB = ROOT / "examples" / "reference" / "homelab.yaml"
UNNAMED = {  # platform components the reference lab leaves at their defaults (lab/models/platform.py)
    "metallb": ("metallb-system", "metallb", "0.16.1"),
    "democratic_csi": ("democratic-csi", "democratic-csi", "0.15.1"),
    "nvidia_device_plugin": ("nvidia-device-plugin", "nvidia-device-plugin", "0.20.0"),
}


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def index(directory: Path, *, digests: bool = True) -> None:
    entries: dict[str, list] = {}
    for tgz in sorted(directory.glob("*.tgz")):
        name, version = re.fullmatch(r"(.+)-(\d[^-]*(?:-[^-]+)?)\.tgz", tgz.name).groups()
        entry = {"name": name, "version": version, "urls": [f"charts/{tgz.name}"], "apiVersion": "v2"}
        if digests:
            entry["digest"] = hashlib.sha256(tgz.read_bytes()).hexdigest()
        entries.setdefault(name, []).append(entry)
    (directory.parent / "index.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "entries": entries}))


@pytest.fixture
def repo(tmp_path):
    charts = need_charts()
    root = tmp_path / "repo"
    (root / "charts").mkdir(parents=True)
    for tgz in charts.glob("*.tgz"):
        shutil.copy(tgz, root / "charts")
    index(root / "charts")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def local_lab(tmp_path: Path, url: str) -> Path:
    text = re.sub(r'repo: "https?://[^"]+"', f'repo: "{url}"', LAB.read_text())
    extra = "".join(f"  {key}:\n    namespace: {ns}\n    chart: {{repo: \"{url}\", name: {name}, version: {v}}}\n"
                    for key, (ns, name, v) in UNNAMED.items())
    text = text.replace("platform:\n", "platform:\n" + extra, 1)
    text = text.replace("    create_namespace: true\n",
                        f"    create_namespace: true\n    chart: {{repo: \"{url}\", name: argo-cd, version: 10.1.1}}\n")
    # cert-manager's chart is not among the packaged charts (../shared/charts): the local repository cannot serve it
    assert "  cert_manager: {enabled: true}" in text
    text = text.replace("  cert_manager: {enabled: true}", "  cert_manager: {enabled: false}", 1)
    path = tmp_path / "homelab.yaml"
    path.write_text(text)
    return path


def test_pull_fills_the_cache_verified_by_digest_and_a_second_run_only_checks(repo, tmp_path):
    root, url = repo
    lab = local_lab(tmp_path, url)
    cache = tmp_path / "cache"
    out = subprocess.run([sys.executable, "-m", "homelab", "charts", "pull", str(lab), "--dir", str(cache),
                          "--format", "json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    pulled = json.loads(out.stdout)["charts"]
    assert len(pulled) == 12 and {p["status"] for p in pulled} == {"pulled"}
    assert all(p["repo"] == url for p in pulled)  # nothing reached beyond the local repository
    for p in pulled:
        archive = cache / f"{p['name']}-{p['version']}.tgz"
        assert p["digest"] == "sha256:" + hashlib.sha256(archive.read_bytes()).hexdigest()
        assert archive.read_bytes() == (root / "charts" / archive.name).read_bytes()
    lock = json.loads((cache / "charts.lock.json").read_text())["charts"]
    assert len(lock) == 12
    again = subprocess.run([sys.executable, "-m", "homelab", "charts", "pull", str(lab), "--dir", str(cache),
                            "--format", "json"], capture_output=True, text=True)
    assert {p["status"] for p in json.loads(again.stdout)["charts"]} == {"cached"}


def test_a_download_that_does_not_match_the_index_digest_is_refused(repo, tmp_path):
    root, url = repo
    archive = root / "charts" / "traefik-41.3.0.tgz"
    archive.write_bytes(archive.read_bytes() + b"tampered")  # the index still has the original digest
    cache = ChartCache(tmp_path / "cache")
    with pytest.raises(PullError) as info:
        pull([ChartRef(url, "traefik", "41.3.0")], cache)
    assert "digest" in info.value.message and "the repository index says" in info.value.message
    assert not (tmp_path / "cache" / "traefik-41.3.0.tgz").exists()


def test_an_index_without_digests_is_refused(repo, tmp_path):
    root, url = repo
    index(root / "charts", digests=False)
    with pytest.raises(PullError) as info:
        pull([ChartRef(url, "metallb", "0.16.1")], ChartCache(tmp_path / "cache"))
    assert "no digest" in info.value.message


def test_an_unknown_version_names_the_versions_there(repo, tmp_path):
    _, url = repo
    with pytest.raises(PullError) as info:
        pull([ChartRef(url, "metallb", "9.9.9")], ChartCache(tmp_path / "cache"))
    assert "has no chart metallb 9.9.9" in info.value.message and "0.16.1" in info.value.hint


def test_a_cached_chart_replaced_after_the_pull_is_refused_by_validate(repo, tmp_path):
    _, url = repo
    cache = ChartCache(tmp_path / "cache")
    pull([ChartRef(url, "metallb", "0.16.1")], cache)
    archive = tmp_path / "cache" / "metallb-0.16.1.tgz"
    archive.write_bytes(archive.read_bytes() + b"x")
    from homelab.charts.cache import CacheError

    with pytest.raises(CacheError):
        ChartCache(tmp_path / "cache").find(url, "metallb", "0.16.1")
