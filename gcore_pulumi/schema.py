"""The rule's inputs: names, validation, canonical form, and Gcore's duplicate key.

Pure functions and no I/O: ``check`` and ``diff`` are built from these, so preview never
touches the network. Every rule the Gcore backend (Neutron) enforces is checked here, so a
bad input fails at ``check`` with the input's name instead of as a 400 halfway through
``up``. One parser per field is :mod:`.rule_fields`; rules compared as Gcore compares them
(canonical forms, the duplicate key) are :mod:`.rule_canon`; this module checks a whole rule
(the API's defaults, the rules that tie fields together) and names what is unknown.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from .enums import ICMP_PROTOCOLS, PORT_RANGE_PROTOCOLS
from .place import PLACE_SOURCES as PLACE_SOURCES
from .place import Defaults as Defaults
from .place import fill_place as fill_place
from .rule_canon import (
    ANY_PREFIXES,
    canonical_port_range,
    canonical_protocol,
    canonical_state,
    duplicate_key,
    same_port_range,
)
from .rule_fields import (
    BODY_KEYS,
    BODY_PARSERS,
    DESCRIPTION_MAX,
    DIRECTIONS,
    ETHERTYPES,
    FIELD_PARSERS,
    ICMP_MAX,
    INPUT_KEYS,
    OUTPUT_ONLY_KEYS,
    PORT_MAX,
    PROTOCOLS,
    PROVIDER_KEY,
    RULE_KEYS,
    InvalidInput,
    canonical_prefix,
    format_network,
    parse_bool,
    parse_description,
    parse_direction,
    parse_ethertype,
    parse_int,
    parse_port,
    parse_positive_id,
    parse_prefix,
    parse_protocol,
    parse_uuid,
    prefix_family,
    to_network,
)

__all__ = [
    "ANY_PREFIXES",
    "BODY_KEYS",
    "DESCRIPTION_MAX",
    "DIRECTIONS",
    "ETHERTYPES",
    "ICMP_MAX",
    "INPUT_KEYS",
    "OUTPUT_ONLY_KEYS",
    "PLACE_SOURCES",
    "PORT_MAX",
    "PROTOCOLS",
    "PROVIDER_KEY",
    "RULE_KEYS",
    "CheckOutcome",
    "Defaults",
    "InvalidInput",
    "canonical_port_range",
    "canonical_prefix",
    "canonical_protocol",
    "canonical_state",
    "check_inputs",
    "check_rule_body",
    "duplicate_key",
    "fill_place",
    "format_network",
    "is_unknown",
    "parse_bool",
    "parse_description",
    "parse_direction",
    "parse_ethertype",
    "parse_inputs",
    "parse_int",
    "parse_port",
    "parse_positive_id",
    "parse_prefix",
    "parse_protocol",
    "parse_uuid",
    "prefix_family",
    "same_port_range",
    "to_network",
    "unknown_body_reason",
    "unknown_input_reason",
]


def is_unknown(value: object) -> bool:
    """True for a value the engine does not know yet (preview, or a pending output)."""
    # Imported here: the Unknown class lives in pulumi.output, which the provider process
    # has loaded already; importing it at module level would tie pure code to the SDK.
    from pulumi.output import Unknown

    return isinstance(value, Unknown)


@dataclass
class CheckOutcome:
    """Canonical inputs plus one ``(input key, reason)`` per problem found."""

    inputs: dict[str, Any]
    failures: list[tuple[str, str]] = field(default_factory=list)


# --- the whole check --------------------------------------------------------------------


def check_inputs(news: Mapping[str, Any], defaults: Defaults) -> CheckOutcome:
    """Validate and canonicalise a resource's inputs without raising for bad input.

    Unknown values (preview) are kept as they are and skipped by every rule that needs
    them, so the rest is still checked.
    """
    values, failures = parse_inputs(news, FIELD_PARSERS, unknown_input_reason)
    if values.get("group_id") is None:
        failures.append(("group_id", f"group_id is required: {_REQUIRED['group_id']}"))
    if values.get("adopt_existing") is None:
        values["adopt_existing"] = False
    failures = _finish_rule(values, failures, lambda: fill_place(values, defaults, failures))
    return CheckOutcome(inputs=values, failures=failures)


def check_rule_body(raw: Mapping[str, Any], where: str = "") -> CheckOutcome:
    """One rule's own fields (``BODY_KEYS``: no group, place or ``adopt_existing``) through
    exactly the validation, defaults and canonical form of ``check_inputs``; each failure's
    key is prefixed with ``where`` (``"rules[1]."`` gives ``rules[1].port_range_min``)."""
    values, failures = parse_inputs(raw, BODY_PARSERS, unknown_body_reason)
    failures = _finish_rule(values, failures)
    return CheckOutcome(
        inputs=values, failures=[(f"{where}{key}", reason) for key, reason in failures]
    )


def _finish_rule(
    values: dict[str, Any],
    failures: list[tuple[str, str]],
    then: Callable[[], None] | None = None,
) -> list[tuple[str, str]]:
    """The part every rule shares, in place: required direction, the API's defaults, the
    canonical forms (``then`` runs after them), then the rules that tie fields together
    (skipping fields that already failed)."""
    bad = {key for key, _ in failures}
    _fill_defaults(values, failures)
    if then is not None:
        then()
    return [*failures, *_cross_field_failures(values, bad)]


def parse_inputs(
    news: Mapping[str, Any],
    parsers: Mapping[str, Callable[[Any], Any]],
    unknown_key_reason: Callable[[str], str],
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Each input through its parser: (values, failures). An unknown key, and each reason
    a parser gives, is a failure naming the input; a bad value is kept as it was. None and
    unknown values (preview) are kept as they are, for later rules to skip."""
    failures: list[tuple[str, str]] = []
    values: dict[str, Any] = {}
    for key, raw in news.items():
        if key == PROVIDER_KEY:
            continue
        if key not in parsers:
            failures.append((key, unknown_key_reason(key)))
            continue
        if raw is None or is_unknown(raw):
            values[key] = raw
            continue
        try:
            values[key] = parsers[key](raw)
        except InvalidInput as problem:
            failures.extend((key, reason) for reason in problem.reasons)
            values[key] = raw
    return values, failures


