"""Entry point. Registers every command (an explicit list: a missing module is an error, not a gap) and
maps every error class to its exit code in one place (DESIGN.md):

0 ok · 1 the input loaded but something is wrong or would change · 2 the input cannot be used
(unreadable/malformed/ill-typed file, bad usage) · 3 an engine failed · 130 interrupted.
"""

from __future__ import annotations

import importlib
import os
import sys

# pydantic scans every installed distribution's entry points for plugins when the first model is built
# (tens of ms in a venv with ansible-lint & co.); homelab uses no pydantic plugin.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

import typer  # noqa: E402
from typer.core import TyperGroup  # noqa: E402

from homelab import __version__  # noqa: E402


class LazyGroup(TyperGroup):
    """Commands are imported when invoked, not at start: `homelab check` imports the check command's module
    only (each module registers one command named after it, see COMMAND_MODULES). `--help` lists them all
    (and so loads them all)."""

    def list_commands(self, ctx) -> list[str]:
        return sorted(set(COMMAND_MODULES) | set(self.commands))

    def get_command(self, ctx, cmd_name: str):
        if cmd_name not in self.commands and cmd_name in COMMAND_MODULES:
            self.commands[cmd_name] = load_command(cmd_name)
        return self.commands.get(cmd_name)


def load_command(name: str):
    """The click command `homelab.cli.<name>` registers (its `register(app)` on a Typer of its own)."""
    sub = typer.Typer()
    importlib.import_module(f"homelab.cli.{name}").register(sub)
    return typer.main.get_group(sub).commands[name]


from homelab.cli._help import install_help  # noqa: E402 - help placeholders as click writes them

install_help()

app = typer.Typer(
    cls=LazyGroup,
    name="homelab",
    help="Run a whole homelab platform (Proxmox, Terraform, Ansible, K3s, ArgoCD, Vault) from one file.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish, PowerShell)
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

STATE = {"debug": False}

# Every command module; each exposes `register(app)` registering one command of its own name, loaded
# lazily (LazyGroup). A test fails when a module under cli/ that defines commands is missing here.
COMMAND_MODULES = (
    "check", "inventory", "schema", "init", "explain", "render", "plan", "apply", "up",
    "vault", "secrets", "vm", "app", "cluster", "node", "sandbox", "state", "validate", "charts", "pki",
    "upgrade", "destroy", "backup", "restore", "drill",
)


def _version(value: bool):
    if value:
        typer.echo(f"homelab {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for internal errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
):
    STATE["debug"] = STATE["debug"] or debug


def _print_diagnostic_error(exc) -> None:
    from homelab.cli._output import CURRENT, print_diagnostics, print_error

    json_mode = CURRENT["format"] == "json"
    print_diagnostics(exc.diagnostics, stream=sys.stdout if json_mode else sys.stderr,
                      fmt="json" if json_mode else "text")
    if not json_mode and not isinstance(exc, _load_error()):
        print_error(exc)


def _load_error():
    from homelab.errors import LoadError

    return LoadError


def main(argv: list[str] | None = None) -> None:
    from homelab.errors import HomelabError

    args = list(sys.argv[1:] if argv is None else argv)
    STATE["debug"] = False  # per run (main() may be called more than once in one process)
    if "--debug" in args[1:]:  # accepted after the subcommand too
        STATE["debug"] = True
        args = [args[0], *(a for a in args[1:] if a != "--debug")]
    try:
        app(args=args, prog_name="homelab")
    except HomelabError as exc:
        if getattr(exc, "diagnostics", None) is not None:
            _print_diagnostic_error(exc)
        else:
            from homelab.cli._output import print_error

            print_error(exc)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # noqa: BLE001 - last line of defence: never a traceback unless --debug
        if STATE["debug"]:
            raise
        from homelab.secrets import REDACTOR

        sys.stderr.write(
            f"internal error: {type(exc).__name__}: {REDACTOR(str(exc))}\n"
            "  hint: this is a bug in homelab; run again with --debug for the traceback and report it\n"
        )
        sys.exit(1)
