"""Elasticsearch in `homelab backup elasticsearch` / `homelab restore elasticsearch` / `homelab drill`.

The repository and the SLM policy are registered by the elasticsearch role (render/ansible.py); here: a
snapshot now (`manual-<UTC time>`, metadata taken_by: homelab — SLM's retention leaves snapshots it did not
make alone), and a restore under new names only (rename_pattern/rename_replacement; the live indices are
never overwritten). Always through an endpoint the user gives (--es-url): the lab's own addresses are not
guessed. The `elastic` password: ELASTIC_PASSWORD when set, else read from Vault
(elastic/cluster#elastic_password, what the role uses).
"""

from __future__ import annotations

import os
import re
import time
from datetime import UTC, datetime

from homelab.errors import UsageError
from homelab.lab.refs import parse_ref
from homelab.ops.backup import Prepared

ELASTIC_PASSWORD = "elastic/cluster#elastic_password"


def _repo(lab) -> str | None:
    es = lab.clusters.elasticsearch
    return es.snapshot_repository.name if es and es.snapshot_repository else None


def client(lab, url: str, ca: str | None, api=None):
    from homelab.engines.elasticsearch import EsApi
    from homelab.secrets import REDACTOR

    password = os.environ.get("ELASTIC_PASSWORD")
    if not password and callable(api):
        api = api()  # a Vault client only when it is needed
    if not password and api is not None:
        path, fields = parse_ref(ELASTIC_PASSWORD)
        got = api.kv_read(path)
        password = got[0].get(fields[0]) if got else None
    if not password:
        raise UsageError("no password for the elastic user", "set ELASTIC_PASSWORD, or unseal Vault (it is read "
                         "from elastic/cluster#elastic_password)")
    REDACTOR.add(password)
    return EsApi(url, password=password, ca_file=ca)


def prepare_backup(lab, url: str | None, ca: str | None, api=None) -> Prepared:
    repo = _repo(lab)
    if repo is None:
        return Prepared(skip="the lab has no Elasticsearch snapshot repository")
    if not url:
        return Prepared(skip="no endpoint (pass --es-url; the lab's addresses are never guessed)")
    es = client(lab, url, ca, api)
    name = "manual-" + datetime.now(UTC).strftime("%Y%m%dt%H%M%Sz")
    lines = [f"elasticsearch: snapshot {name} of every index in repository {repo} through {es.url}"]
    return Prepared(lines, lambda say: run_backup(es, repo, name, say))


def run_backup(es, repo: str, name: str, say) -> dict:
    say(f"elasticsearch: taking snapshot {name} (waits for completion)")
    started = time.monotonic()
    info = es.create_snapshot(repo, name, metadata={"taken_by": "homelab backup"})
    shards = info.get("shards") or {}
    say(f"elasticsearch: {info.get('state')}, {len(info.get('indices') or [])} index(es), "
        f"{shards.get('successful', 0)}/{shards.get('total', 0)} shards")
    return {"kind": "elasticsearch", "what": f"snapshot {repo}/{name}", "snapshot": name, "state": info.get("state"),
            "indices": info.get("indices") or [], "shards": shards, "uuid": info.get("uuid"),
            "created": info.get("end_time") or info.get("start_time"), "seconds": round(time.monotonic() - started, 3)}


def rename(index: str | None, as_: str | None, stamp: str) -> tuple[str | None, str, str]:
    """(indices, rename_pattern, rename_replacement): one index under --as (default restored-<index>), or every
    index of the snapshot under restored-<stamp>-<name>."""
    if as_ and not index:
        raise UsageError("--as needs --index (the one index to restore under that name)")
    if index:
        new = as_ or f"restored-{index}"
        if new == index:
            raise UsageError(f"--as {new} is the index's own name", "restores never overwrite a live index")
        if "*" in index:
            return index, "^(.+)$", f"{new}-$1"
        if re.search(r"[$\\]", new):
            raise UsageError(f"--as {new!r}: a new index name has no '$' or '\\'")
        return index, f"^{re.escape(index)}$", new
    return None, "^(.+)$", f"restored-{stamp}-$1"


def prepare_restore(lab, url: str, ca: str | None, snapshot: str, index: str | None, as_: str | None,
                    api=None) -> Prepared:
    repo = _repo(lab)
    if repo is None:
        raise UsageError("the lab has no Elasticsearch snapshot repository")
    es = client(lab, url, ca, api)
    indices, pattern, replacement = rename(index, as_, datetime.now(UTC).strftime("%Y%m%dt%H%M%S"))
    what = f"index {index}" if index else "every index"
    lines = [f"elasticsearch: {what} of snapshot {repo}/{snapshot} as {replacement.replace('$1', '<name>')} "
             f"through {es.url} (live indices untouched)"]
    return Prepared(lines, lambda say: run_restore(es, repo, snapshot, indices, pattern, replacement, say))


def run_restore(es, repo, snapshot, indices, pattern, replacement, say) -> dict:
    say(f"restoring from {repo}/{snapshot} (waits for completion)")
    started = time.monotonic()
    out = es.restore(repo, snapshot, indices=indices, rename_pattern=pattern, rename_replacement=replacement)
    return {"kind": "elasticsearch", "what": f"restore of {repo}/{snapshot}", "snapshot": snapshot,
            "indices": sorted(out.get("indices") or []), "shards": out.get("shards") or {},
            "seconds": round(time.monotonic() - started, 3)}
