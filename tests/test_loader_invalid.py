"""The invalid-input corpus: every file in tests/fixtures/invalid/ is one way a lab file can be unusable.

Each must make `homelab check` exit 2 with the expected rule ids at the expected lines, and never print a
traceback. Expectations live in the files: `# expect: rule-id[, rule-id]` at the end of the line the
diagnostic must point at, `# expect-line: N rule-id` where that line cannot carry a comment, and
`# expect-text: ...` for text the output must contain (e.g. a did-you-mean hint). Byte-level cases
(binary, encodings, size, missing/unreadable files) are generated here.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path

import pytest

from homelab.cli.main import main

CORPUS = Path(__file__).resolve().parent / "fixtures" / "invalid"
FILES = sorted(CORPUS.glob("*.yaml"))
DIAG_RE = re.compile(r"^(?P<file>.+?)(?::(?P<line>\d+):(?P<col>\d+))?: (?P<sev>error|warning)\[(?P<rule>[a-z0-9-]+)\]: ",
                     re.M)
EXPECT_RE = re.compile(r"#\s*expect:\s*([a-z0-9, -]+?)\s*$")
EXPECT_LINE_RE = re.compile(r"^#\s*expect-line:\s*(\d+)\s+([a-z0-9-]+)\s*$")
EXPECT_TEXT_RE = re.compile(r"^#\s*expect-text:\s*(.+?)\s*$")

VALID = """version: 1
name: corpus
network:
  cidr: 10.0.0.0/24
  gateway: 10.0.0.1
  dns: [10.0.0.1]
  domain: lab.example.org
proxmox:
  nodes:
    - {name: pve1, cores: 16, memory: 64GiB, storages: {local-lvm: 2TiB}}
vms:
  - {name: web01, role: general, env: lab}
vault:
  secrets:
    - {path: infra/proxmox, fields: [api_token_id, api_token_secret]}
