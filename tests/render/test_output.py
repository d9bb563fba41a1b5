"""The writer: atomic writes, only changed files touched, stale own files removed, --check writes nothing,
nothing outside the output directory."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from homelab.render import output
from homelab.render.base import RenderedFile
from homelab.render.output import MANIFEST, OutputError, write_tree

OLD = 1_000_000_000  # an mtime far in the past, to see whether a file was rewritten


def tree(root: Path) -> dict[str, tuple[bytes, int]]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink():
            out[p.relative_to(root).as_posix()] = (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
    return out


def age(root: Path) -> None:
    for p in root.rglob("*"):
        if p.is_file():
            os.utime(p, (OLD, OLD))


def files(**contents) -> list[RenderedFile]:
    return [RenderedFile(path.replace("__", "/"), text) for path, text in contents.items()]


def test_first_write_creates_files_modes_and_a_sorted_manifest(tmp_path):
    out = tmp_path / "out"
    report = write_tree([RenderedFile("b/x.tf", "x\n"), RenderedFile("a.txt", "a\n"),
                         RenderedFile("secret/keys", "k\n", 0o600)], out)
    assert report.created == ["a.txt", "b/x.tf", "secret/keys"]
    assert report.updated == report.removed == report.unchanged == []
    t = tree(out)
    assert t["a.txt"] == (b"a\n", 0o644)
    assert t["b/x.tf"] == (b"x\n", 0o644)
    assert t["secret/keys"] == (b"k\n", 0o600)
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["files"] == ["a.txt", "b/x.tf", "secret/keys"]
    assert set(t) == {"a.txt", "b/x.tf", "secret/keys", MANIFEST}  # no temporaries left behind


def test_unchanged_files_are_not_touched(tmp_path):
    rendered = files(a="a\n", d__b="b\n")
    write_tree(rendered, tmp_path)
    manifest_before = (tmp_path / MANIFEST).read_bytes()
    age(tmp_path)
    report = write_tree(rendered, tmp_path)
    assert report.unchanged == ["a", "d/b"] and report.up_to_date
    for p in ("a", "d/b", MANIFEST):
        assert (tmp_path / p).stat().st_mtime == OLD, p
    assert (tmp_path / MANIFEST).read_bytes() == manifest_before


def test_only_changed_files_are_rewritten(tmp_path):
    write_tree(files(a="a\n", b="b\n"), tmp_path)
    age(tmp_path)
    report = write_tree(files(a="a\n", b="B\n"), tmp_path)
    assert report.updated == ["b"] and report.unchanged == ["a"]
    assert (tmp_path / "a").stat().st_mtime == OLD
    assert (tmp_path / "b").stat().st_mtime != OLD
    assert (tmp_path / "b").read_text() == "B\n"


def test_a_mode_change_alone_is_an_update(tmp_path):
    write_tree([RenderedFile("k", "k\n", 0o644)], tmp_path)
    report = write_tree([RenderedFile("k", "k\n", 0o600)], tmp_path)
    assert report.updated == ["k"]
    assert stat.S_IMODE((tmp_path / "k").stat().st_mode) == 0o600


def test_stale_own_files_are_removed_but_never_foreign_ones(tmp_path):
    write_tree(files(keep="k\n", old__dir__stale="s\n", shared__gen="g\n"), tmp_path)
    (tmp_path / "shared" / "mine.txt").write_text("user file\n")
    (tmp_path / "notes.md").write_text("user file\n")
    report = write_tree(files(keep="k\n"), tmp_path)
    assert report.removed == ["old/dir/stale", "shared/gen"]
    assert not (tmp_path / "old").exists()  # emptied directories go too
    assert (tmp_path / "shared" / "mine.txt").read_text() == "user file\n"  # foreign file and its dir stay
    assert (tmp_path / "notes.md").exists()
    assert json.loads((tmp_path / MANIFEST).read_text())["files"] == ["keep"]
    # a file the user put where homelab never wrote is not touched on later runs either
    assert write_tree(files(keep="k\n"), tmp_path).up_to_date


def test_a_tampered_manifest_cannot_delete_outside(tmp_path):
    out = tmp_path / "out"
    outside = tmp_path / "victim.txt"
    outside.write_text("precious\n")
    write_tree(files(a="a\n"), out)
    (out / MANIFEST).write_text(json.dumps({"files": ["a", "../victim.txt", str(outside), "link/x"]}))
    (out / "link").symlink_to(tmp_path)
    (tmp_path / "x").write_text("also precious\n")
    report = write_tree(files(b="b\n"), out)
    assert report.removed == ["a"]
    assert outside.read_text() == "precious\n"
    assert (tmp_path / "x").read_text() == "also precious\n"


def test_check_writes_nothing_and_reports_what_would_change(tmp_path):
    out = tmp_path / "out"
    report = write_tree(files(a="a\n"), out, check=True)
    assert report.created == ["a"] and not out.exists()
    write_tree(files(a="a\n", b="b\n"), out)
    age(out)
    before = tree(out)
    report = write_tree(files(a="A\n", c="c\n"), out, check=True)
    assert (report.created, report.updated, report.removed) == (["c"], ["a"], ["b"])
    assert not report.up_to_date and report.changed == ["a", "b", "c"]
    assert tree(out) == before
    assert all(p.stat().st_mtime == OLD for p in out.rglob("*") if p.is_file())
    assert write_tree(files(a="a\n", b="b\n"), out, check=True).up_to_date


def test_crash_between_temp_write_and_rename_keeps_the_old_file(tmp_path, monkeypatch):
    write_tree(files(a="old\n", b="old b\n"), tmp_path)

    def crash(src, dst):
        raise OSError(5, "simulated crash before rename", str(dst))

    monkeypatch.setattr(output, "_replace", crash)
    with pytest.raises(OutputError):
        write_tree(files(a="new\n", b="new b\n"), tmp_path)
    assert (tmp_path / "a").read_text() == "old\n"
    assert (tmp_path / "b").read_text() == "old b\n"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(output.TMP_SUFFIX)]


@pytest.mark.parametrize("die_at", [2, 3])
def test_killed_process_leaves_old_or_new_file_and_the_next_run_recovers(tmp_path, die_at):
    """A real crash: the process dies (os._exit) after a temporary file is written and fsync'ed but
    before its rename. Renames happen in order: 1 the widened manifest, 2 "a", 3 "new/b".
    Every file is then either its old or its new version, never partial; the next run sweeps the
    temporary, finishes the job, and cleans up what the crashed run may have left."""
    write_tree(files(a="old\n"), tmp_path)
    script = textwrap.dedent(f"""
        import os
        from homelab.render import output
        from homelab.render.base import RenderedFile
        calls = []
        def dying_replace(src, dst):
            calls.append(dst)
            if len(calls) == {die_at}:
                os._exit(137)
            os.replace(src, dst)
        output._replace = dying_replace
        output.write_tree([RenderedFile("a", "new\\n"), RenderedFile("new/b", "b\\n")], {str(tmp_path)!r})
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 137, proc.stderr
    assert (tmp_path / "a").read_text() == ("old\n" if die_at == 2 else "new\n")
    assert not (tmp_path / "new" / "b").exists()
    temporaries = [p for p in tmp_path.rglob("*") if p.name.endswith(output.TMP_SUFFIX)]
    assert len(temporaries) == 1 and temporaries[0].name.startswith(".a." if die_at == 2 else ".b.")
    # the manifest was widened before anything was created
    assert json.loads((tmp_path / MANIFEST).read_text())["files"] == ["a", "new/b"]
    report = write_tree(files(a="new\n"), tmp_path)
    assert report.updated == (["a"] if die_at == 2 else [])
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [MANIFEST, "a"]
    assert json.loads((tmp_path / MANIFEST).read_text())["files"] == ["a"]


