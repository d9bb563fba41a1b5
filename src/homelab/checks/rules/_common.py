"""Helpers shared by the rules (a leading underscore keeps this module out of the rule registry)."""

from __future__ import annotations

import difflib
import ipaddress
import re

HOSTNAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def network(lab) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(lab.network.cidr)


def ip_range(value: str | None):
    """'A-B' (as the model normalises ranges) -> (first, last) as IPv4Address, or None."""
    if not value:
        return None
    from homelab.lab.types import parse_range

    try:
        return parse_range(value)
    except ValueError:
        return None


def did_you_mean(value, choices, fallback: str) -> str:
    close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else fallback


def known_list(names) -> str:
    names = sorted({str(n) for n in names})
    if not names:
        return "(none)"
    shown = ", ".join(names[:12])
    return shown + (", ..." if len(names) > 12 else "")


def cluster_lists(lab):
    """(label, model path of the list, names) for every list of cluster members."""
    out = []
    k3s, es = lab.clusters.k3s, lab.clusters.elasticsearch
    if k3s:
        out.append(("k3s server", ("clusters", "k3s", "servers"), list(k3s.servers)))
        out.append(("k3s agent", ("clusters", "k3s", "agents"), list(k3s.agents)))
    if es:
        out.append(("Elasticsearch data node", ("clusters", "elasticsearch", "data_nodes"), list(es.data_nodes)))
        out.append(("Elasticsearch master", ("clusters", "elasticsearch", "master_nodes"), list(es.master_nodes)))
    return out
