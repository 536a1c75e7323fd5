"""A web tier's whole firewall as one resource: a security group that owns its rule set.

Every rule is in the group's ``rules``; the group holds exactly these, no more: a rule
someone opens by hand shows up on ``pulumi refresh`` and is closed by the next ``up``.
Stack config:

- ``groupName`` (optional, default ``web-tier``) and ``adminCidr`` (optional, default
  ``203.0.113.0/24``);
- ``gcore:apiKey`` (secret), ``gcore:projectId``, ``gcore:regionId`` and, for the local
  emulator, ``gcore:baseUrl``: read by the provider.
"""

import pulumi

from gcore_pulumi import (
    Direction,
    Ethertype,
    Protocol,
    SecurityGroup,
    SecurityGroupRulesArgs,
)

config = pulumi.Config()
admin_cidr = config.get("adminCidr") or "203.0.113.0/24"

ANYWHERE = ((Ethertype.IPV4, "0.0.0.0/0"), (Ethertype.IPV6, "::/0"))

rules: list[SecurityGroupRulesArgs] = []
for ethertype, anywhere in ANYWHERE:
    for port, what in ((80, "HTTP"), (443, "HTTPS")):
        rules.append(
            SecurityGroupRulesArgs(
                direction=Direction.INGRESS,
                ethertype=ethertype,
                protocol=Protocol.TCP,
                port_range_min=port,
                port_range_max=port,
                remote_ip_prefix=anywhere,
                description=f"{what} from anywhere",
            )
        )
    # The group has no rule it does not list: "allow all egress" is written out.
    rules.append(
        SecurityGroupRulesArgs(
            direction=Direction.EGRESS, ethertype=ethertype, description="all egress"
        )
    )
rules.append(
    SecurityGroupRulesArgs(
        direction=Direction.INGRESS,
        protocol=Protocol.TCP,
        port_range_min=22,
        port_range_max=22,
        remote_ip_prefix=admin_cidr,
        description="SSH from the admins",
    )
)

group = SecurityGroup(
    "web-tier",
    name=config.get("groupName") or "web-tier",
    description="web tier: HTTP(S) from anywhere, SSH from the admins",
    tags={"tier": "web"},
    rules=rules,
)

pulumi.export("group_id", group.id)
pulumi.export("rule_count", group.rules.apply(lambda live: len(live or [])))
