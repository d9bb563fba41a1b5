"""The drill's dated report: `<dir>/DATE.md` (for people) and `<dir>/DATE.json` (for tools), DATE the UTC day,
written atomically (a second drill the same day replaces the day's report). RPO = age of the newest good
backup of a kind, RTO = measured restore time, each against backup.targets; `missed` lists what failed."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path


def _dur(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def report_json(results, started: datetime, lab_file: str) -> dict:
    missed = [f"{r.kind}: {m}" for r in results for m in r.missed]
    return {"format": 1, "drill": started.isoformat(timespec="seconds"), "lab": lab_file,
            "passed": not missed, "missed": missed, "kinds": [r.to_json() for r in results]}


def report_markdown(data: dict) -> str:
    lines = [f"# Disaster-recovery drill {data['drill'][:10]}", "",
             f"Run by `homelab drill` at {data['drill']} (UTC) on `{data['lab']}`. "
             "RPO: age of the newest good backup. RTO: measured restore time. Secret values are never read "
             "into this report: Vault data is compared by hash.", "",
             f"**Result: {'all targets met' if data['passed'] else 'targets missed: ' + ', '.join(data['missed'])}**",
             "", "| Kind | Status | RPO (target) | RTO (target) | Detail |", "| --- | --- | --- | --- | --- |"]
    for k in data["kinds"]:
        rpo = f"{_dur(k['rpo_seconds'])} ({k['rpo_target']})"
        rto = f"{_dur(k['rto_seconds'])} ({k['rto_target']})"
        flag = " **missed: " + ", ".join(k["missed"]) + "**" if k["missed"] else ""
        lines.append(f"| {k['kind']} | {k['status']}{flag} | {rpo} | {rto} | {k['detail']} |")
    missing = next((k["facts"].get("catalogue_missing") for k in data["kinds"]
                    if k["kind"] == "vault" and k.get("facts")), None)
    if missing:
        lines += ["", "Catalogue paths not in the Vault backup (never stored, or stored after it): "
                  + ", ".join(f"`{p}`" for p in missing) + "."]
    return "\n".join(lines) + "\n"


def write_report(directory: Path, data: dict) -> tuple[Path, Path]:
    from homelab.lab.edit import write_atomic

    directory.mkdir(parents=True, exist_ok=True)
    day = data["drill"][:10]
    md, js = directory / f"{day}.md", directory / f"{day}.json"
    write_atomic(js, json.dumps(data, indent=2, sort_keys=True) + "\n")
    write_atomic(md, report_markdown(data))
    return md, js
