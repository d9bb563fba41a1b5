"""Shared helpers for the tests that configure sandbox hosts with the rendered playbooks.

- `write_lab(...)`: a small homelab.yaml whose VMs are the sandbox hosts (their real addresses),
  with `access.ssh: true` as root with the sandbox's key;
- `render(lab)`: `homelab render` through the real CLI;
- `STANDIN_K3S`: a stand-in `k3s` executable (Python, runs on the hosts) that records how it was
  started and behaves like k3s where the role depends on it (see its docstring);
- `standin_records(host)`: what the stand-in recorded on a host.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml


def subnet_index(n: int) -> int:
    """A module's fixed test-subnet index (10.213.<n>.0/24), moved on by 10 per pytest-xdist worker: the workers
    share the session's network namespace, so two of them building the same module's hosts would collide."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = n + 10 * int(worker[2:] or 0)
    assert index < 256, f"too many xdist workers for the sandbox subnets ({worker})"
    return index

BIN = Path(sys.executable).parent
HOMELAB = str(BIN / "homelab")
GPU_LABEL = "accelerator=nvidia-tesla-gpu"
GPU_TAINT = "nvidia.com/gpu=true:NoSchedule"
STANDIN_LOG = "/var/log/k3s-standin.jsonl"
NODE_TOKEN = "/var/lib/rancher/k3s/server/node-token"

# The only thing it recreates of k3s: `k3s --version`; `k3s server|agent` reads
# /etc/rancher/k3s/config.yaml (flag names as keys); a server started with cluster-init writes
# /var/lib/rancher/k3s/server/node-token (K10<ca hash>::server:<token>, generating the token when the
# config has none) and every server writes /etc/rancher/k3s/k3s.yaml (server https://127.0.0.1:6443)
# and listens on 6443, so the role's "wait for the API" works. It records, one JSON line per start,
# in /var/log/k3s-standin.jsonl: time, argv, environment variable NAMES, the config file with the
# token replaced by its sha256 -- never the token itself. /etc/k3s-standin-fail makes it exit 1.
STANDIN_K3S = r'''#!/usr/bin/python3
"""Stand-in k3s for tests (records its start, never the token)."""
import hashlib, json, os, secrets, socket, sys, time

LOG = "/var/log/k3s-standin.jsonl"
CONFIG = "/etc/rancher/k3s/config.yaml"
TOKEN_FILE = "/var/lib/rancher/k3s/server/node-token"
KUBECONFIG = "/etc/rancher/k3s/k3s.yaml"


def sha(value):
    return hashlib.sha256(value.encode()).hexdigest()


args = sys.argv[1:]
if args and args[0] in ("--version", "-v", "version"):
    print("k3s version v1.33.4+k3s1 (stand-in)")
    sys.exit(0)
role = args[0] if args else "server"
text = open(CONFIG).read() if os.path.exists(CONFIG) else ""
token, lines = None, []
for line in text.splitlines():
    if line.startswith("token:"):
        token = line.split(":", 1)[1].strip().strip("'\"")
        lines.append("token_sha256: " + sha(token))
    else:
        lines.append(line)
env_token = os.environ.get("K3S_TOKEN")
record = {
    "time_ns": time.time_ns(), "role": role, "argv": args, "env_names": sorted(os.environ),
    "env_token_sha256": sha(env_token) if env_token else None, "config": "\n".join(lines) + "\n",
    "config_mtime_ns": os.stat(CONFIG).st_mtime_ns if text else None,
}
with open(LOG, "a") as log:
    log.write(json.dumps(record, sort_keys=True) + "\n")
if os.path.exists("/etc/k3s-standin-fail"):
    sys.exit(1)
if role == "server":
    os.makedirs(os.path.dirname(TOKEN_FILE), exist_ok=True)
    if ("cluster-init: true" in text or "--cluster-init" in args) and not os.path.exists(TOKEN_FILE):
        secret = token or secrets.token_hex(24)
        full = secret if secret.startswith("K10") else "K10" + sha("stand-in ca") + "::server:" + secret
        fd = os.open(TOKEN_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, (full + "\n").encode())
        os.close(fd)
    fd = os.open(KUBECONFIG, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, b"apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: https://127.0.0.1:6443\n"
                 b"  name: default\ncontexts:\n- context: {cluster: default, user: default}\n  name: default\n"
                 b"current-context: default\nusers:\n- name: default\n  user: {client-key-data: c3RhbmQtaW4=}\n")
    os.close(fd)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("0.0.0.0", 6443))
    sock.listen(16)
    while True:
        conn, _ = sock.accept()
        conn.close()
else:
    while True:
        time.sleep(3600)
'''


