"""Isolated test hosts on this machine: network namespaces + a debootstrap root + sshd.

A sandbox is N hosts on a private test subnet (default 10.213.0.0/24). Each host is:

- a network namespace `hlsb<owner>-<host>` with `eth0` plugged into a bridge that lives in a
  switch namespace `hlsb<owner>-sw` (so the hosts reach each other without touching the machine's
  forwarding settings);
- a root filesystem: an overlay over a cached Debian bookworm minbase root (built once with
  debootstrap), mounted inside the host's own mount namespace, so it disappears with the host;
- its own hostname (UTS namespace), its own PID namespace, and `sshd` as its only service.

The controller (this machine) gets one veth `hlsb<owner>` with the subnet's `.1` address; that is
the only change outside the namespaces, and `down()` (or the stale-sandbox sweep) removes it.
`<owner>` is the PID of the process that created the sandbox: a sandbox whose owner is dead is
stale, and `sweep_stale()` removes it (kills its processes, deletes namespaces and the veth).

Only root can do this; `require_root()` raises a clear error otherwise.
"""

from homelab.sandbox.hosts import Sandbox, SandboxError, SandboxHost, require_root, sweep_stale

__all__ = ["Sandbox", "SandboxError", "SandboxHost", "require_root", "sweep_stale"]
