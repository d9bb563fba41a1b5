"""Deterministic YAML/JSON dumping for rendered files (dumped from data, never templated)."""

from __future__ import annotations

import io
import json
import re

# Strings that a YAML 1.1 reader (Kubernetes, Ansible, yamllint's truthy rule) would not read as
# strings: quote them so every consumer sees the same value.
_YAML11_SPECIAL = re.compile(
    r"^(y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|~|null|Null|NULL|"
    r"[-+]?(0|[1-9][0-9_]*)|0[0-7_]+|0x[0-9a-fA-F_]+|0b[01_]+|[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+|"
    r"[-+]?([0-9][0-9_]*)?\.[0-9.]*([eE][-+][0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)|=|<<)$"
)


def _represent_str(representer, value: str):
    style = "'" if _YAML11_SPECIAL.match(value) else None
    return representer.represent_scalar("tag:yaml.org,2002:str", value, style=style)


class LiteralStr(str):
    """A multi-line string dumped as a YAML literal block (`|`), e.g. an embedded script or config file."""


def _represent_literal(representer, value: LiteralStr):
    return representer.represent_scalar("tag:yaml.org,2002:str", str(value), style="|")


def _yaml():
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.sort_base_mapping_type_on_output = False
    yaml.representer.add_representer(str, _represent_str)
    yaml.representer.add_representer(LiteralStr, _represent_literal)
    return yaml


def dump_yaml(data, *, header_line: str | None = None, explicit_start: bool = False) -> str:
    """YAML 1.2, block style, keys in insertion order (renderers build dicts in a fixed order)."""
    yaml = _yaml()
    buf = io.StringIO()
    if explicit_start:
        yaml.explicit_start = True
    yaml.dump(data, buf)
    text = buf.getvalue()
    return (header_line or "") + text


def dump_yaml_documents(docs, *, header_line: str | None = None) -> str:
    parts = [dump_yaml(d, explicit_start=True) for d in docs]
    return (header_line or "") + "".join(parts)


def dump_json(data) -> str:
    return json.dumps(data, indent=2, sort_keys=True) + "\n"
