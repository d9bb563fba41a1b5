"""The cached Debian root filesystem the sandbox hosts boot from (built once with debootstrap)."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

SUITE = "bookworm"
# What a test host needs: sshd and python3 for Ansible, sudo, and the packages the host-baseline
# role installs (pre-installed because test hosts have no route to a package mirror).
PACKAGES = (
    "openssh-server", "python3", "sudo", "ca-certificates", "iproute2", "procps",
    "qemu-guest-agent", "chrony", "unattended-upgrades", "apt-utils",
)
DEFAULT_MIRROR = "http://deb.debian.org/debian"


class RootfsError(RuntimeError):
    pass


def default_cache_dir() -> Path:
    return Path(os.environ.get("HOMELAB_SANDBOX_CACHE", "/var/cache/homelab-sandbox"))


def rootfs_key(suite: str = SUITE, packages: tuple[str, ...] = PACKAGES) -> str:
    digest = hashlib.sha256(("\n".join([suite, *sorted(packages)])).encode()).hexdigest()[:12]
    return f"{suite}-{digest}"


def ensure_rootfs(cache_dir: Path | None = None, suite: str = SUITE, packages: tuple[str, ...] = PACKAGES,
                  mirror: str | None = None, log=None) -> Path:
    """Return the path of a ready root filesystem, building it with debootstrap if needed.

    The build goes to a temporary directory renamed into place when complete, under a lock, so a
    killed build never leaves a half-built root that looks ready.
    """
    cache_dir = Path(cache_dir or default_cache_dir())
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / rootfs_key(suite, packages)
    ready = target / ".homelab-ready"
    if ready.exists():
        return target
    with open(cache_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if ready.exists():
            return target
        if shutil.which("debootstrap") is None:
            raise RootfsError("debootstrap is not installed (apt-get install debootstrap)")
        building = cache_dir / (target.name + ".building")
        shutil.rmtree(building, ignore_errors=True)
        mirror = mirror or os.environ.get("HOMELAB_SANDBOX_MIRROR", DEFAULT_MIRROR)
        cmd = ["debootstrap", "--variant=minbase", "--include=" + ",".join(packages), suite, str(building), mirror]
        if log:
            log(f"building the test-host root filesystem ({suite}) with debootstrap; this takes about a minute")
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-15:])
            shutil.rmtree(building, ignore_errors=True)
            raise RootfsError(f"debootstrap failed (exit {proc.returncode}):\n{tail}\n(a test session runs in "
                              "a network namespace with no route to the mirror: `make test` builds this root "
                              "before the session starts, as scripts/sandbox-rootfs.sh does)")
        _prepare(building)
        shutil.rmtree(target, ignore_errors=True)
        os.rename(building, target)
        ready.write_text(" ".join(cmd[:-1]) + "\n")
    return target


def _prepare(root: Path) -> None:
    """One-time setup of the cached root: host keys, sshd drop-in, no services auto-starting."""
    subprocess.run(["chroot", str(root), "ssh-keygen", "-A"], check=True, capture_output=True)
    (root / "run" / "sshd").mkdir(parents=True, exist_ok=True)
    # Nothing inside a test host may try to start services through an init system that isn't there.
    policy = root / "usr" / "sbin" / "policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    (root / "etc" / "apt" / "apt.conf.d" / "99homelab-sandbox").write_text(
        'Acquire::Retries "0";\nAcquire::http::Timeout "2";\n'
    )
