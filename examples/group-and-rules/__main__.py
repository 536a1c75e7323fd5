"""A web tier's whole firewall as code: the security group and every one of its rules.

The group is created with no rules at all, so it allows exactly what is declared below:

- HTTPS (tcp 443) in from anywhere, IPv4 and IPv6;
- SSH (tcp 22) in from one admin network (config ``adminCidr``, default ``203.0.113.0/24``);
- all traffic out, IPv4 and IPv6: declared explicitly, since a new group has no rules
  (Gcore's default template would also have opened ALL ingress).

Stack config: ``groupName`` (optional, default ``web-tier``), ``adminCidr`` (optional), and
the provider's ``gcore:apiKey`` (secret), ``gcore:projectId``, ``gcore:regionId`` and, for
the local emulator, ``gcore:baseUrl``.
"""

import pulumi

from gcore_pulumi import Direction, Ethertype, Protocol, SecurityGroup, SecurityGroupRule

config = pulumi.Config()
admin_cidr = config.get("adminCidr") or "203.0.113.0/24"

group = SecurityGroup(
    "web",
    name=config.get("groupName") or "web-tier",
    description="Web tier: HTTPS from anywhere, SSH from the admin network",
    tags={"app": "web", "managed-by": "pulumi"},
)

rules: dict[str, SecurityGroupRule] = {}

for ethertype, anywhere in ((Ethertype.IPV4, "0.0.0.0/0"), (Ethertype.IPV6, "::/0")):
    family = ethertype.value.lower()
    rules[f"https-{family}"] = SecurityGroupRule(
        f"https-{family}",
        group_id=group.id,  # the group's uuid: Pulumi creates the group first
        direction=Direction.INGRESS,
        ethertype=ethertype,
        protocol=Protocol.TCP,
        port_range_min=443,
        port_range_max=443,
        remote_ip_prefix=anywhere,
        description=f"HTTPS from anywhere ({ethertype.value})",
    )
    # "Allow all egress", spelled out: every protocol, to any address of this family.
    rules[f"egress-{family}"] = SecurityGroupRule(
        f"egress-{family}",
        group_id=group.id,
        direction=Direction.EGRESS,
        ethertype=ethertype,
        description=f"all traffic out ({ethertype.value})",
    )

rules["ssh"] = SecurityGroupRule(
    "ssh",
    group_id=group.id,
    direction=Direction.INGRESS,
    protocol=Protocol.TCP,
    port_range_min=22,
    port_range_max=22,
    remote_ip_prefix=admin_cidr,
    description="SSH from the admin network",
)

pulumi.export("group_id", group.id)
pulumi.export("group_revision", group.revision_number)
pulumi.export("rule_ids", {name: rule.id for name, rule in rules.items()})
