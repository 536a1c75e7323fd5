"""Ingress rules for a web tier, built in a loop from a small table.

Every service in ``SERVICES`` is opened to the whole internet on both IP families
(``FAMILIES``), giving one rule per (service, family). Stack config:

- ``securityGroupId`` (required): the id of the Gcore security group of the web tier;
- ``gcore:apiKey`` (secret), ``gcore:projectId``, ``gcore:regionId`` and, for the local
  emulator, ``gcore:baseUrl``: read by the provider.
"""

from typing import NamedTuple

import pulumi

from gcore_pulumi import (
    Direction,
    Ethertype,
    Protocol,
    SecurityGroupRule,
    SecurityGroupRuleArgs,
)


class Service(NamedTuple):
    """One row of the table: what to open."""

    name: str
    protocol: Protocol
    first_port: int
    last_port: int
    description: str


SERVICES = (
    Service("http", Protocol.TCP, 80, 80, "HTTP"),
    Service("https", Protocol.TCP, 443, 443, "HTTPS"),
    Service("quic", Protocol.UDP, 443, 443, "HTTP/3 (QUIC)"),
    Service("alt", Protocol.TCP, 8080, 8081, "alternative HTTP ports"),
)

FAMILIES = (
    (Ethertype.IPV4, "0.0.0.0/0"),
    (Ethertype.IPV6, "::/0"),
)

config = pulumi.Config()
group_id = config.require("securityGroupId")

rules: dict[str, SecurityGroupRule] = {}
for service in SERVICES:
    for ethertype, anywhere in FAMILIES:
        name = f"web-{service.name}-{ethertype.value.lower()}"
        rules[name] = SecurityGroupRule(
            name,
            SecurityGroupRuleArgs(
                group_id=group_id,
                direction=Direction.INGRESS,
                ethertype=ethertype,
                protocol=service.protocol,
                port_range_min=service.first_port,
                port_range_max=service.last_port,
                remote_ip_prefix=anywhere,
                description=f"{service.description} from anywhere ({ethertype.value})",
            ),
        )

pulumi.export("rule_ids", {name: rule.id for name, rule in rules.items()})
pulumi.export("revision_numbers", {name: rule.revision_number for name, rule in rules.items()})
