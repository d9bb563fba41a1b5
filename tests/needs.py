"""What a test needs from the machine, said plainly when it is missing.

Outside CI a missing requirement skips the test with the sentence below; under `.ci/run` (HOMELAB_CI=1)
every skip is a failure (tests/conftest.py), because CI must run everything.
"""

from __future__ import annotations

import os
import shutil

import pytest

ROOT = ("needs root: it creates network namespaces, veth links and overlay mounts for the sandbox test hosts "
        "(tests/sandbox, homelab.sandbox); run the suite as root (`sudo make test`) — CI does")
TERRAFORM = ("needs the `terraform` binary (1.5 or later; the tests run it offline with built-in resources) on PATH: "
             "install it from https://developer.hashicorp.com/terraform/install — CI's image has it")


def is_root() -> bool:
    return os.geteuid() == 0


def terraform(*alternatives: str) -> str:
    """The path of `terraform` (or of one of `alternatives`, e.g. "tofu"); skips with TERRAFORM if none."""
    for name in ("terraform", *alternatives):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip(TERRAFORM)
