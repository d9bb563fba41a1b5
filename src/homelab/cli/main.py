"""Entry point. Maps every error class to its exit code in one place (DESIGN.md):

0 ok · 1 the input loaded but something is wrong or would change · 2 the input cannot be used
(unreadable/malformed/ill-typed file, bad usage) · 3 an engine failed · 130 interrupted.
"""

from __future__ import annotations

import importlib
import sys

import typer

from homelab import __version__

app = typer.Typer(
    name="homelab",
    help="Run a whole homelab platform (Proxmox, Terraform, Ansible, K3s, ArgoCD, Vault) from one file.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

STATE = {"debug": False}

# Each module in this list exposes `register(app)`. A module that does not exist yet is skipped.
COMMAND_MODULES = (
    "check", "inventory", "schema", "init", "explain", "render", "plan", "apply", "up",
    "vault", "secrets", "vm", "app", "cluster", "node", "sandbox", "backup", "state",
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
    STATE["debug"] = debug


def _register_all() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"homelab.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"homelab.cli.{name}":
                continue
            raise
        module.register(app)


_register_all()


def main(argv: list[str] | None = None) -> None:
    from homelab.errors import HomelabError, LoadError

    try:
        app(args=argv, prog_name="homelab")
    except LoadError as exc:
        from homelab.cli._output import print_diagnostics

        print_diagnostics(exc.diagnostics, stream=sys.stderr)
        sys.exit(2)
    except HomelabError as exc:
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
