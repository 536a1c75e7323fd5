"""The rules the Gcore backend enforces on security group rules, as pure functions.

The emulator answers a create request in two stages, like the real service does:

1. the API layer checks the body against the published request schema
   (``CreateSecurityGroupRuleSerializer``) and reports every bad field at once;
2. the OpenStack Neutron layer behind it applies defaults, normalises the remote prefix and
   rejects inconsistent combinations, stopping at the first problem it finds.

Both stages raise :class:`RuleValidationError`, which the server turns into a 400
``ValidationError`` with ``invalid_fields``. The functions here hold no state and do no I/O so
they can be unit tested directly and reused by anything that wants to predict what the service
will answer.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, TypedDict

from gcore_pulumi.testing.ip_prefixes import format_ipv6, normalize_ip_prefix, prefix_key

__all__ = [
    "DESCRIPTION_MAX_LENGTH",
    "DIRECTIONS",
    "ETHERTYPES",
    "ICMP_PROTOCOLS",
    "IPV6_ONLY_PROTOCOLS",
    "PORT_RANGE_PROTOCOLS",
    "PROTOCOLS",
    "V2_PROTOCOLS",
    "RuleSpec",
    "RuleValidationError",
    "canonical_protocol",
    "check_neutron_rules",
    "check_schema",
    "duplicate_key",
    "find_duplicate",
    "format_ipv6",
    "normalize_ip_prefix",
    "prefix_key",
    "validate_rule_body",
]

#: ``direction`` enum of the request schema.
DIRECTIONS: frozenset[str] = frozenset({"egress", "ingress"})
#: ``ethertype`` enum of the request schema.
ETHERTYPES: frozenset[str] = frozenset({"IPv4", "IPv6"})
#: ``SecurityGroupProtocolEnum``; ``any`` means "all protocols" and is stored as null.
PROTOCOLS: frozenset[str] = frozenset(
    {
        "ah",
        "any",
        "dccp",
        "egp",
        "esp",
        "gre",
        "icmp",
        "igmp",
        "ipencap",
        "ipip",
        "ipv6-encap",
        "ipv6-frag",
        "ipv6-icmp",
        "ipv6-nonxt",
        "ipv6-opts",
        "ipv6-route",
        "ospf",
        "pgm",
        "rsvp",
        "sctp",
        "tcp",
        "udp",
        "udplite",
        "vrrp",
    }
)
#: The v2 protocol enum: the same without ``any`` (v2 sends null for "all protocols").
V2_PROTOCOLS: frozenset[str] = PROTOCOLS - {"any"}
#: Protocols for which the two port fields are a real port range.
PORT_RANGE_PROTOCOLS: frozenset[str] = frozenset({"tcp", "udp", "sctp", "dccp", "udplite"})
#: Protocols for which the port fields carry the ICMP type (min) and code (max).
ICMP_PROTOCOLS: frozenset[str] = frozenset({"icmp", "ipv6-icmp"})
#: Protocols that only exist on IPv6 and therefore need ``ethertype`` IPv6.
IPV6_ONLY_PROTOCOLS: frozenset[str] = frozenset(p for p in PROTOCOLS if p.startswith("ipv6-"))
#: ``maxLength`` of ``description`` in the request schema.
DESCRIPTION_MAX_LENGTH = 255

_PORT_FIELDS = ("port_range_min", "port_range_max")


class RuleSpec(TypedDict):
    """A rule after validation, defaults and normalisation: what the backend stores."""

    direction: str
    ethertype: str
    protocol: str | None
    port_range_min: int | None
    port_range_max: int | None
    remote_ip_prefix: str | None
    remote_group_id: str | None
    description: str


class RuleValidationError(ValueError):
    """A request the service rejects with 400 ``ValidationError``.

    ``invalid_fields`` maps each offending body field to its messages, the shape the Gcore API
    uses, so a client can point at the exact input that was refused.
    """

    def __init__(self, message: str, invalid_fields: Mapping[str, list[str]]) -> None:
        super().__init__(message)
        self.message = message
        self.invalid_fields: dict[str, list[str]] = {k: list(v) for k, v in invalid_fields.items()}

    @classmethod
    def single(cls, message: str, *fields: str) -> RuleValidationError:
        """One Neutron-style error blamed on ``fields``."""
        return cls(message, {field: [message] for field in fields})


def _is_int(value: object) -> bool:
    # JSON true/false decode to bool, which Python treats as an int; the API does not.
    return isinstance(value, int) and not isinstance(value, bool)


def canonical_protocol(protocol: object, ethertype: object) -> object:
    """Neutron's stored protocol: ``any`` is null, and with IPv6 ``icmp``/``icmpv6`` is
    ``ipv6-icmp`` (``_make_canonical_ipv6_icmp_protocol``)."""
    if protocol == "any":
        return None
    if ethertype == "IPv6" and protocol in ("icmp", "icmpv6"):
        return "ipv6-icmp"
    return protocol


def _check_uuid4(value: object, errors: list[str]) -> str | None:
    if not isinstance(value, str):
        errors.append("Not a valid UUID.")
        return None
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        errors.append("Not a valid UUID.")
        return None
    if parsed.version != 4:
        errors.append("Must be a version 4 UUID.")
        return None
    return str(parsed)


def check_schema(
    body: object,
    *,
    require_security_group_id: bool = False,
    v2: bool = False,
    allow_security_group_id: bool = False,
) -> dict[str, Any]:
    """Validate ``body`` against the request schema; return the known fields it sets.

    Mirrors ``CreateSecurityGroupRuleSerializer``: ``direction`` is required, the other fields
    are optional but, when present, must have the declared type (only ``port_range_*`` and
    ``remote_ip_prefix`` are nullable). Unknown keys are ignored, as a lenient serializer does.
    ``remote_ip_prefix`` is already normalised in the result. With
    ``require_security_group_id`` ``security_group_id`` is required as well; with
    ``allow_security_group_id`` (the v1 PUT body) it is optional but checked when present.
    With ``v2`` (the v2 rule body) ``protocol`` may be null (all protocols) and ``any`` is
    not in the enum. Every bad field is reported at once.
    """
    if not isinstance(body, Mapping):
        raise RuleValidationError(
            "Invalid input type: a JSON object is expected.",
            {"_schema": ["Invalid input type: a JSON object is expected."]},
        )
    check = _SchemaCheck(body)
    check.required(require_security_group_id)
    check.enums(v2)
    check.ports()
    check.description()
    check.remote_ip_prefix()
    check.uuids(require_security_group_id or allow_security_group_id)
    return check.result()


class _SchemaCheck:
    """One pass of :func:`check_schema` over a body: one method per field family."""

    def __init__(self, body: Mapping[str, Any]) -> None:
        self.body = body
        self.errors: dict[str, list[str]] = {}
        self.clean: dict[str, Any] = {}

    def fail(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def required(self, require_security_group_id: bool) -> None:
        required = ["direction"]
        if require_security_group_id:
            required.insert(0, "security_group_id")
        for field in required:
            if field not in self.body:
                self.fail(field, "Missing data for required field.")

    def enums(self, v2: bool) -> None:
        for field in ("direction", "ethertype", "protocol"):
            if field not in self.body:
                continue
            value = self.body[field]
            protocols = V2_PROTOCOLS if v2 else PROTOCOLS
            allowed = {"direction": DIRECTIONS, "ethertype": ETHERTYPES, "protocol": protocols}[
                field
            ]
            if value is None and v2 and field == "protocol":
                self.clean[field] = None
            elif value is None:
                self.fail(field, "Field may not be null.")
            elif not isinstance(value, str) or value not in allowed:
                self.fail(field, "Must be one of: " + ", ".join(sorted(allowed)) + ".")
            else:
                self.clean[field] = value

    def ports(self) -> None:
        for field in _PORT_FIELDS:
            if field not in self.body:
                continue
            value = self.body[field]
            if value is None:
                self.clean[field] = None
            elif not _is_int(value):
                self.fail(field, "Not a valid integer.")
            elif not 0 <= value <= 65535:
                self.fail(
                    field, "Must be greater than or equal to 0 and less than or equal to 65535."
                )
            else:
                self.clean[field] = value

    def description(self) -> None:
        if "description" not in self.body:
            return
        value = self.body["description"]
        if value is None:
            self.fail("description", "Field may not be null.")
        elif not isinstance(value, str):
            self.fail("description", "Not a valid string.")
        elif len(value) > DESCRIPTION_MAX_LENGTH:
            self.fail("description", f"Longer than maximum length {DESCRIPTION_MAX_LENGTH}.")
        else:
            self.clean["description"] = value

    def remote_ip_prefix(self) -> None:
        if "remote_ip_prefix" not in self.body:
            return
        value = self.body["remote_ip_prefix"]
        if value is None:
            self.clean["remote_ip_prefix"] = None
        elif not isinstance(value, str):
            self.fail("remote_ip_prefix", "Not a valid IPv4 or IPv6 network.")
        else:
            try:
                self.clean["remote_ip_prefix"] = normalize_ip_prefix(value)
            except ValueError:
                self.fail("remote_ip_prefix", "Not a valid IPv4 or IPv6 network.")

    def uuids(self, reads_security_group_id: bool) -> None:
        uuid_fields = ["remote_group_id"]
        if reads_security_group_id:
            uuid_fields.append("security_group_id")
        for field in uuid_fields:
            if field not in self.body:
                continue
            value = self.body[field]
            if value is None:
                self.fail(field, "Field may not be null.")
                continue
            problems: list[str] = []
            parsed = _check_uuid4(value, problems)
            for problem in problems:
                self.fail(field, problem)
            if parsed is not None:
                self.clean[field] = parsed

    def result(self) -> dict[str, Any]:
        if self.errors:
            summary = "; ".join(
                f"{field}: {' '.join(msgs)}" for field, msgs in sorted(self.errors.items())
            )
            raise RuleValidationError(f"Validation error: {summary}", self.errors)
        return self.clean


def check_neutron_rules(fields: Mapping[str, Any]) -> RuleSpec:
    """Apply Neutron's defaults and consistency checks to schema-valid ``fields``.

    Defaults: ``ethertype`` IPv4, ``description`` "", ``protocol`` null (``any`` is stored as
    null; with IPv6, ``icmp`` is stored as ``ipv6-icmp``). Checks, in Neutron's order,
    stopping at the first failure: port fields need a protocol; tcp/udp/sctp/dccp/udplite
    need both ends, each 1..65535, min <= max (the whole range, 1..65535, is then stored as
    no range); icmp and ipv6-icmp take a type (min) and code (max) in 0..255 and no code
    without a type; other protocols take no ports; ``ethertype`` must match the family of
    ``remote_ip_prefix``; ``ipv6-*`` protocols need IPv6; ``remote_ip_prefix`` and
    ``remote_group_id`` exclude each other.
    """
    ethertype = fields.get("ethertype") or "IPv4"
    protocol = canonical_protocol(fields.get("protocol"), ethertype)
    assert protocol is None or isinstance(protocol, str)
    prefix = fields.get("remote_ip_prefix")
    if prefix is not None:
        prefix = normalize_ip_prefix(prefix)
    spec: RuleSpec = {
        "direction": fields["direction"],
        "ethertype": ethertype,
        "protocol": protocol,
        "port_range_min": fields.get("port_range_min"),
        "port_range_max": fields.get("port_range_max"),
        "remote_ip_prefix": prefix,
        "remote_group_id": fields.get("remote_group_id"),
        "description": fields.get("description", ""),
    }
    _check_ports(spec)
    _make_canonical_port_range(spec)
    _check_prefix_family(spec)
    _check_protocol_family(spec)
    if spec["remote_ip_prefix"] is not None and spec["remote_group_id"] is not None:
        raise RuleValidationError.single(
            "Only remote_ip_prefix or remote_group_id may be provided.",
            "remote_ip_prefix",
            "remote_group_id",
        )
    return spec


def _check_ports(spec: RuleSpec) -> None:
    low, high = spec["port_range_min"], spec["port_range_max"]
    if low is None and high is None:
        return
    set_fields = [f for f, v in zip(_PORT_FIELDS, (low, high), strict=True) if v is not None]
    protocol = spec["protocol"]
    if protocol is None:
        raise RuleValidationError.single(
            "Must also specify protocol if port range is given.", "protocol", *set_fields
        )
    if protocol in PORT_RANGE_PROTOCOLS:
        for field, value in zip(_PORT_FIELDS, (low, high), strict=True):
            if value == 0:
                raise RuleValidationError.single("Invalid value for port 0.", field)
        if low is not None and high is not None and low <= high:
            return
        raise RuleValidationError.single(
            f"For {protocol.upper()} protocol, port_range_min and port_range_max must both be "
            "set and port_range_min must be <= port_range_max.",
            *_PORT_FIELDS,
        )
    if protocol in ICMP_PROTOCOLS:
        for field, name, value in (
            ("port_range_min", "type", low),
            ("port_range_max", "code", high),
        ):
            if value is not None and not 0 <= value <= 255:
                raise RuleValidationError.single(
                    f"Invalid value for ICMP {name} ({field}) {value}. It must be 0 to 255.",
                    field,
                )
        if low is None and high is not None:
            raise RuleValidationError.single(
                f"ICMP code (port_range_max) {high} is provided but ICMP type "
                "(port_range_min) is missing.",
                "port_range_min",
            )
        return
    valid = ", ".join(p.upper() for p in sorted(PORT_RANGE_PROTOCOLS))
    raise RuleValidationError.single(
        f"Invalid protocol {protocol} for port range, only supported for {valid} protocols.",
        "protocol",
        *set_fields,
    )


def _make_canonical_port_range(spec: RuleSpec) -> None:
    """Neutron's ``_make_canonical_port_range``: a port protocol's whole range, 1..65535, is
    stored as no range, so it is the same rule (a duplicate) as one without ports."""
    if (
        spec["protocol"] in PORT_RANGE_PROTOCOLS
        and spec["port_range_min"] == 1
        and spec["port_range_max"] == 65535
    ):
        spec["port_range_min"] = spec["port_range_max"] = None


def _check_prefix_family(spec: RuleSpec) -> None:
    prefix = spec["remote_ip_prefix"]
    if prefix is None:
        return
    family = f"IPv{ipaddress.ip_network(prefix).version}"
    if family != spec["ethertype"]:
        raise RuleValidationError.single(
            f"Conflicting value ethertype {spec['ethertype']} for CIDR {prefix}.",
            "ethertype",
            "remote_ip_prefix",
        )


def _check_protocol_family(spec: RuleSpec) -> None:
    protocol = spec["protocol"]
    if protocol in IPV6_ONLY_PROTOCOLS and spec["ethertype"] != "IPv6":
        raise RuleValidationError.single(
            f"Invalid ethertype {spec['ethertype']} for protocol {protocol}.",
            "ethertype",
            "protocol",
        )


def validate_rule_body(
    body: object,
    *,
    require_security_group_id: bool = False,
    v2: bool = False,
    allow_security_group_id: bool = False,
) -> tuple[RuleSpec, str | None]:
    """Run both stages on a request body (``v2``: the v2 rule body, see :func:`check_schema`).

    Returns the stored form of the rule and the body's ``security_group_id`` (read only with
    ``require_security_group_id``, which requires it, or ``allow_security_group_id``, which
    takes it when present; otherwise None).
    """
    clean = check_schema(
        body,
        require_security_group_id=require_security_group_id,
        v2=v2,
        allow_security_group_id=allow_security_group_id,
    )
    spec = check_neutron_rules(clean)
    reads_group = require_security_group_id or allow_security_group_id
    group_id: str | None = clean.get("security_group_id") if reads_group else None
    return spec, group_id


def duplicate_key(security_group_id: str, rule: Mapping[str, Any]) -> tuple[object, ...]:
    """The fields Neutron compares to decide that two rules are the same.

    ``description`` is deliberately left out, prefixes are compared as networks (see
    :func:`prefix_key`: the match-everything ones fold into null), and the protocol as Neutron
    stores it (:func:`canonical_protocol`: ``any`` is null; with IPv6, ``icmp`` is
    ``ipv6-icmp``). ``rule`` may be a :class:`RuleSpec` or an API rule object.
    """
    ethertype = rule.get("ethertype")
    return (
        security_group_id,
        rule.get("direction"),
        ethertype,
        canonical_protocol(rule.get("protocol"), ethertype),
        rule.get("port_range_min"),
        rule.get("port_range_max"),
        prefix_key(rule.get("remote_ip_prefix")),
        rule.get("remote_group_id"),
    )


def find_duplicate(
    security_group_id: str, spec: Mapping[str, Any], existing: Iterable[Mapping[str, Any]]
) -> str | None:
    """Return the id of a rule in ``existing`` that duplicates ``spec`` in the group, if any."""
    wanted = duplicate_key(security_group_id, spec)
    for rule in existing:
        if duplicate_key(str(rule.get("security_group_id")), rule) == wanted:
            return str(rule["id"])
    return None
