"""gcore-pulumi: manage Gcore cloud security group rules with Pulumi.

``SecurityGroupRule`` is the resource; ``SecurityGroupRuleProvider`` is the dynamic
provider behind it. The offline Gcore API emulator lives in ``gcore_pulumi.testing``.
"""

from ._version import __version__
from .enums import Direction, Ethertype, Protocol
from .provider import SecurityGroupRuleProvider
from .resource import SecurityGroupRule, SecurityGroupRuleArgs

# State stores the provider as a reference to this public name, so internal modules can
# move without breaking existing stacks (see pulumi-dynamic-providers: by-reference pickling).
SecurityGroupRuleProvider.__module__ = __name__

__all__ = [
    "Direction",
    "Ethertype",
    "Protocol",
    "SecurityGroupRule",
    "SecurityGroupRuleArgs",
    "SecurityGroupRuleProvider",
    "__version__",
]
