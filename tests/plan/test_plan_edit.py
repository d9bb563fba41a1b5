"""Round-trip lab edits (spec/edit.py) and the engine registry."""

from __future__ import annotations

import pytest
from ruamel.yaml import YAML

from homelab.engines.registry import Registry, UnknownEngineError
from homelab.errors import UsageError
from homelab.lab.edit import LabEditor

ODD = """\
# my lab
name:     odd-spacing     # extra spaces the dumper would drop
vms:
- {name: a, role: general}   # first
# the second group
- name: b
  role: general
clusters:
    k3s:
        servers: [a]
"""


def test_untouched_lines_stay_byte_for_byte_even_when_the_dumper_would_reformat_them():
    ed = LabEditor(ODD)
    ed.append_entry(("vms",), {"name": "c", "role": "general"})
    ed.add_to_list(("clusters", "k3s", "agents"), "c")
    out = ed.dumps()
    assert out.startswith("# my lab\nname:     odd-spacing     # extra spaces the dumper would drop\n")
    assert "- {name: a, role: general}   # first\n# the second group\n- name: b\n  role: general\n- name: c\n" in out
    assert out.endswith("clusters:\n    k3s:\n        servers: [a]\n        agents: [c]\n")
    data = YAML(typ="safe").load(out)
    assert [v["name"] for v in data["vms"]] == ["a", "b", "c"]
    assert data["clusters"]["k3s"] == {"servers": ["a"], "agents": ["c"]}

    removed = LabEditor(out)
    removed.remove_entry(("vms",), lambda item: item.get("name") == "b")
    text = removed.dumps()
    assert "# the second group\n- name: c\n" in text and "- name: b" not in text


def test_a_file_the_dumper_cannot_keep_line_for_line_is_refused():
    weird = "a: [1,\n  2]\nb: 1\n"
    with pytest.raises(UsageError) as err:
        LabEditor(weird)
    assert "cannot be edited without reformatting it" in err.value.message


def test_registry_builds_every_layer_engine_and_refuses_an_unknown_name():
    from homelab.engines.base import Engine
    from homelab.plan.address import LAYER_ENGINE

    reg = Registry()
    for name in sorted(set(LAYER_ENGINE.values())):  # a layer naming a missing engine fails here
        engine = reg.get(name)
        assert isinstance(engine, Engine) and engine.name == name
    with pytest.raises(UnknownEngineError) as err:
        reg.get("nosuchengine")
    assert "no engine named 'nosuchengine'" in str(err.value)
    assert reg.get("terraform") is reg.get("terraform")
    override = object()
    assert Registry({"vault": override}).get("vault") is override
