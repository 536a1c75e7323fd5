"""Security group rules for a public web server.

HTTPS and HTTP from anywhere (IPv4 and IPv6), SSH from one admin network, and ICMP echo
request (ping) over IPv4. Stack config:

- ``securityGroupId`` (required): the id of the Gcore security group to add the rules to;
- ``sshCidr`` (optional, default ``203.0.113.0/24``): the network allowed to use SSH;
- ``gcore:apiKey`` (secret), ``gcore:projectId``, ``gcore:regionId`` and, for the local
  emulator, ``gcore:baseUrl``: read by the provider.
"""

import pulumi

from gcore_pulumi import Direction, Ethertype, Protocol, SecurityGroupRule

config = pulumi.Config()
group_id = config.require("securityGroupId")
ssh_cidr = config.get("sshCidr") or "203.0.113.0/24"

rules: dict[str, SecurityGroupRule] = {}

for port, service in ((443, "https"), (80, "http")):
    for ethertype, anywhere in ((Ethertype.IPV4, "0.0.0.0/0"), (Ethertype.IPV6, "::/0")):
        name = f"{service}-{ethertype.value.lower()}"
        rules[name] = SecurityGroupRule(
            name,
            group_id=group_id,
            direction=Direction.INGRESS,
            ethertype=ethertype,
            protocol=Protocol.TCP,
            port_range_min=port,
            port_range_max=port,
            remote_ip_prefix=anywhere,
            description=f"{service.upper()} from anywhere ({ethertype.value})",
        )

# The ethertype follows the CIDR (IPv4 or IPv6) when it is not given.
rules["ssh"] = SecurityGroupRule(
    "ssh",
    group_id=group_id,
    direction=Direction.INGRESS,
    protocol=Protocol.TCP,
    port_range_min=22,
    port_range_max=22,
    remote_ip_prefix=ssh_cidr,
    description="SSH from the admin network",
)

# For ICMP, port_range_min is the ICMP type (8: echo request) and port_range_max the code.
rules["icmp-echo"] = SecurityGroupRule(
    "icmp-echo",
    group_id=group_id,
    direction=Direction.INGRESS,
    ethertype=Ethertype.IPV4,
    protocol=Protocol.ICMP,
    port_range_min=8,
    description="ping (ICMP echo request)",
)

pulumi.export("rule_ids", {name: rule.id for name, rule in rules.items()})
pulumi.export("revision_numbers", {name: rule.revision_number for name, rule in rules.items()})
