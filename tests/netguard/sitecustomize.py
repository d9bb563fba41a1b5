"""Installs the test network guard in every Python child of the test session (HOMELAB_NETGUARD=1).

If the guard cannot be loaded, the child must not run unguarded and quietly: it says so on stderr,
records it in the session's netguard log (so the session fails) and exits with status 97.
"""

import os

if os.environ.get("HOMELAB_NETGUARD") == "1":
    try:
        import homelab_netguard

        homelab_netguard.install()
    except BaseException as exc:  # noqa: BLE001 - any failure to load the guard stops this child
        import sys

        message = f"netguard: the network guard failed to load in this Python child: {type(exc).__name__}: {exc}"
        sys.stderr.write(message + "\n")
        log = os.environ.get("HOMELAB_NETGUARD_LOG")
        if log:
            try:
                with open(log, "a", encoding="utf-8") as f:
                    f.write(f"guard-load-failed {getattr(sys, 'argv', None)!r}: {type(exc).__name__}: {exc} [pid {os.getpid()}]\n")
            except OSError:
                pass
        os._exit(97)
