#!/usr/bin/env bash
# Installs the Ansible collection the tests use to run a real Vault lookup (community.hashi_vault),
# taken from the `ansible` package on PyPI (no Galaxy access here). Install-time only: the tests
# themselves never download anything.
set -euo pipefail
cd "$(dirname "$0")/.."
BUNDLE="${ANSIBLE_BUNDLE:-12.3.0}"
DEST=".venv/share/homelab-test-collections/ansible-${BUNDLE}"
MANIFEST="$DEST/ansible_collections/community/hashi_vault/MANIFEST.json"
[ -f "$MANIFEST" ] && exit 0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
.venv/bin/python -m pip download --quiet --no-deps --only-binary=:all: "ansible==${BUNDLE}" -d "$tmp"
.venv/bin/python - "$tmp" "$DEST" <<'PY'
import pathlib, shutil, sys, zipfile
tmp, dest = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
prefix = "ansible_collections/community/hashi_vault/"
staging = pathlib.Path(str(dest) + ".partial")
shutil.rmtree(staging, ignore_errors=True)
with zipfile.ZipFile(next(tmp.glob("ansible-*.whl"))) as wheel:
    wheel.extractall(staging, [n for n in wheel.namelist() if n.startswith(prefix)])
shutil.rmtree(dest, ignore_errors=True)
dest.parent.mkdir(parents=True, exist_ok=True)
staging.rename(dest)
PY
echo "installed community.hashi_vault from ansible ${BUNDLE} into $DEST"
