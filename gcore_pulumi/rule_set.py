"""A group's ``rules`` input: the complete rule set a ``SecurityGroup`` owns.

Pure functions and no I/O, like ``schema`` and ``group_schema``: the group's ``check`` and
``diff`` are built from these, so preview never touches the network. Each rule goes through
``schema.check_rule_body``, the very code path of ``SecurityGroupRule`` (same inputs,
defaults, validation and canonical form), and is compared by ``schema.duplicate_key``, the
key Gcore's duplicate check uses: so whatever those learn (a new canonical form), sets
learn too.

Three states of ``rules``: ``None`` (omitted: the group does not manage its rules, as
before), an unknown value (preview: compared as "may change"), or a list of canonical
rules (possibly ``[]``: a group with no rules at all).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from .schema import (
    BODY_KEYS,
    canonical_state,
    check_rule_body,
    duplicate_key,
    is_unknown,
)

RULES_KEY: Final = "rules"
"""The group input (and output) holding its rule set."""

DUPLICATE_WHY: Final = (
    "Gcore sees two rules as the same when direction, ethertype, protocol, ports, "
    "remote_ip_prefix and remote_group_id match (description is not compared, and "
    "0.0.0.0/0, ::/0 and no prefix are the same); keep one"
)


def _has_unknown(value: object) -> bool:
    if is_unknown(value):
        return True
    if isinstance(value, Mapping):
        return any(_has_unknown(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_unknown(v) for v in value)
    return False


def check_rules(value: object) -> tuple[Any, list[tuple[str, str]]]:
    """The ``rules`` input in canonical form, and one ``(key, reason)`` per problem, keys
    naming the rule (``rules[1].port_range_min``). ``None`` stays ``None`` (omitted); an
    unknown list stays unknown; within a list, each rule is checked as a
    ``SecurityGroupRule``'s own fields are, and two rules Gcore would see as duplicates
    fail naming both."""
    if value is None or is_unknown(value):
        return value, []
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        return value, [
            (
                RULES_KEY,
                "rules must be a list of rules, each a dict or a SecurityGroupRulesArgs "
                '(e.g. [{"direction": "ingress", "protocol": "tcp", "port_range_min": 22, '
                '"port_range_max": 22}]), or [] for no rules at all',
            )
        ]
    rules: list[Any] = []
    failures: list[tuple[str, str]] = []
    first_of: dict[tuple[Any, ...], int] = {}
    for index, raw in enumerate(value):
        where = f"{RULES_KEY}[{index}]"
        if is_unknown(raw):
            rules.append(raw)
            continue
        if not isinstance(raw, Mapping):
            rules.append(raw)
            failures.append(
                (where, "each rule must be a dict of rule fields or a SecurityGroupRulesArgs")
            )
            continue
        outcome = check_rule_body(raw, f"{where}.")
        rules.append(outcome.inputs)
        failures.extend(outcome.failures)
        if outcome.failures or _has_unknown(
            {k: v for k, v in outcome.inputs.items() if k != "description"}
        ):
            continue  # a bad rule, or one whose key is unknown, is not compared
        key = rule_key(outcome.inputs)
        if key in first_of:
            failures.append(
                (
                    where,
                    f"is a duplicate of {RULES_KEY}[{first_of[key]}]: {DUPLICATE_WHY}",
                )
            )
        else:
            first_of[key] = index
    return rules, failures


def rule_key(rule: Mapping[str, Any]) -> tuple[Any, ...]:
    """What Gcore's duplicate check compares for a rule of this group (its group left out)."""
    return duplicate_key({**rule, "group_id": None})[1:]


def rule_identity(rule: Mapping[str, Any]) -> tuple[Any, ...]:
    """What makes two rules of a set the same rule: Gcore's duplicate key plus the
    description (a description changed by hand is drift too)."""
    return (*rule_key(rule), rule.get("description") or "")


def canonical_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A rule of the state (a live rule as read, or an older output: numbers may be
    floats, ``protocol`` null) in canonical form: the rule's own fields, plus its ``id``
    when it has one."""
    state = canonical_state({**rule, "group_id": None})
    canonical = {key: state[key] for key in BODY_KEYS}
    if rule.get("id"):
        canonical = {"id": str(rule["id"]).lower(), **canonical}
    return canonical


def canonical_rules(value: object) -> Any:
    """``rules`` of old outputs or inputs in canonical form; ``None`` and unknown as they are."""
    if value is None or _has_unknown(value) or not isinstance(value, list | tuple):
        return value
    return [canonical_rule(rule) if isinstance(rule, Mapping) else rule for rule in value]


def rules_differ(old: object, new: object) -> bool:
    """True when the group's rules must change (or may: unknown). ``new`` omitted (None)
    differs from a managed ``old`` only in the state (the group stops managing its rules;
    nothing is sent about them); otherwise the two are compared as sets of rules."""
    if new is None:
        return old is not None
    if _has_unknown(new) or old is None or _has_unknown(old):
        return True
    assert isinstance(old, list | tuple) and isinstance(new, list | tuple)
    return sorted(map(repr, _identities(old))) != sorted(map(repr, _identities(new)))


def _identities(rules: Sequence[Any]) -> list[tuple[Any, ...]]:
    return [rule_identity(canonical_rule(rule)) for rule in rules]


def rules_request_body(rules: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The v2 ``rules`` list (group create body and PATCH) for canonical rules: each rule's
    own fields, nulls left out, and ``any`` sent as null (v2 has no ``any`` protocol)."""
    body: list[dict[str, Any]] = []
    for rule in rules:
        item = {key: rule.get(key) for key in BODY_KEYS if rule.get(key) is not None}
        if item.get("protocol", "any") == "any":
            item["protocol"] = None
        body.append(item)
    return body


def live_rules_output(rules: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The ``rules`` output: the group's rules as Gcore holds them (``security_group_rules``
    of a group read), canonical, each with its ``id``, in a stable order (by identity, then
    id) so that the output does not move when Gcore lists them differently."""
    canonical = [canonical_rule(rule) for rule in rules]
    return sorted(canonical, key=lambda rule: (repr(rule_identity(rule)), rule.get("id") or ""))
