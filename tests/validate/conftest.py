"""Shared by the validate tests: the real upstream charts (../shared/charts, the reference lab's pinned
versions) as the chart cache, and one templating cache for the session (the first test pays the Helm
templating, the others reuse it — as a warm `homelab validate` does)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED_CHARTS = ROOT.parent / "shared" / "charts"
FIXTURE_CHARTS = ROOT / "tests" / "fixtures" / "charts"  # cert-manager (not among the shared charts; README there)


def need_charts() -> Path:
    if not (SHARED_CHARTS / "traefik-41.3.0.tgz").is_file():
        message = f"the packaged upstream charts are not at {SHARED_CHARTS}: these tests template the real charts"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    return SHARED_CHARTS


@pytest.fixture(scope="session")
def charts_dir() -> Path:
    return need_charts()


@pytest.fixture(scope="session")
def template_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("validate-cache")


@pytest.fixture(scope="session")
def options(charts_dir, template_cache):
    from homelab.validate import Options

    def make(**kw):
        return Options(charts_dirs=[charts_dir, FIXTURE_CHARTS], cache_dir=template_cache, **kw)

    return make
