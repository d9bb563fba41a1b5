#!/usr/bin/env bash
# Builds (once) the cached Debian root the sandbox test hosts boot from, BEFORE the test session starts:
# as root the session runs in a network namespace of its own (tests/conftest.py), where debootstrap
# cannot reach a mirror. Without root the sandbox tests cannot run at all (they say so), so nothing to do.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "sandbox-rootfs: not root: the sandbox tests (network namespaces) will say they need root" >&2
  exit 0
fi
PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" exec .venv/bin/python - <<'PY'
import sys

from homelab.sandbox.rootfs import RootfsError, ensure_rootfs

try:
    path = ensure_rootfs(log=print)
except RootfsError as exc:
    sys.exit(f"sandbox-rootfs: {exc}")
print(f"sandbox-rootfs: ready at {path}")
PY
