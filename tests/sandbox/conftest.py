"""Fixtures for tests that run against isolated test hosts (network namespaces + sshd).

These need root. CI runs as root, so they always run there (a skip is a failure under .ci/run);
elsewhere they are skipped with `needs.ROOT`, which says what they need. As root they run inside the
test session's own network namespace (tests/conftest.py): the hosts' namespaces are named ones, made
beside it, and the controller's veth lands in the session's namespace. The harness installs nothing on the machine itself beyond what
`make test` installs (debootstrap, openssh-server, iproute2 via scripts/system-deps.sh).
"""

from __future__ import annotations

import pytest
from helpers import subnet_index

import needs

ROOT_REASON = needs.ROOT


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "sandbox" in item.path.parts:
            item.add_marker(pytest.mark.root)  # `-m "not root"` leaves them out
            if not needs.is_root():
                item.add_marker(pytest.mark.skip(reason=ROOT_REASON))


@pytest.fixture(scope="session")
def sandbox3(tmp_path_factory):
    from homelab.sandbox import Sandbox

    with Sandbox(["alpha", "beta", "gamma"], workdir=tmp_path_factory.mktemp("sb3"), index=subnet_index(1)) as sb:
        yield sb
