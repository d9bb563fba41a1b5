from __future__ import annotations

import sys
from pathlib import Path

PLAN_TESTS = str(Path(__file__).resolve().parents[1] / "plan")
if PLAN_TESTS not in sys.path:  # fake_engine, plan_helpers
    sys.path.insert(0, PLAN_TESTS)
