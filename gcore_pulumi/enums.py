"""String enums for the rule's fixed vocabularies.

Each is a ``str`` subclass, so a member is accepted wherever a plain string is and
serialises as its value; the plain strings keep working too.
"""

from __future__ import annotations

import enum


class _StrEnum(str, enum.Enum):
    """A str enum that prints as its value (``f"{Protocol.TCP}"`` is ``tcp``)."""

    def __str__(self) -> str:
        return str(self.value)


class Direction(_StrEnum):
    """Which traffic the rule matches, seen from the instance."""

    INGRESS = "ingress"
    """Traffic arriving at the instance."""
    EGRESS = "egress"
    """Traffic leaving the instance."""


class Ethertype(_StrEnum):
    """The IP family the rule applies to."""

    IPV4 = "IPv4"
    """IPv4 traffic (the API's default)."""
    IPV6 = "IPv6"
    """IPv6 traffic."""


class Protocol(_StrEnum):
    """Every protocol Gcore's v1 API accepts (``SecurityGroupProtocolEnum``).

    ``ANY`` matches all protocols; the API stores it as null and this provider shows it
    as ``"any"``.
    """

    AH = "ah"
    ANY = "any"
    DCCP = "dccp"
    EGP = "egp"
    ESP = "esp"
    GRE = "gre"
    ICMP = "icmp"
    IGMP = "igmp"
    IPENCAP = "ipencap"
    IPIP = "ipip"
    IPV6_ENCAP = "ipv6-encap"
    IPV6_FRAG = "ipv6-frag"
    IPV6_ICMP = "ipv6-icmp"
    IPV6_NONXT = "ipv6-nonxt"
    IPV6_OPTS = "ipv6-opts"
    IPV6_ROUTE = "ipv6-route"
    OSPF = "ospf"
    PGM = "pgm"
    RSVP = "rsvp"
    SCTP = "sctp"
    TCP = "tcp"
    UDP = "udp"
    UDPLITE = "udplite"
    VRRP = "vrrp"


PORT_RANGE_PROTOCOLS = frozenset({"tcp", "udp", "sctp", "dccp", "udplite"})
"""Protocols whose rules may carry a port range (Neutron's list)."""

ICMP_PROTOCOLS = frozenset({"icmp", "ipv6-icmp"})
"""Protocols whose 'ports' are an ICMP type (min) and code (max)."""
