"""Where each value of the lab file came from: model path -> file:line:col."""

from __future__ import annotations

from dataclasses import dataclass, field

from homelab.diagnostics import Location


@dataclass
class SourceMap:
    file: str
    # path -> (key_line, key_col, value_line, value_col), all 1-based
    positions: dict[tuple, tuple[int, int, int, int]] = field(default_factory=dict)

    def record(self, path: tuple, key_pos: tuple[int, int], value_pos: tuple[int, int]) -> None:
        self.positions[path] = (*key_pos, *value_pos)

    def locate(self, path: tuple | list = (), *, key: bool = False) -> Location:
        """Best location for a model path: the value (or key) itself, else its nearest ancestor."""
        probe = tuple(path)
        while probe:
            pos = self.positions.get(probe)
            if pos is not None:
                line, col = (pos[0], pos[1]) if key else (pos[2], pos[3])
                return Location(self.file, line, col)
            probe = probe[:-1]
        return Location(self.file, 1, 1)

    def has(self, path: tuple) -> bool:
        return tuple(path) in self.positions
