"""Every command module is registered, and registering is explicit: `cli/main.py` COMMAND_MODULES is
the whole list (a module missing from it is a command nobody can run; a name in it without a module
fails at import)."""

from __future__ import annotations

import ast
from pathlib import Path

import typer

CLI = Path(__file__).resolve().parent.parent / "src" / "homelab" / "cli"
HELPERS = {"main", "options", "__init__"}


def command_modules_on_disk() -> set[str]:
    out = set()
    for path in CLI.glob("*.py"):
        if path.stem in HELPERS or path.stem.startswith("_"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if any(isinstance(n, ast.FunctionDef) and n.name == "register" for n in tree.body):
            out.add(path.stem)
    return out


def test_every_command_module_is_registered():
    from homelab.cli.main import COMMAND_MODULES

    assert set(COMMAND_MODULES) == command_modules_on_disk()
    assert len(COMMAND_MODULES) == len(set(COMMAND_MODULES))


def test_every_module_under_cli_is_a_command_a_helper_or_the_entry_point():
    stray = {p.stem for p in CLI.glob("*.py")} - command_modules_on_disk() - HELPERS
    assert {s for s in stray if not s.startswith("_")} == set()


def test_the_registered_commands_are_the_documented_ones():
    from homelab.cli.main import app

    click_app = typer.main.get_command(app)
    assert sorted(click_app.list_commands(None)) == sorted([  # commands load lazily (main.LazyGroup)
        "app", "apply", "check", "cluster", "explain", "init", "inventory", "node", "plan", "render",
        "sandbox", "schema", "secrets", "state", "up", "vault", "vm", "validate", "charts", "pki", "upgrade",
        "destroy", "backup", "restore", "drill"])
