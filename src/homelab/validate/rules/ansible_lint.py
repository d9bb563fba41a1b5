"""`ansible-lint --offline --profile production` over `ansible/` (ansible-lint from the same environment).
Slow (~30 s on the reference tree): only with --deep."""

import re
import subprocess

from homelab.diagnostics import Severity
from homelab.validate.base import Finding, rule
from homelab.validate.rules.ansible_syntax import env, playbooks, tool

LINE = re.compile(r"^(?P<path>[^:\s]+):(?P<line>\d+)(?::\d+)?: (?P<rule>[\w\[\]\-.]+):? (?P<msg>.*)$")


@rule("ansible-lint", "warning", "ansible-lint's production profile reports a violation", deep=True, area="ansible")
def check(ctx):
    if not playbooks(ctx) and not ctx.tree.files("ansible/roles"):
        return
    exe = tool("ansible-lint")
    if exe is None:
        yield Finding("ansible", 0, "ansible-lint is not installed: the lint was not run", "pip install ansible-lint",
                      severity=Severity.INFO)
        return
    proc = subprocess.run([exe, "--offline", "--profile", "production", "--format", "pep8", "--nocolor"],
                          cwd=ctx.root / "ansible", capture_output=True, text=True, env=env(), timeout=900)
    if proc.returncode not in (0, 2):
        yield Finding("ansible", 0, f"ansible-lint failed: {(proc.stderr or proc.stdout).strip()[-300:]}",
                      "run ansible-lint in ansible/ to see why")
        return
    for line in proc.stdout.splitlines():
        m = LINE.match(line.strip())
        if m:
            yield Finding(f"ansible/{m['path']}", int(m["line"]), f"{m['rule']}: {m['msg']}",
                          f"see https://ansible.readthedocs.io/projects/lint/rules/{m['rule'].split('[')[0]}/")
