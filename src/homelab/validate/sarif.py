"""SARIF 2.1.0 (OASIS; schema https://json.schemastore.org/sarif-2.1.0.json) for code-scanning UIs: one run,
the rules as `tool.driver.rules`, each finding a result at its repository file and line, the lab line as a
related location."""

from __future__ import annotations

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def _location(loc, index: int | None = None) -> dict:
    out = {"physicalLocation": {"artifactLocation": {"uri": loc.file, "uriBaseId": "%SRCROOT%"},
                                **({"region": {"startLine": loc.line, "startColumn": loc.col or 1}}
                                   if loc.line else {})}}
    if index is not None:
        out["id"] = index
    return out


def to_sarif(diags, rules, tool: str = "homelab validate", version: str = "0") -> dict:
    """`rules`: objects with id, severity, summary (and explain() for the help text)."""
    rules = sorted({r.id: r for r in rules}.values(), key=lambda r: r.id)
    index = {r.id: i for i, r in enumerate(rules)}
    driver_rules = []
    for r in rules:
        entry = {"id": r.id, "name": r.id, "shortDescription": {"text": r.summary},
                 "defaultConfiguration": {"level": LEVEL[r.severity.value]},
                 "helpUri": f"https://github.com/homelab/homelab/blob/main/docs/rules.md#{r.id}"}
        try:
            entry["help"] = {"text": r.explain(), "markdown": r.explain()}
        except (OSError, AttributeError):
            pass
        driver_rules.append(entry)
    results = []
    for d in diags:
        result = {"ruleId": d.rule, "level": LEVEL[d.severity.value],
                  "message": {"text": d.message + (f" (hint: {d.hint})" if d.hint else "")},
                  "locations": [_location(d.location)]}
        if d.rule in index:
            result["ruleIndex"] = index[d.rule]
        lab = getattr(d, "lab", None)
        if lab is not None:
            result["relatedLocations"] = [{**_location(lab, 0), "message": {"text": "the lab line it comes from"}}]
        results.append(result)
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [{
        "tool": {"driver": {"name": tool, "version": version, "informationUri": "https://github.com/homelab/homelab",
                            "rules": driver_rules}},
        "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "the root of the validated repository"}}},
        "results": results,
    }]}
