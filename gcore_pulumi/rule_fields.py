"""A rule's fields: their names, and one parser per field.

Each parser takes an input value and returns it in canonical form, or raises
:class:`InvalidInput` with reasons that say what is wrong and what to write instead. Pure
functions and no I/O.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
import uuid
from typing import Any, Final

from .enums import Direction, Ethertype, Protocol

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
DESCRIPTION_MAX: Final = 255
PORT_MAX: Final = 65535
ICMP_MAX: Final = 255


class InvalidInput(ValueError):
    """One input's value is unusable; each reason says why and what to write instead."""

    def __init__(self, *reasons: str) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons
        """One check failure each (a map input may have several)."""


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


FIELD_PARSERS: Final[dict[str, Any]] = {
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


BODY_PARSERS: Final = {key: FIELD_PARSERS[key] for key in BODY_KEYS}
"""The parsers of a rule's own fields (a rule inside a group's ``rules``)."""
