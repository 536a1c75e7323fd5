"""gcore-pulumi: manage Gcore cloud security groups and their rules with Pulumi.

``SecurityGroup`` and ``SecurityGroupRule`` are the resources; ``SecurityGroupProvider`` and
``SecurityGroupRuleProvider`` the dynamic providers behind them; ``get_security_group`` and
``get_security_group_output`` look up an existing group, ``get_security_groups`` and
``get_security_groups_output`` every group matching a name or tags. The offline Gcore API
emulator lives in ``gcore_pulumi.testing``.
"""

from ._version import __version__
from .enums import Direction, Ethertype, Protocol
from .group_provider import SecurityGroupProvider
from .group_resource import SecurityGroup, SecurityGroupArgs, SecurityGroupRulesArgs
from .lookups import (
    GetSecurityGroupResult,
    GetSecurityGroupRuleResult,
    SecurityGroupLookupError,
    get_security_group,
    get_security_group_output,
    get_security_groups,
    get_security_groups_output,
)
from .provider import SecurityGroupRuleProvider
from .resource import SecurityGroupRule, SecurityGroupRuleArgs

# State stores the provider as a reference to this public name, so internal modules can
# move without breaking existing stacks (see pulumi-dynamic-providers: by-reference pickling).
SecurityGroupRuleProvider.__module__ = __name__
SecurityGroupProvider.__module__ = __name__

__all__ = [
    "Direction",
    "Ethertype",
    "GetSecurityGroupResult",
    "GetSecurityGroupRuleResult",
    "Protocol",
    "SecurityGroup",
    "SecurityGroupArgs",
    "SecurityGroupLookupError",
    "SecurityGroupProvider",
    "SecurityGroupRule",
    "SecurityGroupRuleArgs",
    "SecurityGroupRuleProvider",
    "SecurityGroupRulesArgs",
    "__version__",
    "get_security_group",
    "get_security_group_output",
    "get_security_groups",
    "get_security_groups_output",
]
