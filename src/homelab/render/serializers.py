"""Deterministic YAML/JSON dumping for rendered files (dumped from data, never templated).

YAML is written with PyYAML's emitter: block style, keys in insertion order (renderers build dicts
in a fixed order), sequences indented under their key, no anchors. PyYAML's resolver is YAML 1.1,
so every string a YAML 1.1 reader (Kubernetes, Ansible, yamllint's truthy rule) would read as
something else (`yes`, `on`, `0755`, `1:30`, `~`) is quoted; YAML 1.2-only forms (`0o17`) are
quoted too, so every consumer sees the same value.
"""

from __future__ import annotations

import json
import re

_YAML12_ONLY = re.compile(r"^(0o[0-7]+|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN))$")


class LiteralStr(str):
    """A multi-line string dumped as a YAML literal block (`|`), e.g. an embedded script or config file."""


_DUMPER = None


def _dumper():
    global _DUMPER
    if _DUMPER is not None:
        return _DUMPER
    import yaml

    class Dumper(yaml.SafeDumper):
        def increase_indent(self, flow=False, indentless=False):
            return super().increase_indent(flow, False)

        def ignore_aliases(self, data):
            return True

    def represent_str(dumper, value):
        style = "'" if _YAML12_ONLY.match(value) else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    def represent_literal(dumper, value):
        return dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style="|")

    Dumper.add_representer(str, represent_str)
    Dumper.add_representer(LiteralStr, represent_literal)
    _DUMPER = Dumper
    return Dumper


def _dump(data, explicit_start: bool) -> str:
    import yaml

    return yaml.dump(data, Dumper=_dumper(), sort_keys=False, default_flow_style=False, width=4096,
                     allow_unicode=True, explicit_start=explicit_start)


def dump_yaml(data, *, header_line: str | None = None, explicit_start: bool = False) -> str:
    """One YAML document, optionally preceded by a header comment line."""
    return (header_line or "") + _dump(data, explicit_start)


def dump_yaml_documents(docs, *, header_line: str | None = None) -> str:
    return (header_line or "") + "".join(_dump(d, True) for d in docs)


def dump_json(data) -> str:
    return json.dumps(data, indent=2, sort_keys=True) + "\n"