INSTALL_LOG = "/var/log/k3s-install.jsonl"
RUNNING_VERSION = "/var/lib/k3s-standin/running-version"


def versioned_standin() -> str:
    """STANDIN_K3S that is the release @VERSION@: `k3s --version` says so, each start records it, and a
    started k3s writes it to RUNNING_VERSION (what the node's kubelet reports, for the Kubernetes fake)."""
    text = STANDIN_K3S.replace('print("k3s version v1.33.4+k3s1 (stand-in)")', 'print("k3s version @VERSION@ (stand-in)")')
    text = text.replace('"time_ns": time.time_ns(),', '"time_ns": time.time_ns(), "version": "@VERSION@",')
    marker = 'if role == "server":\n    os.makedirs(os.path.dirname(TOKEN_FILE)'
    assert marker in text
    running = ('os.makedirs("/var/lib/k3s-standin", exist_ok=True)\n'
               f'open("{RUNNING_VERSION}", "w").write("@VERSION@\\n")\n')
    return text.replace(marker, running + marker)


def write_install_script(directory: Path) -> Path:
    """A stand-in of https://get.k3s.io: installs the versioned stand-in k3s as INSTALL_K3S_VERSION (required,
    as the role pins it) and records each call (time, version, arguments, INSTALL_K3S_SKIP_START) in INSTALL_LOG."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "install.sh"
    path.write_text(
        "#!/bin/sh\n# stand-in of the K3s install script (tests)\nset -eu\n"
        ': "${INSTALL_K3S_VERSION:?INSTALL_K3S_VERSION is not set}"\n'
        "tmp=$(mktemp)\ncat > \"$tmp\" <<'STANDIN'\n" + versioned_standin() + "STANDIN\n"
        'sed "s/@VERSION@/$INSTALL_K3S_VERSION/g" "$tmp" > /usr/local/bin/k3s\n'
        'chmod 0755 /usr/local/bin/k3s\nrm -f "$tmp"\n'
        "printf '{\"time_ns\": %s, \"version\": \"%s\", \"args\": \"%s\", \"skip_start\": \"%s\"}\\n' "
        '"$(date +%s%N)" "$INSTALL_K3S_VERSION" "$*" "${INSTALL_K3S_SKIP_START:-}" >> ' + INSTALL_LOG + "\n")
    return path


def write_standin(directory: Path) -> Path:
    """An install source directory holding the stand-in `k3s`."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "k3s"
    path.write_text(STANDIN_K3S)
    path.chmod(0o755)
    return directory


