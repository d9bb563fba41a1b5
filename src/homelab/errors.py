"""The error hierarchy. The CLI maps each class to one exit code (see cli/main.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from homelab.diagnostics import Diagnostic


class HomelabError(Exception):
    """Base class: a problem we can explain to the user. Never carries a secret value."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(HomelabError):
    """Bad command-line usage."""

    exit_code = 2


class LoadError(HomelabError):
    """The lab file cannot be used at all (unreadable, malformed, ill-typed). Carries every diagnostic."""

    exit_code = 2

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = diagnostics
        first = diagnostics[0].message if diagnostics else "cannot load the lab file"
        super().__init__(first)


class EngineError(HomelabError):
    """A real engine (terraform, ansible, vault, kubernetes, proxmox) failed."""

    exit_code = 3

    def __init__(self, message: str, hint: str | None = None, output_tail: str = ""):
        super().__init__(message, hint)
        self.output_tail = output_tail


class StateError(HomelabError):
    """Local state is missing, locked or inconsistent."""

    exit_code = 1
