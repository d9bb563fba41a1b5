"""Every playbook of `ansible/` passes `ansible-playbook --syntax-check` with the rendered inventory
(ansible-core from the same environment as homelab). Slow: only with --deep."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from homelab.diagnostics import Severity
from homelab.validate.base import Finding, rule


def tool(name: str) -> str | None:
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else shutil.which(name)


def env() -> dict:
    out = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    out.update({"ANSIBLE_NOCOLOR": "1", "NO_COLOR": "1",
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{out.get('PATH', '')}"})
    return out


def playbooks(ctx) -> list[str]:
    found = ctx.tree.files("ansible", (".yml", ".yaml"))
    out = []
    for p in found:
        rel = p[len("ansible/"):]
        if rel == "site.yml" or rel.startswith("playbooks/"):
            out.append(rel)
    return out


@rule("ansible-syntax", "error", "a playbook fails `ansible-playbook --syntax-check`", deep=True, area="ansible")
def check(ctx):
    books = playbooks(ctx)
    if not books:
        return
    exe = tool("ansible-playbook")
    if exe is None:
        yield Finding("ansible", 0, "ansible-playbook is not installed: the syntax check was not run",
                      "pip install ansible-core", severity=Severity.INFO)
        return
    inventory = ["-i", "inventory.yml"] if ctx.tree.exists("ansible/inventory.yml") else []
    for book in books:
        proc = subprocess.run([exe, "--syntax-check", *inventory, book], cwd=ctx.root / "ansible",
                              capture_output=True, text=True, env=env(), timeout=300)
        if proc.returncode != 0:
            text = (proc.stderr or proc.stdout).strip()
            # ansible-core 2.19: "Origin: /abs/path/site.yml:5:7"; older: "The error appears to be in '...': line 5"
            m = re.search(r"Origin: (\S+?\.ya?ml):(\d+)", text) or re.search(r"'([^']+\.ya?ml)': line (\d+)", text)
            path, line = (m.group(1), int(m.group(2))) if m else (book, 1)
            base = ctx.root / "ansible"
            path = "ansible/" + (os.path.relpath(path, base) if os.path.isabs(path) else path)
            first = next((ln for ln in text.splitlines() if "ERROR" in ln), text.splitlines()[0] if text else "")
            yield Finding(path, line, f"{book}: syntax check failed: {first.strip()[:300]}",
                          "fix the playbook/role (ansible-playbook refuses to run it)")
