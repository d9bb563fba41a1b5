"""The command line as a new user meets it (issue 11, item 22 and the exit codes of item 19): `plan` before
`vault up` says what to do, `vault status` of a Vault that is not running is an answer (exit 1), not an
engine failure (3)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("VAULT_", "HOMELAB_", "BAO_")) or k.startswith("HOMELAB_NETGUARD")}
    env.update(extra)
    return env


def homelab(*args, cwd, env=None, input=None):
    out = subprocess.run([sys.executable, "-m", "homelab", *args], cwd=cwd, capture_output=True, text=True,
                         timeout=120, env=env or clean_env(), input=input)
    assert "Traceback" not in out.stdout + out.stderr
    return out


@pytest.fixture(scope="module")
def starter(tmp_path_factory):
    """A fresh `homelab init` directory: the starter lab, embedded Vault, nothing started."""
    d = tmp_path_factory.mktemp("starter")
    assert homelab("init", ".", cwd=d).returncode == 0
    return d


def test_plan_before_vault_up_says_start_it(starter):
    out = homelab("plan", cwd=starter)
    assert out.returncode == 0, out.stderr
    first = out.stdout.splitlines()[0]
    assert first.startswith("vault (vault): not configured: the embedded Vault is not running: start it with "
                            "`homelab vault up`, then `homelab vault init` and `homelab vault unseal`"), first
    plan = json.loads(homelab("plan", "--format", "json", cwd=starter).stdout)
    vault = next(layer for layer in plan["layers"] if layer["name"] == "vault")
    assert "homelab vault up" in vault["reason"]


def test_vault_status_of_a_stopped_embedded_vault_is_exit_1(starter):
    out = homelab("vault", "status", cwd=starter)
    assert out.returncode == 1, out.stderr
    assert out.stdout == ("address:     embedded\n"
                          "running:     no (the embedded Vault is not running)\n"
                          "  hint: start it with `homelab vault up`\n")
    js = homelab("vault", "status", "--format", "json", cwd=starter)
    assert js.returncode == 1
    assert json.loads(js.stdout) == {"address": "embedded", "url": None, "running": False,
                                     "reason": "the embedded Vault is not running",
                                     "hint": "start it with `homelab vault up`"}


# --------------------------------------------------------------------------------------- item 22: the CLI
def _commands():
    """Every command path, groups included (walking the click tree typer builds)."""
    import typer

    from homelab.cli.main import app

    out = []

    def walk(cmd, path):
        out.append(path)
        if hasattr(cmd, "list_commands"):  # a group; the root loads its commands lazily: ask it, as click does
            ctx = type(cmd).context_class(cmd)
            for name in sorted(cmd.list_commands(ctx)):
                walk(cmd.get_command(ctx, name), [*path, name])

    walk(typer.main.get_command(app), [])
    return out


PLACEHOLDER = re.compile(r"<(bool|str|int|float|list|path)[^>]*>")


def test_help_of_every_command_has_no_python_placeholders(capsys, monkeypatch):
    from homelab.cli.main import main

    monkeypatch.setenv("COLUMNS", "200")
    commands = _commands()
    assert len(commands) > 30 and ["vault", "restore"] in commands and ["app", "remove"] in commands
    for path in commands:
        with pytest.raises(SystemExit) as ex:
            main([*path, "--help"])
        out = capsys.readouterr().out
        assert ex.value.code == 0, path
        assert not PLACEHOLDER.search(out), (path, PLACEHOLDER.search(out).group(0))
        usage = next(ln for ln in out.splitlines() if "Usage:" in ln)
        assert "{" not in usage, usage
    with pytest.raises(SystemExit):
        main(["vault", "restore", "--help"])
    out = capsys.readouterr().out
    assert "Usage: homelab vault restore [OPTIONS] BACKUP_FILE" in out
    assert re.search(r"--yes\s+-y\s+Do not ask", out)  # a flag: no placeholder at all
    assert re.search(r"--keys-file\s+TEXT\s", out)
    with pytest.raises(SystemExit):
        main(["apply", "--help"])
    assert re.search(r"--parallelism\s+-p\s+INTEGER \[1<=x<=64\]", capsys.readouterr().out)


def test_shell_completion(starter):
    # The shell is named, never detected: under a test runner the parent process is no shell (shellingham), and
    # no completion variable of the runner's environment may leak in.
    env = {k: v for k, v in clean_env().items() if not k.endswith("_COMPLETE") and not k.startswith("COMP_")}
    out = homelab("--show-completion", "bash", cwd=starter,
                  env={**env, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"})
    assert out.returncode == 0, out.stderr
    assert "complete -o default -F _homelab_completion homelab" in out.stdout
    assert "_HOMELAB_COMPLETE=complete_bash" in out.stdout
    env = clean_env(_HOMELAB_COMPLETE="complete_bash", COMP_WORDS="homelab va", COMP_CWORD="1")
    assert homelab(cwd=starter, env=env).stdout.split() == ["validate", "vault"]
    env.update(COMP_WORDS="homelab vault re", COMP_CWORD="2")
    assert homelab(cwd=starter, env=env).stdout.split() == ["restore"]
    assert "--install-completion" in homelab("--help", cwd=starter).stdout


def test_debug_is_accepted_after_the_subcommand_and_shows_the_traceback(starter, capsys, monkeypatch):
    from homelab import checks as rules
    from homelab.cli.main import main

    def broken(doc):
        raise RuntimeError("a bug in a rule runner")

    monkeypatch.setattr(rules, "run_checks", broken)
    lab = str(starter / "homelab.yaml")
    with pytest.raises(RuntimeError, match="a bug in a rule runner"):  # propagates: Python prints the traceback
        main(["check", lab, "--debug"])
    with pytest.raises(SystemExit) as ex:  # the next run without --debug: no traceback, a hint
        main(["check", lab])
    assert ex.value.code == 1
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: a bug in a rule runner" in err and "--debug" in err
    with pytest.raises(RuntimeError):
        main(["--debug", "check", lab])  # before the subcommand, as always
    proc = homelab("vault", "status", "--debug", cwd=starter)  # a nested command takes it too
    assert proc.returncode == 1 and "No such option" not in proc.stderr


def test_explain_renders_markdown_on_a_terminal_and_plain_when_piped(starter):
    import pexpect

    from homelab.checks import get_rule

    doc = get_rule("vm-ip-duplicate").explain()
    piped = homelab("explain", "vm-ip-duplicate", cwd=starter)
    assert piped.stdout == doc  # the Markdown itself, for files and pipes
    child = pexpect.spawn(sys.executable, ["-m", "homelab", "explain", "vm-ip-duplicate"], env=clean_env(),
                          cwd=str(starter), encoding="utf-8", timeout=60, dimensions=(60, 120))
    child.expect(pexpect.EOF)
    shown = child.before
    assert "\x1b[" in shown  # styled for the terminal
    plain = re.sub(r"\x1b\[[0-9;]*m", "", shown)
    assert "**Severity:**" not in plain and "```" not in plain and "## Problematic" not in plain
    assert "Severity: error" in plain and "Problematic" in plain and "vms:" in plain
