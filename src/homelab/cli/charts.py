"""`homelab charts pull [LAB]` — fill the chart cache (.homelab/charts/) from the repositories and OCI
registries the lab names, verified by digest; `homelab charts list` shows what is cached."""

from __future__ import annotations

import sys

import typer

from homelab.cli._output import check_format, emit, emit_json, load_or_exit
from homelab.cli.options import FormatOption, LabArg, StateDirOption

charts_app = typer.Typer(help="The chart cache validate templates from (.homelab/charts/).", no_args_is_help=True)
DirOption = typer.Option(None, "--dir", help="The cache directory. Default: <state dir>/charts.")


@charts_app.command()
def pull(file: str = LabArg, directory: str = DirOption, state_dir: str = StateDirOption, fmt: str = FormatOption):
    """Download every chart the lab names into the cache, each verified against its repository's digest."""
    check_format(fmt)
    from homelab.charts.cache import ChartCache, default_dir
    from homelab.charts.pull import lab_charts
    from homelab.charts.pull import pull as run

    doc = load_or_exit(file, fmt)
    cache = ChartCache(directory or default_dir(state_dir))
    done = run(lab_charts(doc), cache, progress=lambda m: emit(f"  | {m}", sys.stderr))
    if fmt == "json":
        emit_json({"dir": str(cache.dir), "charts": [{"name": p.ref.name, "version": p.ref.version, "repo": p.ref.repo,
                                                       "status": p.status, "digest": p.digest} for p in done]})
        return
    for p in done:
        emit(f"{p.ref.name} {p.ref.version}: {p.status} ({p.digest[:19]}…)")
    emit(f"{cache.dir}: {len(done)} chart(s), {sum(p.status == 'pulled' for p in done)} pulled")


@charts_app.command("list")
def list_(directory: str = DirOption, state_dir: str = StateDirOption, fmt: str = FormatOption):
    """List the cached charts with their digests."""
    check_format(fmt)
    from homelab.charts.cache import ChartCache, default_dir, file_digest

    cache = ChartCache(directory or default_dir(state_dir))
    items = sorted(cache.dir.glob("*.tgz")) if cache.dir.is_dir() else []
    rows = [{"file": p.name, "digest": file_digest(p)} for p in items]
    if fmt == "json":
        emit_json({"dir": str(cache.dir), "charts": rows})
        return
    for r in rows:
        emit(f"{r['file']}  {r['digest']}")
    if not rows:
        emit(f"{cache.dir}: no charts (run `homelab charts pull`)")


def register(app: typer.Typer) -> None:
    app.add_typer(charts_app, name="charts")
