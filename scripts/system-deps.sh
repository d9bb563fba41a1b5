#!/usr/bin/env bash
# Installs the Debian packages the integration tests use, when missing and when we can (root + apt):
# ssh client/server and debootstrap + iproute2 for the isolated test hosts (tests/sandbox), git;
# util-linux (unshare) + iproute2 to run the test session in its own network namespace, and curl, the
# non-Python child that tests/test_netguard.py proves the namespace stops.
set -euo pipefail
need=()
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
command -v ssh-agent >/dev/null 2>&1 || need+=(openssh-client)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
command -v git >/dev/null 2>&1 || need+=(git)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v getent >/dev/null 2>&1 || need+=(libc-bin)
# systemd-analyze checks the OnCalendar= events rendered for the Vault backup timer (tests/render/test_vault_backup_timer.py)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: missing ${need[*]} and cannot apt-get install (not root or no apt);" \
       "the tests that need them will say so" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
echo "system-deps: installing ${need[*]}"
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
