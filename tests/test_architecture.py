"""The house has one direction: lab model → checks → render → plan → state → engines → apply → ops → cli.

A stage may import the stages to its left (and itself), never to its right — function-local imports
included — and no modules may import each other in a circle. `errors`, `diagnostics` and `secrets` are
the ground everything stands on; `sandbox` (test hosts) sits beside `ops`; the package root (the public
API) and the CLI are on top. The same walk also holds the size limits: no source file over 500 lines,
no function over 80.
"""

from __future__ import annotations

import ast
import functools
import shutil
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "homelab"

RANK = {
    "errors": 0, "diagnostics": 0, "secrets": 0, "processes": 0,
    "lab": 1,
    "checks": 2,
    "render": 3,
    "validate": 3.5, "charts": 3.5, "scan": 3.5,  # read the lab and the rendered tree; never an engine
    "plan": 4,
    "state": 5,
    "engines": 6,
    "apply": 7,
    "ops": 8, "sandbox": 8,
    "cli": 9, "": 9,  # "" = the package root, homelab/__init__.py (the public API)
    "__main__": 10,
}


def module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def imports(path: Path, module: str) -> list[tuple[int, str]]:
    """Every homelab module this file imports (module level and inside functions), with its line."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "homelab"]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            if base.split(".")[0] != "homelab":
                continue
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{a.name}") for a in node.names]  # `from pkg import submodule`
    return found


def graph(root: Path) -> tuple[dict[str, Path], dict[str, set[str]], list[str]]:
    files = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    edges: dict[str, set[str]] = {m: set() for m in files}
    wrong_way = []
    for module, path in files.items():
        for line, target in imports(path, module):
            if target not in files:
                continue  # a name imported from a module, not a module
            if target != module:
                edges[module].add(target)
            if RANK[stage(target)] > RANK[stage(module)]:
                wrong_way.append(f"{path.relative_to(root.parent)}:{line}: {stage(module) or 'homelab'} "
                                 f"imports {target} ({stage(target) or 'the package root'} is to its right)")
    return files, edges, wrong_way


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def package_parents(module: str) -> set[str]:
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


@functools.lru_cache(maxsize=1)
def src_graph():
    return graph(SRC)


def real_circles(edges) -> list[list[str]]:
    """Circles, ignoring the edge from a package's face (`__init__` re-exporting its submodules) back to
    the package: importing `pkg.sub` runs `pkg/__init__` first, which Python handles (partial init)."""
    pruned = {m: {t for t in ts if t not in package_parents(m)} for m, ts in edges.items()}
    return circles(pruned)


def violations(root: Path) -> list[str]:
    files, edges, wrong_way = graph(root)
    unknown = sorted({stage(m) for m in files} - set(RANK))
    out = [f"stage {s!r} has no place in the order (add it to RANK in this test)" for s in unknown]
    out += wrong_way
    out += ["import circle: " + " → ".join(c) for c in real_circles(edges)]
    return out


def test_the_house_has_one_direction_and_no_circles():
    assert violations(SRC) == []


def test_a_planted_back_edge_and_a_planted_circle_are_caught(tmp_path):
    copy = tmp_path / "homelab"
    shutil.copytree(SRC, copy, ignore=shutil.ignore_patterns("__pycache__"))
    types = copy / "lab" / "types.py"
    types.write_text(types.read_text() + "\n\ndef _late():\n    from homelab.cli.main import main  # noqa\n")
    found = violations(copy)
    assert any("lab imports homelab.cli.main" in v for v in found), found
    (copy / "plan" / "address.py").write_text((copy / "plan" / "address.py").read_text()
                                              + "\nfrom homelab.plan import graph  # noqa\n")
    (copy / "plan" / "graph.py").write_text((copy / "plan" / "graph.py").read_text()
                                            + "\nfrom homelab.plan import address  # noqa\n")
    assert any(v.startswith("import circle:") and "homelab.plan.graph" in v for v in violations(copy))


def sizes(root: Path) -> list[str]:
    out = []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > 500:
            out.append(f"{path.relative_to(root.parent)}: {text.count(chr(10))} lines (at most 500)")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > 80:
                    out.append(f"{path.relative_to(root.parent)}:{node.lineno}: {node.name} is {n} lines (at most 80)")
    return out


def test_no_file_over_500_lines_and_no_function_over_80():
    assert sizes(SRC) == []


@pytest.mark.parametrize("module", ["homelab.cli." + p.stem for p in sorted((SRC / "cli").glob("*.py"))
                                    if not p.stem.startswith("_") and p.stem not in ("main", "options")])
def test_no_command_module_imports_another(module):
    files, edges, _ = src_graph()
    others = {m for m in edges[module] if m.startswith("homelab.cli.")
              and not m.rsplit(".", 1)[1].startswith("_") and m != "homelab.cli.options"}
    assert others == set(), f"{module} imports the command modules {sorted(others)}: move what they share " \
                            "to cli/options.py, cli/_run.py or a library module"


def test_stages_are_reached_by_from_imports_so_the_api_names_stay_functions():
    """`homelab.render/plan/apply` are the public functions (homelab/__init__.py); a plain
    `import homelab.render` would be read as the function, so src never imports a stage that way."""
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import) and any(a.name.startswith("homelab.") for a in node.names):
                bad.append(f"{path.relative_to(SRC.parent)}:{node.lineno}")
    assert bad == []
    import homelab
    import homelab.apply.session  # noqa: F401 - importing the stage packages ...
    import homelab.plan.planner  # noqa: F401
    import homelab.render.output  # noqa: F401

    assert all(callable(getattr(homelab, name)) for name in ("load", "check", "render", "plan", "apply", "up"))
