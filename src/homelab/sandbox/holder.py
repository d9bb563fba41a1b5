"""A small background process that owns a sandbox for `homelab sandbox up` until `down`.

The sandbox's namespaces carry this process's PID; if it is killed, the sandbox becomes stale
and the next `sweep_stale()` removes it.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--hosts", required=True)
    parser.add_argument("--subnet", default=None)
    args = parser.parse_args(argv)
    from homelab.sandbox.hosts import Sandbox

    workdir = Path(args.workdir)
    status = workdir / "holder-status.json"
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    sandbox = Sandbox(args.hosts.split(","), workdir=workdir, subnet=args.subnet)
    try:
        sandbox.up()
    except Exception as exc:  # noqa: BLE001 - reported to the waiting CLI through the status file
        status.write_text(json.dumps({"ok": False, "error": str(exc)}))
        return 1
    status.write_text(json.dumps({"ok": True}))
    try:
        while not stop.wait(1.0):
            pass
    finally:
        sandbox.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
