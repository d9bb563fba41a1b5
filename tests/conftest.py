from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "examples" / "reference" / "homelab.yaml"


@pytest.fixture(scope="session")
def reference_path() -> Path:
    return REFERENCE


@pytest.fixture(scope="session")
def reference_doc():
    from homelab.spec.load import load_lab

    return load_lab(REFERENCE)
