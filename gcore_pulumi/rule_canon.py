"""Rules compared as Gcore (Neutron) compares them: canonical forms and the duplicate key.

Diff, refresh, adoption and reconciliation all compare rules through these, so that two
spellings Neutron stores as one rule are one rule here too. Pure functions and no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .enums import PORT_RANGE_PROTOCOLS
from .rule_fields import INPUT_KEYS, PORT_MAX, canonical_prefix, prefix_family

ANY_PREFIXES: Final = frozenset({"0.0.0.0/0", "::/0"})
"""Prefixes that Gcore's duplicate check treats as equal to no prefix at all."""


def canonical_protocol(protocol: object, ethertype: object) -> object:
    """The protocol as Neutron stores it: with IPv6, ``icmp`` is stored as ``ipv6-icmp``
    (and its duplicate check treats the two as one), so that is the canonical input."""
    return "ipv6-icmp" if protocol == "icmp" and ethertype == "IPv6" else protocol


def canonical_state(props: Mapping[str, Any]) -> dict[str, Any]:
    """Old outputs (possibly from an older version, numbers as floats) in canonical form."""
    state = {key: props.get(key) for key in INPUT_KEYS}
    for key in ("port_range_min", "port_range_max", "project_id", "region_id"):
        number = state[key]
        if isinstance(number, float) and number.is_integer():
            state[key] = int(number)
    if state["protocol"] is None:
        state["protocol"] = "any"
    if state["description"] is None:
        state["description"] = ""
    if state["adopt_existing"] is None:
        state["adopt_existing"] = False
    state["remote_ip_prefix"] = canonical_prefix(state["remote_ip_prefix"])
    if state["ethertype"] is None:
        prefix = state["remote_ip_prefix"]
        state["ethertype"] = prefix_family(prefix) if isinstance(prefix, str) else "IPv4"
    state["protocol"] = canonical_protocol(state["protocol"], state["ethertype"])
    return state


def canonical_port_range(protocol: object, low: object, high: object) -> tuple[Any, Any]:
    """The port range as Neutron stores it (``_make_canonical_port_range``): a port
    protocol's (tcp, udp, sctp, dccp, udplite) whole range, 1..65535, is no range at all
    (null/null), and the same rule as one without ports. Anything else is kept as it is.

    The one place that says so: diff, refresh (``ApiRule.to_outputs``) and Gcore's
    duplicate key (adoption, reconciliation) all compare port ranges through it. The state
    keeps the spelling the program wrote, as for ``0.0.0.0/0`` versus no prefix.
    """
    if protocol in PORT_RANGE_PROTOCOLS and low == 1 and high == PORT_MAX:
        return None, None
    return low, high


def same_port_range(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """True when two canonical rule states have the same port range in Neutron's eyes."""
    return canonical_port_range(
        a.get("protocol"), a.get("port_range_min"), a.get("port_range_max")
    ) == canonical_port_range(b.get("protocol"), b.get("port_range_min"), b.get("port_range_max"))


def duplicate_key(rule: Mapping[str, Any]) -> tuple[Any, ...]:
    """What Gcore's duplicate check compares: everything but description, with
    ``0.0.0.0/0``, ``::/0`` and no prefix counting as the same, and a port protocol's
    1..65535 the same as no ports (``canonical_port_range``)."""
    prefix = canonical_prefix(rule.get("remote_ip_prefix"))
    ethertype = rule.get("ethertype") or "IPv4"
    protocol = canonical_protocol(rule.get("protocol"), ethertype)
    group_id, remote_group_id = rule.get("group_id"), rule.get("remote_group_id")
    low, high = canonical_port_range(
        protocol, rule.get("port_range_min"), rule.get("port_range_max")
    )
    return (
        group_id.lower() if isinstance(group_id, str) else group_id,
        rule.get("direction"),
        ethertype,
        None if protocol in (None, "any") else protocol,
        low,
        high,
        None if prefix in ANY_PREFIXES else prefix,
        remote_group_id.lower() if isinstance(remote_group_id, str) else remote_group_id,
    )
