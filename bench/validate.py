"""Benchmark `homelab validate` and `homelab secrets scan` against the tools a user would otherwise chain.

    python bench/validate.py                 # reference lab + generated 1,000-VM lab, table on stdout
    python bench/validate.py --vms 200 --runs 3 --json out.json

For each lab: render it, then time (median of --runs, whole command as a subprocess):
- `homelab validate` cold (empty templating cache: every chart templated with the Helm engine) — once;
- `homelab validate` warm (cache filled: keyed by chart digest + values hash, file contents);
- the peers on the same rendered tree: kubernetes-validate --strict (the repository's manifests only: it
  cannot template the charts), yamllint, ansible-lint --profile production, detect-secrets, checkov (when
  installed; `--checkov PATH` or on PATH) — and the ratio homelab validate (warm) / the peers together.
Then the secret scanners on a planted corpus (bench/secrets_corpus.py; all secrets in the working tree,
since detect-secrets reads no history): recall and false positives of homelab and detect-secrets.
The charts come from ../shared/charts (or --charts). Nothing here contacts the network.
"""

from __future__ import annotations

import argparse
import json
import os
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

from run import homelab_cmd, safe_env  # noqa: E402


def timed(argv: list[str], runs: int, env: dict, cwd: Path) -> dict:
    times, rc, tail = [], None, ""
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd)
        times.append(time.perf_counter() - t0)
        rc, tail = proc.returncode, (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [""]
    return {"median_s": statistics.median(times), "min_s": min(times), "runs": runs, "exit_code": rc,
            "note": tail[0][:100]}


def bin_of(name: str, override: str | None = None) -> str | None:
    if override:
        return override
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else shutil.which(name)


def peers(tree: Path, runs: int, env: dict, checkov: str | None) -> dict[str, dict]:
    out: dict[str, dict] = {}
    manifests = sorted(str(p) for p in (tree / "k8s").rglob("*.yaml"))
    kv = bin_of("kubernetes-validate")
    cmds = {
        "kubernetes-validate --strict": [kv, "--strict", "-k", "1.33.0", *manifests] if kv else None,
        "yamllint": [bin_of("yamllint"), "-c", str(tree / ".yamllint"), str(tree)] if bin_of("yamllint") else None,
        "ansible-lint --profile production": ([bin_of("ansible-lint"), "--offline", "--profile", "production", "-q"]
                                              if bin_of("ansible-lint") else None),
        "detect-secrets scan": [bin_of("detect-secrets"), "scan", "--all-files", str(tree)]
        if bin_of("detect-secrets") else None,
        "checkov": [bin_of("checkov", checkov), "-d", str(tree), "--quiet", "--compact", "--skip-download"]
        if bin_of("checkov", checkov) else None,
    }
    for name, argv in cmds.items():
        if argv is None:
            out[name] = {"skipped": "not installed"}
            continue
        cwd = tree / "ansible" if name.startswith("ansible-lint") else tree
        out[name] = timed(argv, 1 if name.startswith(("ansible-lint", "checkov")) else runs, env, cwd)
    return out


def bench_lab(label: str, lab: Path, work: Path, charts: Path, runs: int, env: dict, checkov: str | None) -> dict:
    tree = work / f"rendered-{label}"
    subprocess.run([*homelab_cmd(), "render", str(lab), "--out", str(tree)], check=True, capture_output=True, env=env)
    shutil.copy(lab, tree / "homelab.yaml")
    cache = work / f"cache-{label}"
    argv = [*homelab_cmd(), "validate", str(tree), "--charts", str(charts), "--cache-dir", str(cache)]
    result = {"cold": timed(argv, 1, env, work), "warm": timed(argv, runs, env, work)}
    result["peers"] = peers(tree, runs, env, checkov)
    ran = [r["median_s"] for r in result["peers"].values() if "median_s" in r]
    result["peers_total_s"] = sum(ran)
    result["ratio_warm_to_peers"] = result["warm"]["median_s"] / sum(ran) if ran else None
    return result


def secrets_comparison(work: Path, env: dict) -> dict:
    import secrets_corpus

    repo = work / "corpus"
    repo.mkdir()
    plants = secrets_corpus.planted()
    (repo / "decoys.yaml").write_text(secrets_corpus.DECOYS)
    (repo / "config.env").write_text("".join(line + "\n" for _, line in plants.values()))
    planted_lines = {i + 1 for i in range(len(plants))}
    out = {}
    t0 = time.perf_counter()
    hl = subprocess.run([*homelab_cmd(), "secrets", "scan", str(repo), "--no-history", "--format", "json"],
                        capture_output=True, text=True, env=env)
    hl_s = time.perf_counter() - t0
    found = json.loads(hl.stdout)["findings"]
    out["homelab secrets scan"] = {
        "recall": len({f["line"] for f in found if f["file"] == "config.env"} & planted_lines) / len(plants),
        "false_positives": sum(1 for f in found if f["file"] == "decoys.yaml"), "seconds": hl_s}
    ds = bin_of("detect-secrets")
    if ds:
        t0 = time.perf_counter()
        proc = subprocess.run([ds, "scan", "--all-files", "."], cwd=repo, capture_output=True, text=True, env=env)
        ds_s = time.perf_counter() - t0
        results = json.loads(proc.stdout).get("results", {})
        lines = {r["line_number"] for r in results.get("config.env", [])}
        out["detect-secrets 1.5 (defaults)"] = {"recall": len(lines & planted_lines) / len(plants),
                                                "false_positives": len(results.get("decoys.yaml", [])),
                                                "seconds": ds_s}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--charts", default=str(ROOT.parent / "shared" / "charts"))
    parser.add_argument("--checkov", help="the checkov executable (default: on PATH)")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    import generate

    charts = Path(args.charts)
    if not (charts / "argo-cd-10.1.1.tgz").is_file():
        parser.error(f"no packaged charts in {charts} (--charts DIR)")
    with tempfile.TemporaryDirectory(prefix="homelab-bench-validate-") as tmp:
        work = Path(tmp)
        env = safe_env(work / "state")
        big = work / "big" / "homelab.yaml"
        big.parent.mkdir()
        big.write_text(generate.dump(generate.generate(args.vms)), encoding="utf-8")
        results = {"labs": {}, "load_average": os.getloadavg()}
        for label, lab in (("reference", REFERENCE), (f"generated-{args.vms}", big)):
            results["labs"][label] = bench_lab(label, lab, work, charts, args.runs, env, args.checkov)
        results["secrets"] = secrets_comparison(work, env)
    for label, r in results["labs"].items():
        print(f"\n{label}")
        print(f"  homelab validate cold  {r['cold']['median_s']:8.2f} s   (exit {r['cold']['exit_code']})")
        print(f"  homelab validate warm  {r['warm']['median_s']:8.2f} s   (exit {r['warm']['exit_code']})")
        for name, p in r["peers"].items():
            print(f"  {name:<34} " + (f"{p['median_s']:8.2f} s" if "median_s" in p else p["skipped"]))
        if r["ratio_warm_to_peers"] is not None:
            print(f"  ratio validate (warm) / peers together: {r['ratio_warm_to_peers']:.2f} "
                  f"(peers {r['peers_total_s']:.2f} s)")
    print("\nsecret scanners on the planted corpus (working tree; detect-secrets reads no git history):")
    for name, r in results["secrets"].items():
        print(f"  {name:<32} recall {r['recall']:.2f}  false positives {r['false_positives']}  {r['seconds']:.2f} s")
    print(f"\nload average {results['load_average'][0]:.1f} (timings on a busy machine are slower)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
