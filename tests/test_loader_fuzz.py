"""Property-based fuzz of the loader and the checks.

Whatever the input -- arbitrary bytes, arbitrary text, YAML-ish token soup, the reference lab with keys
dropped, types swapped and garbage inserted, or random small labs -- `load` either returns a
LabDocument or raises LoadError carrying at least one located diagnostic. Nothing else ever escapes.
Whatever loads can be resolved and checked without any rule crashing (no `internal-error`).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from homelab.checks import run_checks
from homelab.diagnostics import Diagnostic
from homelab.errors import LoadError
from homelab.lab.load import LabDocument, decode, load_lab, load_text

REFERENCE = Path(__file__).resolve().parent.parent / "examples" / "reference" / "homelab.yaml"
NAME = "fuzz.yaml"


def fuzz(examples: int):
    return settings(max_examples=examples, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow], print_blob=True)


def outcome(raw: bytes | str):
    """Load like the CLI does; return the document or None; fail on anything but LoadError."""
    try:
        text = decode(raw, NAME) if isinstance(raw, bytes) else raw
        doc = load_text(text, NAME)
    except LoadError as exc:
        assert exc.diagnostics, "LoadError without a diagnostic"
        for d in exc.diagnostics:
            assert isinstance(d, Diagnostic)
            assert d.location.file == NAME
            assert d.rule and d.message
            assert "Traceback" not in d.format()
        return None
    assert isinstance(doc, LabDocument)
    inv = doc.inventory
    assert len(inv.vms) == len(doc.lab.vms)
    diags = run_checks(doc)
    crashed = [d.message for d in diags if d.rule == "internal-error"]
    assert not crashed, crashed
    for d in diags:
        assert d.location.file == NAME and d.location.line >= 1
    return doc


# --- unstructured input -----------------------------------------------------------------------------

@fuzz(250)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes(raw):
    outcome(raw)


@fuzz(250)
@given(st.text(max_size=1000))
def test_arbitrary_text(text):
    outcome(text)


YAML_ALPHABET = st.sampled_from(list(" \n\t:-?,[]{}&*!|>'\"#%@`~.0123456789abcxyz<=") + [
    "version: 1\n", "name: x\n", "network:\n", "  cidr: 10.0.0.0/24\n", "vms:\n", "  - ", "!!binary ", "!!set ",
    "!!python/object ", "&a ", "*a", "<<: ", "---\n", "...\n", "%YAML 1.1\n", "%TAG ! tag:x,2000:\n", "1e999", "0x1F",
    "0o17", ".inf", ".nan", "2024-01-01", "2024-01-01T10:00:00Z", "yes", "no", "on", "null", "\ufeff", "\u2028", "\x85",
])


@fuzz(250)
@given(st.lists(YAML_ALPHABET, max_size=80).map("".join))
def test_yaml_token_soup(text):
    outcome(text)


# --- structured mutations of the reference lab ---------------------------------------------------

_REF_DATA = load_lab(REFERENCE).data


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


def _scalars(node):
    if isinstance(node, dict):
        for v in node.values():
            yield from _scalars(v)
    elif isinstance(node, list):
        for v in node:
            yield from _scalars(v)
    else:
        yield node


REF_PATHS = [p for p in _paths(_REF_DATA) if p]
REF_SCALARS = sorted({repr(s): s for s in _scalars(_REF_DATA)}.values(), key=repr)

garbage = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20) | st.sampled_from(REF_SCALARS),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def _get(data, path):
    for part in path:
        data = data[part]
    return data


def mutate(data, op, path, value, key):
    """Apply one mutation in place; paths that vanished through an earlier mutation are skipped."""
    try:
        parent = _get(data, path[:-1])
        last = path[-1]
        if op == "drop":
            del parent[last]
        elif op == "replace":
            parent[last] = value
        elif op == "insert":
            target = parent[last]
            if isinstance(target, dict):
                target[key] = value
            elif isinstance(target, list):
                target.append(value)
            else:
                parent[last] = [target, value]
        elif op == "duplicate":
            if isinstance(parent, list):
                parent.append(copy.deepcopy(parent[last]))
            else:
                parent[key] = copy.deepcopy(parent[last])
    except (KeyError, IndexError, TypeError):
        pass


mutation = st.tuples(st.sampled_from(["drop", "replace", "insert", "duplicate"]), st.sampled_from(REF_PATHS),
                     garbage, st.text(min_size=1, max_size=10))


def dump(data) -> str:
    # JSON is YAML (1.2): fast to write, and the loader still sees one value per line.
    return json.dumps(data, indent=1, ensure_ascii=False)


@fuzz(60)
@given(st.lists(mutation, min_size=1, max_size=4))
def test_mutated_reference_lab(mutations):
    data = copy.deepcopy(_REF_DATA)
    for op, path, value, key in mutations:
        mutate(data, op, path, value, key)
    outcome(dump(data))


def test_unmutated_reference_roundtrips_through_the_dumper():
    doc = outcome(dump(copy.deepcopy(_REF_DATA)))
    assert doc is not None and len(doc.lab.vms) == 22


# Type-preserving mutations mostly still load, so they exercise the resolver and every rule on labs that
# are well-typed but wrong: a VM name where an address was, a list entry gone, an entry duplicated.
LEAF_PATHS = [p for p in REF_PATHS if not isinstance(_get(_REF_DATA, p), (dict, list))]
LIST_ITEM_PATHS = [p for p in REF_PATHS if isinstance(p[-1], int)]
SAME_TYPE = {t: [s for s in REF_SCALARS if type(s) is t] for t in (str, int, bool, float)}


@st.composite
def typed_mutation(draw):
    if draw(st.booleans()):
        path = draw(st.sampled_from(LEAF_PATHS))
        pool = SAME_TYPE.get(type(_get(_REF_DATA, path))) or [None]
        return ("replace", path, draw(st.sampled_from(pool)), "")
    return (draw(st.sampled_from(["drop", "duplicate"])), draw(st.sampled_from(LIST_ITEM_PATHS)), None, "")


@fuzz(80)
@given(st.lists(typed_mutation(), min_size=1, max_size=6))
def test_type_preserving_mutations_of_the_reference_lab(mutations):
    data = copy.deepcopy(_REF_DATA)
    for op, path, value, key in mutations:
        mutate(data, op, path, value, key)
    outcome(dump(data))


# --- random small labs that load: stress the checks and the resolver -------------------------------

names = st.sampled_from(["kube01", "kube02", "kube03", "kube04", "es01", "es02", "es03", "vault", "Bad_Name", "x"])
octet = st.integers(min_value=0, max_value=255)


@st.composite
def small_lab(draw):
    prefix = draw(st.integers(min_value=0, max_value=32))
    import ipaddress

    base = ipaddress.IPv4Address(draw(st.integers(min_value=0, max_value=2**32 - 1)))
    net = ipaddress.IPv4Network(f"{base}/{prefix}", strict=False)

    def addr():
        return str(ipaddress.IPv4Address(draw(st.integers(min_value=max(0, int(net.network_address) - 2),
                                                          max_value=min(2**32 - 1, int(net.broadcast_address) + 2)))))

    def rng():
        a, b = sorted([addr(), addr()], key=ipaddress.IPv4Address)
        return f"{a}-{b}"

    vm_names = draw(st.lists(names, max_size=8))
    nodes = draw(st.lists(st.sampled_from(["pve1", "pve2", "pve3"]), min_size=1, max_size=3, unique=True))
    lab = {
        "version": 1, "name": "fuzz",
        "network": {"cidr": str(net), "gateway": addr(), "dns": [addr()], "domain": "lab.example.org",
                    "pools": {k: rng() for k in draw(st.sets(st.sampled_from(["vms", "metallb"])))}},
        "proxmox": {
            "vmid_range": sorted(draw(st.lists(st.integers(min_value=-5, max_value=2000), min_size=2, max_size=2))),
            "nodes": [{"name": n, "cores": draw(st.integers(1, 64)), "memory": f"{draw(st.integers(1, 256))}GiB",
                       "storages": {"local-lvm": f"{draw(st.integers(1, 4096))}GiB"},
                       "gpus": draw(st.lists(st.sampled_from(["0000:01:00", "01:00.0", "0000:02:00"]), max_size=2))}
                      for n in nodes],
        },
        "vms": [],
    }
    for n in vm_names:
        vm = {"name": n, "role": draw(st.sampled_from(["k8s-control-plane", "k8s-worker", "es-data", "es-master",
                                                        "vault", "general", "nope"])),
              "env": draw(st.sampled_from(["lab", "kubernetes", "prod"]))}
        if draw(st.booleans()):
            vm["ip"] = addr()
        if draw(st.booleans()):
            vm["vmid"] = draw(st.integers(min_value=-1, max_value=2000))
        if draw(st.booleans()):
            vm["node"] = draw(st.sampled_from(["pve1", "pve2", "pve3", "pve9"]))
        if draw(st.booleans()):
            vm["gpu"] = {"device": draw(st.sampled_from(["0000:01:00", "01:00", "0000:03:00"]))}
        if draw(st.booleans()):
            vm["memory"] = f"{draw(st.integers(1, 64))}GiB"
        lab["vms"].append(vm)
    if draw(st.booleans()):
        lab["clusters"] = {"k3s": {"servers": draw(st.lists(names, min_size=1, max_size=4)),
                                   "agents": draw(st.lists(names, max_size=3)),
                                   "gpu": {"nodes": draw(st.lists(names, max_size=2))},
                                   "disable": draw(st.lists(st.sampled_from(["servicelb", "traefik"]), max_size=2))},
                           "elasticsearch": {"data_nodes": draw(st.lists(names, min_size=1, max_size=3)),
                                             "master_nodes": draw(st.lists(names, min_size=1, max_size=4))}}
    lab["apps"] = [{"name": draw(st.sampled_from(["a", "b"])), "namespace": draw(st.sampled_from(["media", "zzz"])),
                    "chart": {"repo": "https://x", "name": "c",
                              "version": draw(st.sampled_from(["1.0.0", "^1", "latest", "v2.3.4"]))},
                    "gpu": draw(st.integers(0, 2)),
                    "ingress": draw(st.sampled_from(["a.lab.example.org", "b.example.com", "A_.lab.example.org"])),
                    "storage": [{"name": "data", "size": "1GiB", "mount": "/d",
                                 **({"class": "fast"} if draw(st.booleans()) else {})}]}
                   for _ in range(draw(st.integers(0, 3)))]
    return lab


@fuzz(150)
@given(small_lab())
def test_random_small_labs_load_and_check(lab):
    doc = outcome(dump(lab))
    assert doc is not None  # every generated lab is well-typed: it must load
