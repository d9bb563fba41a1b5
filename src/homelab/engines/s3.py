"""S3-compatible object storage (TrueNAS/MinIO in the lab, AWS S3): a thin adapter over boto3 for backup
sets. A set is `<name>.<payload>`, `<name>.sha256` and `<name>.manifest.json` under the prefix; the
manifest is uploaded last, so a set whose manifest is listed is complete (the Vault VM's
vault-backup.py writes the same layout). boto3 is imported when a store is used, never at start.

Requests (boto3, S3 REST API): PutObject (upload_file; multipart above 8 MiB), ListObjectsV2 with a
prefix, GetObject (download_file), DeleteObject. Errors become EngineError naming the bucket and the
S3 error code; the keys never appear in a message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from homelab.errors import EngineError

MANIFEST = ".manifest.json"


def boto3_client(endpoint: str, region: str, access_key: str, secret_key: str, verify: bool | str):
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=endpoint, region_name=region, aws_access_key_id=access_key,
                        aws_secret_access_key=secret_key, verify=verify,
                        config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=10,
                                      read_timeout=60, s3={"addressing_style": "path"}))


def _error_code(exc: BaseException) -> str | None:
    """The S3 error code (NoSuchBucket, AccessDenied, ...) of a botocore ClientError, also when boto3's transfer
    layer wrapped it (S3UploadFailedError keeps only its text: "An error occurred (NoSuchBucket) when ...")."""
    import re

    seen = exc
    while seen is not None:
        response = getattr(seen, "response", None)
        if isinstance(response, dict) and response.get("Error", {}).get("Code"):
            return str(response["Error"]["Code"])
        seen = seen.__cause__ or seen.__context__
    m = re.search(r"An error occurred \((\w+)\)", str(exc))
    return m.group(1) if m else None


@dataclass
class ObjectStore:
    endpoint: str
    bucket: str
    prefix: str
    region: str = "us-east-1"
    access_key: str = field(default="", repr=False)
    secret_key: str = field(default="", repr=False)
    verify: bool | str = True
    factory: Callable = field(default=boto3_client, repr=False)
    _client: object = field(default=None, repr=False)

    @property
    def where(self) -> str:
        return f"s3://{self.bucket}/{self._key('')} at {self.endpoint}"

    def _key(self, name: str) -> str:
        prefix = self.prefix.strip("/")
        return f"{prefix}/{name}" if prefix else name

    @property
    def client(self):
        if self._client is None:
            self._client = self.factory(self.endpoint, self.region, self.access_key, self.secret_key, self.verify)
        return self._client

    def _call(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # botocore's ClientError / EndpointConnectionError / S3UploadFailedError
            code = _error_code(exc)
            reason = code or type(exc).__name__
            hint = {"NoSuchBucket": f"create the bucket {self.bucket!r} on the storage first",
                    "InvalidAccessKeyId": "check the keys the lab's credentials reference points at",
                    "SignatureDoesNotMatch": "check the keys the lab's credentials reference points at",
                    "AccessDenied": "the keys may not write to this bucket"}.get(str(code),
                                                                                  f"is {self.endpoint} reachable?")
            raise EngineError(f"S3 {what} in bucket {self.bucket!r} at {self.endpoint} failed: {reason}", hint) from None

    def _objects(self) -> list[str]:
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in self._call("list", lambda: list(paginator.paginate(Bucket=self.bucket,
                                                                         Prefix=self._key("vault-")))):
            keys += [o["Key"] for o in page.get("Contents", [])]
        return sorted(keys)

    def sets(self) -> list[str]:
        """Names of the complete sets (those with a manifest), oldest first."""
        base = len(self._key(""))
        return sorted(k[base: -len(MANIFEST)] for k in self._objects() if k.endswith(MANIFEST))

    def upload_set(self, directory: Path, name: str) -> list[str]:
        files = sorted((p for p in Path(directory).iterdir() if p.name.startswith(f"{name}.")),
                       key=lambda p: (p.name.endswith(MANIFEST), p.name))
        for p in files:
            self._call(f"upload of {p.name}", self.client.upload_file, str(p), self.bucket, self._key(p.name))
        return [p.name for p in files]

    def download_set(self, name: str, directory: Path) -> Path:
        """Download a set into directory (files 0600); returns its manifest path."""
        import os

        base = len(self._key(""))
        names = [k[base:] for k in self._objects() if k[base:].startswith(f"{name}.")]
        if f"{name}{MANIFEST}" not in names:
            raise EngineError(f"no backup {name} in {self.where}", "list them with `homelab restore vault --from s3`")
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        for n in sorted(names):
            dest = directory / n
            tmp = directory / f".{n}.part"
            tmp.unlink(missing_ok=True)
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            self._call(f"download of {n}", self.client.download_file, self.bucket, self._key(n), str(tmp))
            os.chmod(tmp, 0o600)
            os.replace(tmp, dest)
        return directory / f"{name}{MANIFEST}"

    def prune(self, keep: int) -> list[str]:
        old = self.sets()[:-keep] if keep > 0 else []
        base = len(self._key(""))
        removed = []
        for k in self._objects():
            if any(k[base:].startswith(f"{n}.") for n in old):
                self._call(f"delete of {k}", self.client.delete_object, Bucket=self.bucket, Key=k)
                removed.append(k[base:])
        return removed