@dataclass
class Fake:
    path: str
    content: str = "x\n"
    mode: int = 0o644


@pytest.mark.parametrize("bad", ["../escape", "/abs/path", "a/../../b", "a//b", "./a", "a\\b", ""])
def test_paths_must_stay_inside(tmp_path, bad):
    out = tmp_path / "out"
    with pytest.raises(OutputError):
        write_tree([Fake(bad)], out)
    assert list(tmp_path.iterdir()) == []  # refused before anything was created


def test_symlink_out_of_the_tree_is_refused(tmp_path):
    out = tmp_path / "out"
    elsewhere = tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "tf").symlink_to(elsewhere)
    with pytest.raises(OutputError):
        write_tree([RenderedFile("tf/main.tf", "x\n")], out)
    assert list(elsewhere.iterdir()) == []


def test_reserved_and_conflicting_paths(tmp_path):
    with pytest.raises(OutputError):
        write_tree([RenderedFile(MANIFEST, "{}\n")], tmp_path)
    with pytest.raises(OutputError):
        write_tree([RenderedFile("a", "1\n"), RenderedFile("a", "2\n")], tmp_path)
    (tmp_path / "d").mkdir()
    with pytest.raises(OutputError):
        write_tree([RenderedFile("d", "x\n")], tmp_path)
    file_out = tmp_path / "plain-file"
    file_out.write_text("x")
    with pytest.raises(OutputError):
        write_tree([RenderedFile("a", "1\n")], file_out)


def test_a_corrupt_manifest_is_an_error_not_a_guess(tmp_path):
    (tmp_path / MANIFEST).write_text("not json")
    with pytest.raises(OutputError) as exc:
        write_tree([RenderedFile("a", "1\n")], tmp_path)
    assert exc.value.hint and MANIFEST in exc.value.hint
    assert not (tmp_path / "a").exists()


def test_os_errors_become_output_errors(tmp_path):
    (tmp_path / "tf").write_text("a file where a directory is needed\n")
    with pytest.raises(OutputError) as exc:
        write_tree([RenderedFile("tf/main.tf", "x\n")], tmp_path)
    assert "tf" in exc.value.message
    assert (tmp_path / "tf").read_text() == "a file where a directory is needed\n"
