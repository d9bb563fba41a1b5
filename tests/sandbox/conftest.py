"""Fixtures for tests that run against isolated test hosts (network namespaces + sshd).

These need root. CI runs as root, so they always run there; elsewhere they are skipped with that
reason (never silently). The harness installs nothing on the machine itself beyond what
`make test` installs (debootstrap, openssh-server, iproute2 via scripts/system-deps.sh).
"""

from __future__ import annotations

import os

import pytest

ROOT_REASON = "needs root for network namespaces (CI runs as root)"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "sandbox" in item.path.parts:
            item.add_marker(pytest.mark.root)  # `-m "not root"` leaves them out
            if os.geteuid() != 0:
                item.add_marker(pytest.mark.skip(reason=ROOT_REASON))


@pytest.fixture(scope="session")
def sandbox3(tmp_path_factory):
    from homelab.sandbox import Sandbox

    with Sandbox(["alpha", "beta", "gamma"], workdir=tmp_path_factory.mktemp("sb3"), index=1) as sb:
        yield sb
