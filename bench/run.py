"""Benchmark homelab on the reference lab and on a generated lab (default 1,000 VMs).

    python bench/run.py                  # table on stdout
    python bench/run.py --json bench/results.json
    python bench/run.py --profile check  # where the time goes (cProfile, top functions)

Two views:
* whole commands, as a user feels them: `homelab --help`, `homelab check`, `homelab render --out TMP`
  and `homelab plan` (each skipped with a note when the command does not exist yet), run as
  subprocesses; the median of N runs of the wall time (interpreter start and imports included);
* an in-process breakdown of the pipeline: load (read + YAML + model), resolve (allocation and
  placement), check (every rule), render (every renderer), each the median of N runs.

Nothing here talks to the lab: the Vault address is pointed at a closed port on 127.0.0.1 and the
state directory is a temporary one, so `plan` reports every layer as not configured/unreachable.
Timings are printed, and written as JSON only when asked (--json). Tests never assert timings.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REFERENCE = ROOT / "examples" / "reference" / "homelab.yaml"
sys.path.insert(0, str(HERE))


def homelab_cmd() -> list[str]:
    script = Path(sys.executable).parent / "homelab"
    return [str(script)] if script.exists() else [sys.executable, "-m", "homelab"]


def safe_env(state_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "HOMELAB_VAULT_ADDR": "http://127.0.0.1:9",  # closed port: the plan reports Vault unreachable
        "HOMELAB_STATE_DIR": str(state_dir),
        "NO_COLOR": "1",
    })
    for var in ("HOMELAB_VAULT_EMBEDDED", "VAULT_ADDR", "VAULT_TOKEN", "KUBECONFIG"):
        env.pop(var, None)
    return env


def available_commands() -> set[str]:
    out = subprocess.run([*homelab_cmd(), "--help"], capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    names = set()
    for line in out.stdout.splitlines():
        parts = line.strip("│ ").split()
        if parts:
            names.add(parts[0])
    return names


def time_subprocess(argv: list[str], runs: int, env: dict, cwd: Path) -> dict:
    times, rc, tail = [], None, ""
    for i in range(runs + 1):  # first run warms the OS caches and is not counted
        t0 = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd)
        elapsed = time.perf_counter() - t0
        rc = proc.returncode
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] if rc else ""
        if i:
            times.append(elapsed)
    return {"median_s": statistics.median(times), "min_s": min(times), "runs": runs, "exit_code": rc,
            "note": tail[0][:120] if tail else ""}


def time_inprocess(lab_path: Path, runs: int) -> dict[str, dict]:
    from homelab.checks import run_checks
    from homelab.lab.load import load_lab
    from homelab.render import render_all

    phases: dict[str, list[float]] = {"load": [], "resolve": [], "check": [], "render": []}
    counts = {}
    for i in range(runs + 1):  # first run pays the imports; not counted
        doc = files = None
        gc.collect()  # each run starts from the same heap, as a fresh command would
        t0 = time.perf_counter()
        doc = load_lab(lab_path)
        t1 = time.perf_counter()
        _ = doc.inventory
        t2 = time.perf_counter()
        diags = run_checks(doc)
        t3 = time.perf_counter()
        files = render_all(doc)
        t4 = time.perf_counter()
        counts = {"vms": len(doc.lab.vms), "apps": len(doc.lab.apps), "findings": len(diags),
                  "errors": sum(1 for d in diags if d.severity.value == "error"), "files": len(files)}
        if i:
            for name, dt in zip(phases, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                phases[name].append(dt)
    result = {name: {"median_s": statistics.median(v), "min_s": min(v), "runs": runs} for name, v in phases.items()}
    result["counts"] = counts
    return result


def profile(lab_path: Path, phase: str, top: int) -> str:
    import cProfile
    import io
    import pstats

    from homelab.checks import run_checks
    from homelab.lab.load import load_lab
    from homelab.render import render_all

    doc = load_lab(lab_path)
    run_checks(doc)  # imports and caches out of the way
    render_all(doc)
    prof = cProfile.Profile()
    if phase == "load":
        prof.runcall(lambda: load_lab(lab_path).inventory)
    elif phase == "check":
        prof.runcall(lambda: run_checks(load_lab(lab_path)))
    else:
        prof.runcall(render_all, doc)
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    stats.sort_stats("cumulative").print_stats(top)
    buf.write("\n--- by own time ---\n")
    stats.sort_stats("tottime").print_stats(top)
    text = buf.getvalue()
    return text.replace(str(ROOT) + "/", "").replace(sys.prefix + "/", "")


def fmt_s(seconds: float) -> str:
    return f"{seconds * 1000:8.0f} ms" if seconds < 10 else f"{seconds:8.2f} s "


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark homelab (check, render, plan, startup).")
    parser.add_argument("--vms", type=int, default=1000, help="size of the generated lab (default 1000)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per measurement (median reported)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--profile", choices=("load", "check", "render"),
                        help="profile one phase on the generated lab instead of timing")
    parser.add_argument("--top", type=int, default=25, help="functions shown by --profile")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    import generate

    with tempfile.TemporaryDirectory(prefix="homelab-bench-") as tmp:
        tmpdir = Path(tmp)
        big = tmpdir / f"lab-{args.vms}" / "homelab.yaml"
        big.parent.mkdir()
        big.write_text(generate.dump(generate.generate(args.vms)), encoding="utf-8")
        if args.profile:
            print(profile(big, args.profile, args.top))
            return 0

        labs = {"reference": REFERENCE, f"generated-{args.vms}": big}
        commands = available_commands()
        env = safe_env(tmpdir / "state")
        results: dict = {
            "python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
            "runs": args.runs, "startup": {}, "labs": {}, "skipped": [],
        }
        rows: list[tuple[str, str, dict]] = []

        r = time_subprocess([*homelab_cmd(), "--help"], args.runs, env, tmpdir)
        results["startup"] = {"homelab --help": r}
        rows.append(("—", "homelab --help", r))

        for label, path in labs.items():
            lab_result: dict = {"subprocess": {}, "inprocess": {}}
            out = tmpdir / f"rendered-{label}"
            for cmd in ("check", "render", "plan"):
                if cmd not in commands:
                    note = f"`homelab {cmd}` does not exist yet: skipped"
                    if note not in results["skipped"]:
                        results["skipped"].append(note)
                    continue
                argv = [*homelab_cmd(), cmd, str(path)]
                if cmd == "render":
                    argv += ["--out", str(out)]
                if cmd == "plan":
                    argv += ["--out", str(out)]
                r = time_subprocess(argv, args.runs, env, tmpdir)
                lab_result["subprocess"][f"homelab {cmd}"] = r
                rows.append((label, f"homelab {cmd}", r))
            shutil.rmtree(tmpdir / "state", ignore_errors=True)
            inproc = time_inprocess(path, args.runs)
            lab_result["inprocess"] = inproc
            lab_result["counts"] = inproc.pop("counts")
            for phase, r in inproc.items():
                rows.append((label, f"  in-process {phase}", r))
            results["labs"][label] = lab_result

    print(f"homelab benchmark — Python {results['python']}, {results['cpus']} CPUs, median of {args.runs} runs\n")
    print(f"{'lab':<16} {'measurement':<26} {'median':>11} {'min':>11}  exit  note")
    print("-" * 96)
    for lab, what, r in rows:
        code = "" if "exit_code" not in r else str(r["exit_code"])
        print(f"{lab:<16} {what:<26} {fmt_s(r['median_s'])} {fmt_s(r['min_s'])}  {code:>4}  {r.get('note', '')}")
    for label, lab_result in results["labs"].items():
        c = lab_result["counts"]
        print(f"\n{label}: {c['vms']} VMs, {c['apps']} apps, {c['files']} rendered files, "
              f"{c['findings']} findings ({c['errors']} errors)")
    for note in results["skipped"]:
        print(f"note: {note}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
