"""The CLI loads only the command it runs (cli/main.py LazyGroup): `homelab check` imports no other command
module and none of the heavy libraries of the others (hvac, the Helm engine)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REFERENCE = Path(__file__).resolve().parent.parent / "examples" / "reference" / "homelab.yaml"

PROBE = """
import json, sys
from homelab.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
sys.stdout.flush()
sys.stderr.write(json.dumps(sorted(m for m in sys.modules if m.startswith(("homelab.cli.", "hvac", "helm_python",
                                                                               "homelab.engines", "homelab.validate")))))
"""


def loaded(*args: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True)
    return set(json.loads(out.stderr.strip().splitlines()[-1]))


def test_check_loads_only_the_check_command():
    mods = loaded("check", str(REFERENCE))
    commands = {m.split(".")[2] for m in mods if m.startswith("homelab.cli.") and not m.split(".")[2].startswith("_")}
    assert commands == {"check", "main", "options"}, commands
    assert not {m for m in mods if m.startswith(("hvac", "helm_python", "homelab.engines", "homelab.validate"))}


def test_every_command_still_loads_and_help_lists_them_all():
    from homelab.cli.main import COMMAND_MODULES, app, load_command

    for name in COMMAND_MODULES:
        assert load_command(name).name == name
    out = subprocess.run([sys.executable, "-m", "homelab", "--help"], capture_output=True, text=True,
                         env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"} | {k: v for k, v in __import__("os").environ.items()
                                                                            if k == "PYTHONPATH" or
                                                                            k.startswith("HOMELAB_NETGUARD")})
    assert out.returncode == 0
    for name in COMMAND_MODULES:
        assert f" {name} " in out.stdout, name
    assert app is not None
