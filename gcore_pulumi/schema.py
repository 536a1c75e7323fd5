"""The rule's inputs: names, validation, canonical form, and Gcore's duplicate key.

Pure functions and no I/O: ``check`` and ``diff`` are built from these, so preview never
touches the network. Every rule the Gcore backend (Neutron) enforces is checked here, so a
bad input fails at ``check`` with the input's name instead of as a 400 halfway through
``up``.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from .enums import ICMP_PROTOCOLS, PORT_RANGE_PROTOCOLS, Direction, Ethertype, Protocol
from .place import PLACE_SOURCES as PLACE_SOURCES
from .place import Defaults as Defaults
from .place import fill_place as fill_place

BODY_KEYS: Final = (
    "direction",
    "ethertype",
    "protocol",
    "port_range_min",
    "port_range_max",
    "remote_ip_prefix",
    "remote_group_id",
    "description",
)
"""The rule's own fields, as the v1 POST takes them and the API returns them."""

RULE_KEYS: Final = ("group_id", *BODY_KEYS, "project_id", "region_id")
"""Inputs that define the rule; a change to any of them replaces it (Gcore cannot edit)."""

INPUT_KEYS: Final = (*RULE_KEYS, "adopt_existing")
"""Every input the resource accepts."""

OUTPUT_ONLY_KEYS: Final = ("revision_number", "security_group_id", "created_at", "updated_at")
"""Values only the API knows; they appear as outputs, never as inputs."""

PROVIDER_KEY: Final = "__provider"

DIRECTIONS: Final = tuple(d.value for d in Direction)
ETHERTYPES: Final = tuple(e.value for e in Ethertype)
PROTOCOLS: Final = tuple(p.value for p in Protocol)
ANY_PREFIXES: Final = frozenset({"0.0.0.0/0", "::/0"})
"""Prefixes that Gcore's duplicate check treats as equal to no prefix at all."""
DESCRIPTION_MAX: Final = 255
PORT_MAX: Final = 65535
ICMP_MAX: Final = 255


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


class InvalidInput(ValueError):
    """One input's value is unusable; each reason says why and what to write instead."""

    def __init__(self, *reasons: str) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons
        """One check failure each (a map input may have several)."""


# --- one validator per field ------------------------------------------------------------
#
# Failure reasons never quote the input's value: the engine prints the value beside each
# failure (masked when secret), and secret markers are stripped before the provider sees
# the inputs, so a reason that repeated the value could leak a secret.

_DIGITS: Final = re.compile(r"[0-9]+")


def _kind(value: object) -> str:
    """What sort of value was given, without showing it."""
    return "a string" if isinstance(value, str) else f"a {type(value).__name__}"


def _choice(value: object, choices: tuple[str, ...], what: str) -> str:
    """Accept exactly one of ``choices``; suggest the nearest on a miss."""
    if isinstance(value, Direction | Ethertype | Protocol):
        value = value.value
    if isinstance(value, str) and value in choices:
        return value
    hint = ""
    if isinstance(value, str):
        folded = {c.lower(): c for c in choices}
        close = folded.get(value.lower()) or next(
            iter(difflib.get_close_matches(value, choices, n=1)), None
        )
        if close:
            hint = f" (did you mean {close!r}?)"
    listed = ", ".join(repr(c) for c in choices)
    raise InvalidInput(f"is not a valid {what}{hint}; use one of {listed}")


def parse_direction(value: object) -> str:
    """``ingress`` or ``egress``."""
    return _choice(value, DIRECTIONS, "direction")


def parse_ethertype(value: object) -> str:
    """``IPv4`` or ``IPv6``, spelled as the API spells them."""
    return _choice(value, ETHERTYPES, "ethertype")


def parse_protocol(value: object) -> str:
    """One of Gcore's protocol names; ``any`` means every protocol."""
    return _choice(value, PROTOCOLS, "protocol")


def parse_int(value: object, *, low: int, high: int, what: str) -> int:
    """A whole number in ``[low, high]``; integral floats (wire numbers) and strings of
    plain ASCII decimal digits count (not ``"²"``, ``"٣"``, signs or spaces)."""
    number: int | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif (isinstance(value, float) and value.is_integer()) or (
        isinstance(value, str) and _DIGITS.fullmatch(value) and len(value) <= 30
    ):
        number = int(value)
    if number is None:
        raise InvalidInput(
            f"is not a whole number; {what} must be {low}..{high}, given as a number or as "
            "a string of the digits 0-9"
        )
    if not low <= number <= high:
        raise InvalidInput(f"is out of range; {what} must be {low}..{high}")
    return number


def parse_port(value: object) -> int:
    """A port (or ICMP type/code) number as the API accepts it: 0..65535."""
    return parse_int(value, low=0, high=PORT_MAX, what="a port")


def parse_positive_id(value: object, what: str) -> int:
    """A Gcore project or region id: a positive integer."""
    return parse_int(value, low=1, high=2**63 - 1, what=what)


