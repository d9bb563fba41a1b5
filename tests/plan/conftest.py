from __future__ import annotations

import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:  # fake_engine / plan_helpers, also for tests/state and the CLI tests
    sys.path.insert(0, HERE)
