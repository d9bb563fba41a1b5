"""Round-trip edits of the lab file (day-2 operations are lab edits).

ruamel.yaml in round-trip mode keeps every comment, the key order, quoting and flow/block style of
what is not edited. Indentation is detected from the file itself. Lines an edit does not touch are
written back exactly as the user wrote them: where ruamel's dump of the unedited file differs from
the file (e.g. `name:   lab` with extra spaces) the edit is applied as a line diff onto the original.
A file whose dump does not even keep its line structure is refused rather than rewritten.

New list entries take the style most entries of their list have (a `- {name: ..., ...}` line among
flow-style entries, a block mapping among block ones). A comment that sat above a removed entry moves to the
entry that follows it, so removing a VM never removes a comment about its group.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

from homelab.errors import UsageError


class LabEditor:
    def __init__(self, text: str, name: str = "homelab.yaml"):
        from ruamel.yaml import YAML

        self.name = name
        self.original = text
        self.yaml = YAML(typ="rt")
        self.yaml.preserve_quotes = True
        self.yaml.width = 4096
        self._fit_indent(text)
        self.tree = self.yaml.load(text)

    def _fit_indent(self, text: str) -> None:
        """Pick the indentation settings that reproduce the file exactly, else the one that changes the
        fewest lines without changing the line structure."""
        common = [(2, 4, 2), (2, 2, 0), (4, 4, 0), (4, 6, 2), (2, 4, 0), (4, 4, 2), (4, 2, 0)]
        grid = [(m, s, o) for m in (2, 3, 4) for s in (2, 3, 4, 5, 6) for o in range(0, s - 1)]
        best = None
        lines = text.splitlines()
        for setting in common + [g for g in grid if g not in common]:
            self.yaml.indent(mapping=setting[0], sequence=setting[1], offset=setting[2])
            try:
                dumped = self._dump(self.yaml.load(text))
            except Exception:  # noqa: BLE001 - the file loaded before; a dump failure means "cannot edit"
                continue
            if dumped == text:
                self.baseline = dumped
                return
            out = dumped.splitlines()
            if len(out) == len(lines):
                changed = sum(1 for a, b in zip(out, lines, strict=True) if a != b)
                if best is None or changed < best[0]:
                    best = (changed, setting, dumped)
        if best is None:
            raise UsageError(f"{self.name} cannot be edited without reformatting it",
                             "edit the file by hand; homelab only edits files it can write back line for line")
        _, setting, self.baseline = best
        self.yaml.indent(mapping=setting[0], sequence=setting[1], offset=setting[2])

    def _dump(self, tree) -> str:
        out = io.StringIO()
        self.yaml.dump(tree, out)
        return out.getvalue()

    def dumps(self) -> str:
        """The edited file. Lines the edit did not touch are the user's own lines, byte for byte, even
        where ruamel would format them differently (extra spaces after a colon, say)."""
        edited = self._dump(self.tree)
        if self.baseline == self.original:
            return edited
        import difflib

        base = self.baseline.splitlines(keepends=True)
        mine = self.original.splitlines(keepends=True)
        new = edited.splitlines(keepends=True)
        out: list[str] = []
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=base, b=new, autojunk=False).get_opcodes():
            out.extend(mine[i1:i2] if tag == "equal" else new[j1:j2])
        merged = "".join(out)
        if _plain(merged) != _plain(edited):  # never write a merge that means something else
            raise UsageError(f"{self.name} cannot be edited without reformatting it",
                             "its indentation is not uniform; edit the file by hand")
        return merged

    # --- helpers ---------------------------------------------------------------------------------------
    def get(self, *path):
        node = self.tree
        for part in path:
            if node is None:
                return None
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return None
        return node

    def seq(self, *path, create_flow: bool = True):
        """The sequence at path, created (flow style) in its parent mapping if missing."""
        from ruamel.yaml.comments import CommentedSeq

        node = self.get(*path)
        if node is None:
            parent = self.get(*path[:-1])
            if parent is None:
                raise UsageError(f"{'.'.join(map(str, path[:-1]))} is not in {self.name}")
            node = CommentedSeq()
            if create_flow:
                node.fa.set_flow_style()
            parent[path[-1]] = node
        return node

    def append_entry(self, path: tuple, entry: dict, *, after=None) -> int:
        """Insert a mapping into the list at path after the last item for which after(item) is true
        (or at the end); flow style (`- {...}`) when most entries of the list are. Returns its index."""
        from ruamel.yaml.comments import CommentedMap

        items = self.seq(*path, create_flow=False)
        index = len(items)
        if after is not None:
            for i, item in enumerate(items):
                if after(item):
                    index = i + 1
        maps = [item for item in items if isinstance(item, CommentedMap)]
        flow = sum(1 for m in maps if m.fa.flow_style())
        node = CommentedMap()
        for k, v in entry.items():
            if v is not None:
                node[k] = v
        if maps and flow * 2 > len(maps):  # most entries are one-line `- {...}`: so is this one
            node.fa.set_flow_style()
        items.insert(index, node)
        return index

    def remove_entry(self, path: tuple, match) -> int | None:
        """Remove the first item of the list at path for which match(item) is true; keep its comments."""
        items = self.get(*path)
        if items is None:
            return None
        for i, item in enumerate(items):
            if match(item):
                self._delete_keeping_comment(items, i)
                return i
        return None

    def add_to_list(self, path: tuple, value) -> None:
        items = self.seq(*path)
        if value not in items:
            items.append(value)

    def remove_from_list(self, path: tuple, value) -> bool:
        items = self.get(*path)
        if items is None or value not in list(items):
            return False
        self._delete_keeping_comment(items, list(items).index(value))
        return True

    @staticmethod
    def _delete_keeping_comment(items, i: int) -> None:
        ca = getattr(items, "ca", None)
        if ca is not None and i in ca.items and i + 1 < len(items):
            mine = ca.items.pop(i)
            nxt = ca.items.get(i + 1)
            if nxt is None:
                ca.items[i + 1] = mine
            else:  # both carry comments before them: keep both, in order
                before = (mine[1] or []) + (nxt[1] or [])
                ca.items[i + 1] = [nxt[0], before, nxt[2] if len(nxt) > 2 else None,
                                   nxt[3] if len(nxt) > 3 else None]
        del items[i]


def write_atomic(path: str | os.PathLike, text: str) -> None:
    """Write text to path atomically (temp file in the same directory, fsync, rename); keep the mode."""
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"cannot write {p}: it is a directory", "give a file name, e.g. plan.json")
    try:
        mode = p.stat().st_mode & 0o777 if p.exists() else 0o644
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=str(p.parent))
    except OSError as exc:
        raise UsageError(f"cannot write {p}: {exc.strerror or exc}",
                         f"check that {p.parent} exists and is a writable directory") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, p)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise UsageError(f"cannot write {p}: {exc.strerror or exc}",
                         f"check the permissions of {p} and {p.parent} and the free space") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _plain(text: str):
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        return YAML(typ="safe").load(text)
    except YAMLError:
        return object()  # unequal to anything


def reload(doc, text: str):
    """The edited text of `doc`'s lab file, loaded as that lab (same name, same recorded allocations)."""
    from homelab.lab.load import load_text

    return load_text(text, doc.file, lock=doc.lock, lock_file=doc.lock_file)