def parse_uuid(value: object, what: str, *, version4: bool = False) -> str:
    """A UUID in its canonical lowercase form, as the API returns ids. With ``version4``,
    only a version-4 UUID (what Gcore's API schema accepts there)."""
    parsed: uuid.UUID | None = None
    if isinstance(value, str) and value.isascii():
        try:
            parsed = uuid.UUID(value.strip())
        except ValueError:
            parsed = None
    if parsed is None:
        raise InvalidInput(f"is not a UUID; {what} looks like 024a29e9-b4b7-4c91-9a46-505be123d9f8")
    if version4 and parsed.version != 4:
        raise InvalidInput(
            f"is not a version-4 UUID, which is all Gcore accepts for {what}; "
            "copy the id from the Gcore console or the group's id output"
        )
    return str(parsed)


def parse_prefix(value: object) -> str:
    """A CIDR in network form: host bits cleared, a bare address becomes /32 or /128."""
    if isinstance(value, str) and "%" in value:
        raise InvalidInput(
            "has a zone id (the part after %), which a firewall rule cannot use; "
            "write the network without it, e.g. fe80::/64"
        )
    network = to_network(value)
    if network is None:
        raise InvalidInput(
            "is not an IP network; write a CIDR such as 203.0.113.0/24, "
            "2001:db8::/32, 0.0.0.0/0 or a single address"
        )
    return format_network(network)


def to_network(value: object) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """The network a prefix string means (host bits cleared), or None if it is not one."""
    if not isinstance(value, str) or not value.isascii() or "%" in value:
        return None
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return None


def format_network(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    """A network spelled as Neutron (netaddr) spells it, the same on every Python version:
    an IPv4-mapped IPv6 network is ``::ffff:10.0.0.1/128`` (Python's ``ipaddress`` prints
    ``::ffff:a00:1`` before 3.13 and the dotted form after)."""
    address = network.network_address
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return f"::ffff:{address.ipv4_mapped}/{network.prefixlen}"
    return f"{address.compressed}/{network.prefixlen}"


def canonical_prefix(value: object) -> object:
    """A prefix in canonical spelling; anything that is not a network is left as it is."""
    network = to_network(value)
    return value if network is None else format_network(network)


def parse_description(value: object) -> str:
    """Free text, at most 255 characters (the API's limit)."""
    if not isinstance(value, str):
        raise InvalidInput(f"is {_kind(value)}, not a string; description must be text")
    if len(value) > DESCRIPTION_MAX:
        raise InvalidInput(
            f"is {len(value)} characters long; Gcore allows at most {DESCRIPTION_MAX}"
        )
    return value


def parse_bool(value: object) -> bool:
    """A real boolean; strings are refused so that ``"false"`` cannot mean True."""
    if isinstance(value, bool):
        return value
    raise InvalidInput(f"is {_kind(value)}, not a boolean; use True or False")


def prefix_family(prefix: str) -> str:
    """``IPv4`` or ``IPv6`` for a canonical prefix."""
    return "IPv6" if ":" in prefix else "IPv4"


_FIELD_PARSERS: Final[dict[str, Any]] = {
    "group_id": lambda v: parse_uuid(v, "group_id (the security group's id)"),
    "direction": parse_direction,
    "ethertype": parse_ethertype,
    "protocol": parse_protocol,
    "port_range_min": parse_port,
    "port_range_max": parse_port,
    "remote_ip_prefix": parse_prefix,
    "remote_group_id": lambda v: parse_uuid(
        v, "remote_group_id (another group's id)", version4=True
    ),
    "description": parse_description,
    "project_id": lambda v: parse_positive_id(v, "project_id"),
    "region_id": lambda v: parse_positive_id(v, "region_id"),
    "adopt_existing": parse_bool,
}


_BODY_PARSERS: Final = {key: _FIELD_PARSERS[key] for key in BODY_KEYS}
"""The parsers of a rule's own fields (a rule inside a group's ``rules``)."""


# --- the whole check --------------------------------------------------------------------


def check_inputs(news: Mapping[str, Any], defaults: Defaults) -> CheckOutcome:
    """Validate and canonicalise a resource's inputs without raising for bad input.

    Unknown values (preview) are kept as they are and skipped by every rule that needs
    them, so the rest is still checked.
    """
    values, failures = parse_inputs(news, _FIELD_PARSERS, unknown_input_reason)
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
    values, failures = parse_inputs(raw, _BODY_PARSERS, unknown_body_reason)
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


def canonical_protocol(protocol: object, ethertype: object) -> object:
    """The protocol as Neutron stores it: with IPv6, ``icmp`` is stored as ``ipv6-icmp``
    (and its duplicate check treats the two as one), so that is the canonical input."""
    return "ipv6-icmp" if protocol == "icmp" and ethertype == "IPv6" else protocol


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


# --- comparing rules --------------------------------------------------------------------


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