def write_lab(path: Path, ips: dict[str, str], index: int, key: Path | str, *, servers=None, agents=None,
              gpu=(), install_source: Path | None = None, extra_vms: dict[str, str] | None = None,
              ssh: bool = True, ssh_keys=None) -> Path:
    """homelab.yaml for a lab whose VMs are sandbox hosts (name -> ip) on 10.213.<index>.0/24."""
    vms = {**ips, **(extra_vms or {})}
    lab: dict = {
        "version": 1,
        "name": f"sbx{index}",
        "network": {"cidr": f"10.213.{index}.0/24", "gateway": f"10.213.{index}.1", "dns": [f"10.213.{index}.1"],
                    "domain": "sbx.test",
                    "pools": {"vms": f"10.213.{index}.10-10.213.{index}.199",
                              "metallb": f"10.213.{index}.200-10.213.{index}.250"}},
        "proxmox": {
            "nodes": [{"name": "pve", "cores": 64, "memory": "256GiB", "storages": {"local-lvm": "8TiB"},
                       "gpus": ["0000:01:00"]}],
            "ci_user": "ubuntu",
            "ssh_keys": list(ssh_keys or [
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHomelabTestKeyNotARealKey0000000000000 test@ci"]),
        },
        "vault": {"secrets": [{"path": "infra/proxmox", "fields": ["api_token_id", "api_token_secret"]},
                              {"path": "k3s/cluster", "fields": ["token"]}]},
        "access": {"ssh": ssh, "ssh_user": "root", "ssh_private_key": str(key)},
        "vms": [{"name": n, "role": "general", "env": "kubernetes", "ip": ip} for n, ip in vms.items()],
    }
    for vm in lab["vms"]:
        if vm["name"] in gpu:
            vm["gpu"] = {"device": "0000:01:00"}
    if servers:
        k3s: dict = {"servers": list(servers), "agents": list(agents or []),
                     "gpu": {"nodes": list(gpu), "label": GPU_LABEL, "taint": GPU_TAINT}}
        if install_source:
            k3s["install_source"] = str(install_source)
        lab["clusters"] = {"k3s": k3s}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(lab, sort_keys=False))
    return path


def cli(*args: str, timeout: float = 600, **env_overrides: str) -> subprocess.CompletedProcess:
    """Run the homelab CLI. The state directory (day-2 commands record what they applied) is the lab
    file's `.homelab/` unless the caller names one, so test modules never share state."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "VAULT_", "HOMELAB_STATE"))}
    lab = next((Path(a) for a in args if a.endswith(".yaml")), None)
    if lab is not None:
        env["HOMELAB_STATE_DIR"] = str(lab.resolve().parent / ".homelab")
    env.update(env_overrides)
    return subprocess.run([HOMELAB, *args], capture_output=True, text=True, timeout=timeout, env=env)


def ssh_env(directory: Path) -> dict[str, str]:
    """ansible.cfg's ssh_args with a known_hosts file of the test's own: sandbox host keys never land in
    the machine's ~/.ssh/known_hosts (a rebuilt root fs has new keys on the same addresses)."""
    return {"ANSIBLE_SSH_ARGS": "-o ControlMaster=auto -o ControlPersist=60s -o StrictHostKeyChecking=accept-new "
                                f"-o UserKnownHostsFile={directory / 'known_hosts'}"}


def render(lab: Path) -> Path:
    proc = cli("render", str(lab))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return lab.parent / "ansible"


def standin_records(host) -> list[dict]:
    text = host.read_file(STANDIN_LOG) or ""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def config_of(record: dict) -> dict:
    return yaml.safe_load(record["config"].replace("# Managed by Ansible", "#"))


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


STATE_PATHS = ("/etc/rancher/k3s/config.yaml", STANDIN_LOG, NODE_TOKEN, "/usr/local/bin/k3s",
               "/usr/local/bin/k3s-detached", "/etc/rancher/k3s/k3s.yaml", "/etc/hosts")


def host_state(host, paths=STATE_PATHS) -> list[str]:
    """Path, mtime (ns), mode and sha256 of each path on the host ("absent" when missing), plus the
    k3s process ids: "unchanged" is checkable."""
    script = "; ".join(f"if [ -e {p} ]; then echo \"$(stat -c '%n %.9Y %a' {p}) $(sha256sum < {p})\"; "
                       f"else echo '{p} absent'; fi" for p in paths)
    script += "; cat /run/k3s.pid /run/k3s-agent.pid 2>/dev/null; true"
    proc = host.run(script)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()