"""


def expectations(text: str):
    pairs: Counter = Counter()
    texts = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if m := EXPECT_LINE_RE.match(line):
            pairs[(m.group(2), int(m.group(1)))] += 1
        elif m := EXPECT_TEXT_RE.match(line):
            texts.append(m.group(1))
        elif m := EXPECT_RE.search(line):
            for rid in m.group(1).split(","):
                pairs[(rid.strip(), lineno)] += 1
    return pairs, texts


def run_cli(capsys, *args) -> tuple[int, str, str]:
    """Run the real entry point (`homelab.cli.main:main`, what the console script calls) in-process."""
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def diagnostics_in(text: str) -> Counter:
    return Counter((m["rule"], int(m["line"] or 0)) for m in DIAG_RE.finditer(text))


def assert_unusable(capsys, path, expected: Counter, texts=(), display=None):
    code, out, err = run_cli(capsys, "check", str(path))
    assert code == 2, out + err
    assert "Traceback" not in out + err
    assert out == ""  # text-mode diagnostics of an unusable file go to stderr
    assert diagnostics_in(err) == expected, err
    for m in DIAG_RE.finditer(err):
        assert m["file"] == (display or str(path))
    assert re.search(r"^\d+ error\(s\), 0 warning\(s\)$", err, re.M)
    for t in texts:
        assert t in err, (t, err)
    # --format json carries the same diagnostics, on stdout
    code, out, err = run_cli(capsys, "check", str(path), "--format", "json")
    assert code == 2 and "Traceback" not in out + err
    data = json.loads(out)
    got = Counter((d["rule"], d["location"]["line"]) for d in data["diagnostics"])
    assert got == expected
    assert all(d["severity"] == "error" and d["message"] for d in data["diagnostics"])


def test_corpus_is_large_and_every_file_expects_something():
    assert len(FILES) >= 40
    for path in FILES:
        pairs, _ = expectations(path.read_text(encoding="utf-8"))
        assert pairs, f"{path.name} has no expectation"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_corpus_file(capsys, path):
    pairs, texts = expectations(path.read_text(encoding="utf-8"))
    assert_unusable(capsys, path, pairs, texts)


# --- generated cases: bytes that cannot live in a text fixture ------------------------------------

def test_empty_file(capsys, tmp_path):
    p = tmp_path / "homelab.yaml"
    p.write_bytes(b"")
    assert_unusable(capsys, p, Counter({("file-empty", 1): 1}))


def test_whitespace_only_file(capsys, tmp_path):
    p = tmp_path / "homelab.yaml"
    p.write_bytes(b"  \n\n\t\n   \n")
    assert_unusable(capsys, p, Counter({("file-empty", 1): 1}))


def test_nul_bytes(capsys, tmp_path):
    p = tmp_path / "homelab.yaml"
    lines = VALID.encode().splitlines(keepends=True)
    p.write_bytes(b"".join(lines[:4]) + b"  gate\x00way: 10.0.0.1\n" + b"".join(lines[5:]))
    assert_unusable(capsys, p, Counter({("file-not-text", 5): 1}), ["NUL byte on line 5"])


def test_random_binary(capsys, tmp_path):
    p = tmp_path / "homelab.yaml"
    p.write_bytes(bytes(range(256)) * 4)
    assert_unusable(capsys, p, Counter({("file-not-text", 1): 1}))


def test_not_utf8(capsys, tmp_path):
    p = tmp_path / "homelab.yaml"
    p.write_bytes(VALID.replace("name: corpus", "name: caf\u00e9").encode("latin-1"))
    assert_unusable(capsys, p, Counter({("file-not-text", 2): 1}), ["not UTF-8"])


def test_utf16_with_bom(capsys, tmp_path):
    p = tmp_path / "homelab.yaml"
    p.write_bytes(VALID.encode("utf-16"))
    assert_unusable(capsys, p, Counter({("file-not-text", 1): 1}))


def test_utf8_bom_keeps_line_numbers(capsys, tmp_path):
    p = tmp_path / "homelab.yaml"
    p.write_bytes(b"\xef\xbb\xbf" + VALID.replace("  gateway: 10.0.0.1", "  gateway: 10.0.0.999").encode())
    assert_unusable(capsys, p, Counter({("invalid-value", 5): 1}))


def test_utf8_bom_on_a_valid_lab_loads(capsys, tmp_path):
    p = tmp_path / "homelab.yaml"
    p.write_bytes(b"\xef\xbb\xbf" + VALID.encode())
    code, out, err = run_cli(capsys, "check", str(p))
    assert (code, err) == (0, "")
    assert out == f"{p}: ok (1 VMs, 0 apps)\n"


def test_crlf_line_endings_keep_line_numbers(capsys, tmp_path):
    p = tmp_path / "homelab.yaml"
    p.write_bytes(VALID.replace("  dns: [10.0.0.1]", "  dns: 10.0.0.1").replace("\n", "\r\n").encode())
    assert_unusable(capsys, p, Counter({("wrong-type", 6): 1}))


def test_huge_file(capsys, tmp_path):
    from homelab.lab.load import MAX_BYTES

    p = tmp_path / "homelab.yaml"
    filler = ("# " + "x" * 98 + "\n").encode()
    with p.open("wb") as fh:
        fh.write(VALID.encode())
        fh.write(filler * (MAX_BYTES // len(filler) + 1))
    assert p.stat().st_size > MAX_BYTES
    assert_unusable(capsys, p, Counter({("file-too-large", 0): 1}), ["a lab file is at most"])


def test_missing_file(capsys, tmp_path):
    p = tmp_path / "nope.yaml"
    assert_unusable(capsys, p, Counter({("file-not-found", 0): 1}), ["does not exist", "homelab init"])


def test_default_path_missing(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, "check")
    assert code == 2 and out == ""
    assert err.startswith("homelab.yaml: error[file-not-found]: homelab.yaml does not exist\n")


def test_directory_without_lab(capsys, tmp_path):
    assert_unusable(capsys, tmp_path, Counter({("file-not-found", 0): 1}), ["is a directory"])


def test_directory_with_a_broken_lab(capsys, tmp_path):
    (tmp_path / "homelab.yaml").write_text(VALID.replace("version: 1", "version: 7"))
    assert_unusable(capsys, tmp_path, Counter({("invalid-value", 1): 1}),
                    display=str(tmp_path / "homelab.yaml"))


def test_unreadable_file_permission_denied(capsys, tmp_path, monkeypatch):
    # CI runs as root, which reads any file: simulate the EACCES the kernel gives an ordinary user.
    p = tmp_path / "homelab.yaml"
    p.write_text(VALID)
    real = Path.read_bytes

    def denied(self):
        if self == p:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    assert_unusable(capsys, p, Counter({("file-unreadable", 0): 1}), ["permission denied"])


def test_unreadable_file_chmod_000(capsys, tmp_path):
    p = tmp_path / "homelab.yaml"
    p.write_text(VALID)
    p.chmod(0)
    try:
        if os.geteuid() == 0:
            # root ignores the mode bits: the lab is read and checked like any other
            code, out, err = run_cli(capsys, "check", str(p))
            assert (code, out, err) == (0, f"{p}: ok (1 VMs, 0 apps)\n", "")
        else:
            assert_unusable(capsys, p, Counter({("file-unreadable", 0): 1}))
    finally:
        p.chmod(0o600)


def test_io_error_while_reading(capsys, tmp_path, monkeypatch):
    p = tmp_path / "homelab.yaml"
    p.write_text(VALID)
    real = Path.read_bytes

    def eio(self):
        if self == p:
            raise OSError(5, "Input/output error")
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", eio)
    assert_unusable(capsys, p, Counter({("file-unreadable", 0): 1}), ["Input/output error"])
