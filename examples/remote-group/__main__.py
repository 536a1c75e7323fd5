"""Let the members of one security group reach another: PostgreSQL from the web tier.

The rule names a peer group (``remote_group_id``) instead of a network: whatever instances
are in the web group may connect to port 5432 of the instances in the database group, on
IPv4 and IPv6. Stack config:

- ``securityGroupId`` (required): the database group, which gets the rules;
- ``remoteGroupId`` (required): the web group, whose members are let in;
- ``gcore:apiKey`` (secret), ``gcore:projectId``, ``gcore:regionId`` and, for the local
  emulator, ``gcore:baseUrl``: read by the provider.
"""

import pulumi

from gcore_pulumi import (
    Direction,
    Ethertype,
    Protocol,
    SecurityGroupRule,
    SecurityGroupRuleArgs,
)

config = pulumi.Config()
db_group_id = config.require("securityGroupId")
web_group_id = config.require("remoteGroupId")

rules: dict[str, SecurityGroupRule] = {}
for ethertype in (Ethertype.IPV4, Ethertype.IPV6):
    name = f"postgres-from-web-{ethertype.value.lower()}"
    rules[name] = SecurityGroupRule(
        name,
        SecurityGroupRuleArgs(
            group_id=db_group_id,
            direction=Direction.INGRESS,
            ethertype=ethertype,
            protocol=Protocol.TCP,
            port_range_min=5432,
            port_range_max=5432,
            # A peer group, not a network: remote_ip_prefix must then stay unset.
            remote_group_id=web_group_id,
            description=f"PostgreSQL from the web tier ({ethertype.value})",
        ),
    )

pulumi.export("rule_ids", {name: rule.id for name, rule in rules.items()})
pulumi.export("revision_numbers", {name: rule.revision_number for name, rule in rules.items()})
