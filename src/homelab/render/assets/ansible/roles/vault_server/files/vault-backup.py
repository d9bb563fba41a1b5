#!/usr/bin/env python3
"""Scheduled Vault backup on the Vault VM (vault_server role; run by vault-backup.service from
vault-backup.timer). Reads its settings from the JSON file given with --config (no secret in it).

* raft storage: `vault operator raft snapshot save` (needs a token allowed to read
  sys/storage/raft/snapshot, in the file named by `token_file`).
* file storage (the seed's Vault): there is no snapshot API and Vault keeps running, so the data
  directory is copied twice and the copies compared; when they are equal no write happened in between
  and the copy is archived (tar.gz), else it tries again (5 times, then fails). This is what the seed
  did by hand (a tar of the data directory), made consistent.

Each backup is `vault-<UTC time>.<snap|tar.gz>` + `.sha256` + `.manifest.json` in `backup_dir` (0600),
the same shape `homelab backup vault` writes, so `homelab restore vault` reads either. The newest
`retention` sets are kept. With `offsite` set, the set is uploaded to the S3 bucket (boto3, Debian's
python3-boto3), manifest last, with the keys from `offsite_credentials_file` (0600, written by the
role from Vault), and the bucket is pruned to `retention` sets as well.
"""

import argparse
import filecmp
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import UTC, datetime


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def same_tree(a, b):
    cmp = filecmp.dircmp(a, b)
    if cmp.left_only or cmp.right_only or cmp.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)
    if mismatch or errors:
        return False
    return all(same_tree(os.path.join(a, d), os.path.join(b, d)) for d in cmp.common_dirs)


def stable_copy(data_dir, work, tries=5, pause=2.0):
    for _ in range(tries):
        first, second = os.path.join(work, "a"), os.path.join(work, "b")
        for d in (first, second):
            shutil.rmtree(d, ignore_errors=True)
        shutil.copytree(data_dir, first, symlinks=True)
        shutil.copytree(data_dir, second, symlinks=True)
        if same_tree(first, second):
            return first
        time.sleep(pause)
    raise SystemExit(f"vault-backup: {data_dir} kept changing during {tries} copies; try again later")


def write_private(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def snapshot_raft(cfg, payload):
    env = dict(os.environ, VAULT_ADDR=cfg["vault_addr"], BAO_ADDR=cfg["vault_addr"])
    if cfg.get("ca_cert"):
        env.update(VAULT_CACERT=cfg["ca_cert"], BAO_CACERT=cfg["ca_cert"])
    try:
        with open(cfg["token_file"]) as fh:
            token = fh.read().strip()
    except OSError as exc:
        raise SystemExit(f"vault-backup: raft snapshots need a token in {cfg['token_file']}: {exc.strerror}") from None
    env.update(VAULT_TOKEN=token, BAO_TOKEN=token)
    proc = subprocess.run([cfg.get("vault_bin", "vault"), "operator", "raft", "snapshot", "save", payload],
                          env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"vault-backup: snapshot failed: {proc.stderr.strip()}")
    os.chmod(payload, 0o600)


def archive_dir(cfg, payload):
    work = tempfile.mkdtemp(prefix=".vault-backup-", dir=cfg["backup_dir"])
    try:
        copy = stable_copy(cfg["data_dir"], work)
        fd = os.open(payload, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            tar.add(copy, arcname="data")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def make_backup(cfg, now=None):
    now = now or datetime.now(UTC)
    name = "vault-" + now.strftime("%Y%m%dT%H%M%S%fZ")
    out = cfg["backup_dir"]
    os.makedirs(out, mode=0o700, exist_ok=True)
    raft = cfg.get("storage") == "raft"
    payload = os.path.join(out, name + (".snap" if raft else ".tar.gz"))
    (snapshot_raft if raft else archive_dir)(cfg, payload)
    digest, size = sha256(payload), os.path.getsize(payload)
    write_private(os.path.join(out, name + ".sha256"), f"{digest}  {os.path.basename(payload)}\n".encode())
    manifest = {"format": 1, "kind": "raft-snapshot" if raft else "data-dir-tar",
                "created": now.isoformat(timespec="seconds"), "file": os.path.basename(payload), "size": size,
                "sha256": digest, "storage_type": cfg.get("storage", "file"), "host": socket.gethostname(),
                "made_by": "vault-backup.timer"}
    if not raft:
        manifest["data_dir"] = cfg["data_dir"]
    write_private(os.path.join(out, name + ".manifest.json"),
                  (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
    return name


def sets_in(directory):
    return sorted(f[: -len(".manifest.json")] for f in os.listdir(directory)
                  if f.startswith("vault-") and f.endswith(".manifest.json"))


def prune_local(directory, keep):
    removed = []
    for name in sets_in(directory)[:-keep]:
        for f in sorted(os.listdir(directory)):
            if f.startswith(name + "."):
                os.unlink(os.path.join(directory, f))
                removed.append(f)
    return removed


def s3_client(off, creds):
    import boto3  # Debian: python3-boto3 (installed by the role when offsite is set)

    verify = off.get("verify", True)
    return boto3.client("s3", endpoint_url=off["endpoint"], region_name=off.get("region") or "us-east-1",
                        aws_access_key_id=creds["access_key"], aws_secret_access_key=creds["secret_key"],
                        verify=verify if verify not in ("true", "false") else verify == "true")


def upload(cfg, name):
    off = cfg["offsite"]
    try:
        with open(cfg["offsite_credentials_file"]) as fh:
            creds = json.load(fh)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"vault-backup: the backup is kept locally, but the off-site copy needs the bucket's keys "
                         f"in {cfg['offsite_credentials_file']} ({exc}): run the vault playbook once Vault is "
                         "initialised (it writes them from Vault)") from None
    s3 = s3_client(off, creds)
    prefix = off.get("prefix", "").strip("/")
    key = (prefix + "/") if prefix else ""
    files = sorted(f for f in os.listdir(cfg["backup_dir"]) if f.startswith(name + "."))
    files.sort(key=lambda f: f.endswith(".manifest.json"))  # the manifest last: a set is complete once it is there
    for f in files:
        s3.upload_file(os.path.join(cfg["backup_dir"], f), off["bucket"], key + f)
    names = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=off["bucket"], Prefix=key + "vault-"):
        for obj in page.get("Contents", []):
            base = obj["Key"][len(key):]
            if base.endswith(".manifest.json"):
                names.add(base[: -len(".manifest.json")])
    old = sorted(names)[: -int(cfg["retention"])]
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=off["bucket"], Prefix=key + "vault-"):
        for obj in page.get("Contents", []):
            if any(obj["Key"][len(key):].startswith(n + ".") for n in old):
                s3.delete_object(Bucket=off["bucket"], Key=obj["Key"])
    return files


def main(argv=None):
    parser = argparse.ArgumentParser(description="Back up Vault (homelab vault_server role).")
    parser.add_argument("--config", default="/etc/vault.d/backup.json")
    args = parser.parse_args(argv)
    with open(args.config) as fh:
        cfg = json.load(fh)
    name = make_backup(cfg)
    print(f"vault-backup: wrote {name}")
    removed = prune_local(cfg["backup_dir"], int(cfg["retention"]))
    if removed:
        print(f"vault-backup: retention removed {len(removed)} old file(s)")
    if cfg.get("offsite"):
        files = upload(cfg, name)
        print(f"vault-backup: copied {len(files)} file(s) to s3://{cfg['offsite']['bucket']}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
