from __future__ import annotations

import sys
from pathlib import Path

for sub in ("plan", "upgrade"):  # fake_engine (recording engines), k3s_lab
    path = str(Path(__file__).resolve().parents[1] / sub)
    if path not in sys.path:
        sys.path.insert(0, path)
