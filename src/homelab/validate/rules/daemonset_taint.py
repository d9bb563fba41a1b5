"""Every DaemonSet tolerates the taints of the nodes it selects.

A DaemonSet places a pod on every node its nodeSelector and required node affinity match (kube-scheduler
NodeAffinity plugin) — but only where the pod tolerates the node's NoSchedule/NoExecute taints
(TaintToleration plugin; DaemonSets get only the node.kubernetes.io/* tolerations added automatically).
"""

from homelab.validate.base import rule
from homelab.validate.rules._common import finding, pod_spec


def tolerates(tol: dict, taint) -> bool:
    """core/v1 Toleration.ToleratesTaint."""
    if tol.get("effect") and tol["effect"] != taint.effect:
        return False
    if tol.get("key") and tol["key"] != taint.key:
        return False
    op = tol.get("operator") or "Equal"
    if op == "Exists":
        return True
    return str(tol.get("value") or "") == taint.value and bool(tol.get("key"))


def _expr(expr: dict, labels: dict) -> bool:
    key, op, values = expr.get("key"), expr.get("operator"), [str(v) for v in expr.get("values") or []]
    if op == "In":
        return labels.get(key) in values
    if op == "NotIn":
        return labels.get(key) not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    return True  # Gt/Lt: not decidable from the facts; assume it matches


def selects(spec: dict, labels: dict) -> bool:
    for k, v in (spec.get("nodeSelector") or {}).items():
        if labels.get(k) != str(v):
            return False
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = required.get("nodeSelectorTerms") or []
    if terms:
        return any(all(_expr(e, labels) for e in t.get("matchExpressions") or []) for t in terms)
    return True


@rule("daemonset-taint", "error", "a DaemonSet does not tolerate the taint of a node it is meant to run on")
def check(ctx):
    nodes = [n for n in ctx.facts.nodes if n.taints]
    if not nodes:
        return
    for o in ctx.platform.of_kind("DaemonSet"):
        spec = pod_spec(o.obj) or {}
        tolerations = [t for t in spec.get("tolerations") or [] if isinstance(t, dict)]
        for node in nodes:
            if not selects(spec, node.labels):
                continue
            for taint in node.taints:
                if taint.effect in ("NoSchedule", "NoExecute") and not any(tolerates(t, taint) for t in tolerations):
                    yield finding(ctx, o, f"{o.where} does not tolerate the taint {taint} of node {node.name}: "
                                  "it never runs there", "add the toleration "
                                  f"{{key: {taint.key}, operator: Exists, effect: {taint.effect}}} in the values "
                                  "(the chart's tolerations key for this DaemonSet)")
