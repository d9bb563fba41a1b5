"""Every rule `homelab explain` knows: the model's check rules (checks/) and the validate rules (validate/),
one namespace of ids (a test keeps them apart)."""

from __future__ import annotations


def all_rules() -> list:
    from homelab.checks import all_rules as check_rules
    from homelab.validate import all_rules as validate_rules

    return sorted([*check_rules(), *validate_rules()], key=lambda r: r.id)


def get_rule(rule_id: str):
    from homelab.checks import get_rule as check_rule
    from homelab.validate import get_rule as validate_rule

    return check_rule(rule_id) or validate_rule(rule_id)
