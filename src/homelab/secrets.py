"""Secret values: masked everywhere by construction.

A `Secret` never shows its value in `repr`, `str`, f-strings, logs or JSON. Code that must hand the
value to an engine calls `.reveal()` at that single place. `Redactor` scrubs known secret values out
of any text (engine output) before it is shown or stored.
"""

from __future__ import annotations

MASK = "<sensitive>"


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str):
        if isinstance(value, Secret):
            value = value.reveal()
        self._value = str(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return MASK

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            return self._value == other._value
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self):  # never pickle a secret into a state file by accident
        raise TypeError("a Secret cannot be serialised")


class Redactor:
    """Replaces every registered secret value in text with the mask."""

    def __init__(self) -> None:
        self._values: set[str] = set()

    def add(self, value: str | Secret | None) -> None:
        if value is None:
            return
        raw = value.reveal() if isinstance(value, Secret) else str(value)
        if len(raw) >= 4:  # shorter strings would mask ordinary words
            self._values.add(raw)

    def __call__(self, text: str) -> str:
        for raw in sorted(self._values, key=len, reverse=True):
            text = text.replace(raw, MASK)
        return text


REDACTOR = Redactor()
