"""Diagnostics: every message about the user's input, with its place and a hint."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 0, "warning": 1, "info": 2}[self.value]


@dataclass(frozen=True)
class Location:
    file: str
    line: int = 0  # 1-based; 0 = unknown
    col: int = 0  # 1-based; 0 = unknown

    def __str__(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}:{self.col or 1}"
        return self.file


@dataclass(frozen=True)
class Diagnostic:
    rule: str
    severity: Severity
    message: str
    location: Location
    hint: str | None = None
    path: tuple = field(default=())  # model path, e.g. ("vms", 3, "ip")

    def format(self) -> str:
        text = f"{self.location}: {self.severity.value}[{self.rule}]: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def to_json(self) -> dict:
        data = asdict(self)
        data["severity"] = self.severity.value
        data["path"] = ".".join(str(p) for p in self.path)
        data["location"] = {"file": self.location.file, "line": self.location.line, "col": self.location.col}
        return data

    @property
    def sort_key(self):
        return (self.location.file, self.location.line, self.location.col, self.rule, self.message)


def sort_diagnostics(diags):
    return sorted(diags, key=lambda d: d.sort_key)
