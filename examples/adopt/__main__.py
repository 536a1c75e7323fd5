"""Bring rules that already exist (made in the Gcore console, say) under Pulumi.

With ``adopt_existing=True`` the provider first looks in the group for a rule identical to
the one declared (every field but the description) and takes it over, keeping its id,
instead of failing with Gcore's 409 "Security group rule already exists". A rule that does
not exist yet is simply created.

Caveat: once adopted, a rule belongs to this stack, so ``pulumi destroy`` (or removing it
from the program) DELETES it at Gcore, although Pulumi did not create it. See README.md.

Stack config:

- ``securityGroupId`` (required): the group holding the existing rules;
- ``adminCidr`` (optional, default ``198.51.100.0/24``): the network of the existing SSH rule;
- ``gcore:apiKey`` (secret), ``gcore:projectId``, ``gcore:regionId`` and, for the local
  emulator, ``gcore:baseUrl``: read by the provider.
"""

import pulumi

from gcore_pulumi import SecurityGroupRule, SecurityGroupRuleArgs

config = pulumi.Config()
group_id = config.require("securityGroupId")
admin_cidr = config.get("adminCidr") or "198.51.100.0/24"

# Keep each description equal to the existing rule's: the description is not part of the
# match, and the live one wins, so a different one would make the next `pulumi up`
# replace the adopted rule to change it.
ssh = SecurityGroupRule(
    "existing-ssh",
    SecurityGroupRuleArgs(
        group_id=group_id,
        direction="ingress",
        protocol="tcp",
        port_range_min=22,
        port_range_max=22,
        remote_ip_prefix=admin_cidr,
        description="SSH from the office",
        adopt_existing=True,
    ),
)

https = SecurityGroupRule(
    "existing-https",
    group_id=group_id,
    direction="ingress",
    ethertype="IPv4",
    protocol="tcp",
    port_range_min=443,
    port_range_max=443,
    remote_ip_prefix="0.0.0.0/0",
    description="HTTPS",
    adopt_existing=True,
)

rules = {"existing-ssh": ssh, "existing-https": https}
pulumi.export("rule_ids", {name: rule.id for name, rule in rules.items()})
pulumi.export("revision_numbers", {name: rule.revision_number for name, rule in rules.items()})