def unknown_input_reason(key: str) -> str:
    """Why ``key`` is refused, naming the nearest input: at check, and for an unknown keyword
    of ``SecurityGroupRule`` / ``SecurityGroupRuleArgs`` when the program runs."""
    close = difflib.get_close_matches(key, INPUT_KEYS, n=1, cutoff=0.5)
    if key in OUTPUT_ONLY_KEYS:
        return f"{key!r} is an output set by Gcore, not an input; remove it"
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{key!r} is not an input of SecurityGroupRule{hint} (inputs: {', '.join(INPUT_KEYS)})"


def unknown_body_reason(key: str) -> str:
    """Why ``key`` is refused in one rule of a group's ``rules``, naming the nearest field."""
    if key in OUTPUT_ONLY_KEYS or key == "id":
        return f"{key!r} is set by Gcore, not an input of a rule; remove it"
    if key in ("group_id", "security_group_id", "project_id", "region_id", "adopt_existing"):
        return (
            f"{key!r} is not a field of a rule in a group's rules: the rule belongs to the "
            "group it is listed in; remove it"
        )
    close = difflib.get_close_matches(key, BODY_KEYS, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{key!r} is not a field of a rule{hint} (fields: {', '.join(BODY_KEYS)})"


_REQUIRED: Final = {
    "group_id": "the id of the security group to add the rule to",
    "direction": "'ingress' or 'egress'",
}


def _fill_defaults(values: dict[str, Any], failures: list[tuple[str, str]]) -> None:
    """Apply the API's defaults to a rule's omitted fields, and its canonical forms."""
    if values.get("direction") is None:
        failures.append(("direction", f"direction is required: {_REQUIRED['direction']}"))
    if values.get("protocol") is None:
        values["protocol"] = "any"
    if values.get("description") is None:
        values["description"] = ""
    if values.get("ethertype") is None:
        prefix = values.get("remote_ip_prefix")
        if is_unknown(prefix):
            values["ethertype"] = prefix  # follows the prefix, which is not known yet
        elif isinstance(prefix, str) and _is_canonical_prefix(prefix):
            values["ethertype"] = prefix_family(prefix)
        else:
            values["ethertype"] = "IPv4"
    for key in ("port_range_min", "port_range_max", "remote_ip_prefix", "remote_group_id"):
        values.setdefault(key, None)
    values["protocol"] = canonical_protocol(values["protocol"], values["ethertype"])


def _is_canonical_prefix(prefix: str) -> bool:
    network = to_network(prefix)
    return network is not None and format_network(network) == prefix


def _cross_field_failures(values: Mapping[str, Any], bad: set[str]) -> list[tuple[str, str]]:
    """Neutron's rules that tie fields together; skipped where a value is unknown or invalid."""

    def known(key: str) -> bool:
        return key not in bad and not is_unknown(values.get(key))

    failures: list[tuple[str, str]] = []
    protocol = values.get("protocol")
    ethertype = values.get("ethertype")
    prefix = values.get("remote_ip_prefix")
    low, high = values.get("port_range_min"), values.get("port_range_max")

    if (
        known("ethertype")
        and known("remote_ip_prefix")
        and prefix is not None
        and prefix_family(prefix) != ethertype
    ):
        failures.append(
            (
                "ethertype",
                f"does not match remote_ip_prefix, an {prefix_family(prefix)} network; "
                f"set ethertype={prefix_family(prefix)!r} or omit it",
            )
        )
    if (
        known("protocol")
        and known("ethertype")
        and str(protocol).startswith("ipv6-")
        and ethertype != "IPv6"
    ):
        failures.append(
            (
                "protocol",
                "this protocol exists only for IPv6; set ethertype='IPv6'"
                + (" (or use 'icmp' for IPv4)" if protocol == "ipv6-icmp" else ""),
            )
        )
    if (
        known("remote_ip_prefix")
        and known("remote_group_id")
        and prefix is not None
        and values.get("remote_group_id") is not None
    ):
        failures.append(
            (
                "remote_group_id",
                "remote_group_id and remote_ip_prefix cannot both be set: a rule matches "
                "either another group's members or an address range; keep one",
            )
        )
    if known("protocol") and known("port_range_min") and known("port_range_max"):
        failures.extend(_port_failures(str(protocol), low, high))
    return failures


def _port_failures(protocol: str, low: int | None, high: int | None) -> list[tuple[str, str]]:
    if low is None and high is None:
        return []
    set_key = "port_range_min" if low is not None else "port_range_max"
    if protocol == "any":
        return [
            (
                set_key,
                "ports need a protocol: set protocol to one of "
                f"{', '.join(sorted(PORT_RANGE_PROTOCOLS))} (or icmp for type/code), "
                "or drop the ports",
            )
        ]
    if protocol in PORT_RANGE_PROTOCOLS:
        failures: list[tuple[str, str]] = []
        for key, port in (("port_range_min", low), ("port_range_max", high)):
            if port is None:
                failures.append(
                    (
                        key,
                        f"a {protocol} port range needs both ends; set {key} too "
                        "(equal to the other end for a single port)",
                    )
                )
            elif port == 0:
                failures.append((key, f"port 0 is not allowed for {protocol}; ports are 1..65535"))
        if not failures and low is not None and high is not None and low > high:
            failures.append(("port_range_min", "is above port_range_max; swap them"))
        return failures
    if protocol in ICMP_PROTOCOLS:
        failures = [
            (key, f"{what} is out of range; {protocol} {what}s are 0..{ICMP_MAX}")
            for key, what, value in (
                ("port_range_min", "ICMP type", low),
                ("port_range_max", "ICMP code", high),
            )
            if value is not None and value > ICMP_MAX
        ]
        if low is None:
            failures.append(
                (
                    "port_range_max",
                    "an ICMP code (port_range_max) needs an ICMP type (port_range_min); "
                    "set port_range_min to the type, e.g. 8 for echo request",
                )
            )
        return failures
    return [
        (
            set_key,
            f"protocol {protocol} has no ports; port ranges exist only for "
            f"{', '.join(sorted(PORT_RANGE_PROTOCOLS))} (and ICMP type/code); drop the ports",
        )
    ]
