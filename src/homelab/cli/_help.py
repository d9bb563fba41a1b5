"""Help text as people read it: `--lab TEXT`, `--parallelism INTEGER [1<=x<=64]`, `BACKUP_FILE`; no
placeholder after a flag (`--yes`, `--help`) and no `{name}` in the usage line.

typer 0.29 writes Python annotations as placeholders (`--yes <bool>`, `--lab <str>`, `{backup_file}`):
typer/core.py `_TyperParameter.display_type` returns `f"<{label}>"` for every parameter, flags included,
and `TyperArgument._usage_display_name` wraps a required argument in braces. This puts click's own
conventions back (TEXT, INTEGER, FLOAT, as click's types name them) for every command, by replacing those
display methods once, before any command is built.
"""

from __future__ import annotations

import re

NAMES = {"str": "TEXT", "int": "INTEGER", "float": "FLOAT", "bool": "BOOLEAN", "int range": "INTEGER",
         "float range": "FLOAT"}


def _placeholder(param, ctx) -> str | None:
    if param.metavar is not None:
        return param.metavar
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return None
    label = param.display_type(ctx).strip("<>")  # typer's annotation label, e.g. "list[str]", "int range"
    inner = re.fullmatch(r"list\[(.*)\]", label)
    label = inner.group(1) if inner else label
    label = NAMES.get(label, label if "|" in label else label.upper())
    is_option = getattr(param, "param_type_name", "") == "option"  # an argument's name already ends in ...
    return label + ("..." if param.nargs != 1 and is_option else "")


def _usage_name(self) -> str:
    name = self.metavar or self.name.upper()
    name = name if self.required else f"[{name}]"
    return name + ("..." if self.nargs != 1 else "")


def install_help() -> None:
    from typer import core

    if getattr(core, "_homelab_help", False):
        return
    core.TyperOption.display_type_rich = _placeholder
    core.TyperArgument.display_type_rich = _placeholder
    core.TyperArgument._usage_display_name = _usage_name
    core.TyperArgument.display_name_raw = property(lambda self: self.metavar or self.name.upper())
    core._homelab_help = True
