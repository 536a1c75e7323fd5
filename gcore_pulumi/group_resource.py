"""``SecurityGroup``: a Gcore security group a program declares, and its typed args.

Thin on purpose, like ``SecurityGroupRule``: it gathers inputs and declares outputs; the
provider checks them and does the HTTP work. A group either owns its complete rule set
(``rules=[...]``, each rule a dict or a ``SecurityGroupRulesArgs``) or has none of its own
and gets each rule as a ``SecurityGroupRule`` with ``group_id=group.id``.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any, Final, overload

import pulumi
import pulumi.dynamic

from .enums import Direction, Ethertype, Protocol
from .group_provider import SecurityGroupProvider
from .group_schema import GROUP_INPUT_KEYS, GROUP_OUTPUT_ONLY_KEYS, unknown_input_reason
from .resource import _RULE_INPUTS, document_inputs, input_props, named_inputs
from .rule_set import RULES_KEY
from .schema import BODY_KEYS, unknown_body_reason

_GROUP_INPUTS: Final = {
    "name": "the group's name, 1..255 characters, not blank; instances attach groups by "
    "name, and Gcore does not require it to be unique; changes in place",
    "description": 'free text shown in the Gcore console, at most 255 characters; default ""; '
    "changes in place",
    "tags": 'user tags {"key": "value"}, keys and values 1..255 characters without spaces, '
    "tabs, newlines or '='; default {}; Gcore's own read-only tags are left alone; changes "
    "in place",
    "rules": "the group's COMPLETE rule set, each rule a dict or a SecurityGroupRulesArgs "
    "(direction, ethertype, protocol, port_range_min, port_range_max, remote_ip_prefix, "
    "remote_group_id, description: as SecurityGroupRule); a rule in the group but not "
    "listed is deleted, [] means no rules; compared as a set (order and spelling do not "
    "matter); changes in place; default: omitted, the group's rules are not managed here",
    "project_id": "Gcore project id; default gcore:projectId, else GCORE_CLOUD_PROJECT_ID; "
    "a change makes a new group",
    "region_id": "Gcore region id; default gcore:regionId, else GCORE_CLOUD_REGION_ID; "
    "a change makes a new group",
    "adopt_id": "the id (uuid) of an existing group to take over instead of creating one: "
    "no new group is made; its name, description, rules (when given) and tags are brought "
    "to what the program declares; the resource id is that uuid, and destroy deletes the "
    "group; a missing group fails naming the id; a later change to it changes nothing; "
    "default: omitted, a new group is created",
}
"""One line per group input, for help(): what it means, its values, default and changes."""

_GROUP_CALL: Final = """\
Declare it with the inputs as keywords, or as a SecurityGroupArgs second argument (not
both); opts (by keyword) is a pulumi.ResourceOptions. Every input takes a pulumi.Input (a
plain value or another resource's output). Rules: either the group owns all of them
(rules=[...]), or each is a SecurityGroupRule with group_id=<this group>.id; never both
on one group (a SecurityGroupRule on a group with rules=... is refused)."""

_GROUP_OUTPUTS: Final = """\
Outputs: every input in canonical form, plus id (the group's uuid, also the resource id),
region (the region's name), revision_number (goes up whenever the group or its rules
change), created_at and updated_at (Gcore's times). With rules=..., the rules output is the
group's rules as Gcore holds them (a rule added by hand included, after refresh),
canonical, each with its id."""


class SecurityGroupRulesArgs:
    """One rule of a ``SecurityGroup``'s ``rules``: the fields of a ``SecurityGroupRule``
    without the group, place or ``adopt_existing`` (the rule belongs to the group it is
    listed in). Same defaults, validation and canonical form; a plain dict works the same.

    (Named the way generated Pulumi SDKs name a nested input, ``<Resource><Property>Args``,
    without singularising ``rules``: ``SecurityGroupRuleArgs`` is the rule resource's.)
    """

    @named_inputs("SecurityGroupRulesArgs", unknown_body_reason)
    def __init__(
        self,
        *,
        direction: pulumi.Input[Direction | str],
        ethertype: pulumi.Input[Ethertype | str] | None = None,
        protocol: pulumi.Input[Protocol | str] | None = None,
        port_range_min: pulumi.Input[int] | None = None,
        port_range_max: pulumi.Input[int] | None = None,
        remote_ip_prefix: pulumi.Input[str] | None = None,
        remote_group_id: pulumi.Input[str] | None = None,
        description: pulumi.Input[str] | None = None,
    ) -> None:
        self.direction = direction
        self.ethertype = ethertype
        self.protocol = protocol
        self.port_range_min = port_range_min
        self.port_range_max = port_range_max
        self.remote_ip_prefix = remote_ip_prefix
        self.remote_group_id = remote_group_id
        self.description = description

    def to_props(self) -> dict[str, Any]:
        """The rule as a dict of the fields given (enums as their values)."""
        props = {key: getattr(self, key) for key in BODY_KEYS}
        return {
            key: value.value if isinstance(value, Direction | Ethertype | Protocol) else value
            for key, value in props.items()
            if value is not None
        }


def rules_props(rules: object) -> Any:
    """``rules`` as the property bag carries it: each SecurityGroupRulesArgs as a dict
    (also inside an Output or awaitable); None (omitted) stays None."""

    def plain(items: Any) -> Any:
        if isinstance(items, list | tuple):
            return [plain_rule(item) for item in items]
        return items

    def plain_rule(item: Any) -> Any:
        if isinstance(item, SecurityGroupRulesArgs):
            return item.to_props()
        if isinstance(item, pulumi.Output):
            return item.apply(plain_rule)
        return item

    if rules is None or isinstance(rules, list | tuple):
        return plain(rules)
    return pulumi.Output.from_input(rules).apply(plain)


SecurityGroupRulesArgs.__doc__ = (
    f"{inspect.cleandoc(SecurityGroupRulesArgs.__doc__ or '')}\n\nFields:\n"
    + "\n".join(
        f"  {key}{' (required)' if key == 'direction' else ''}: {_RULE_INPUTS[key]}"
        for key in BODY_KEYS
    )
)


class SecurityGroupArgs:
    """Inputs of a ``SecurityGroup``, each a ``pulumi.Input``.

    ``name``, ``description``, ``tags`` and ``rules`` change in place; ``project_id`` and
    ``region_id`` make a new group; ``adopt_id`` takes an existing group over at create.
    """

    @named_inputs("SecurityGroupArgs", unknown_input_reason)
    def __init__(
        self,
        *,
        name: pulumi.Input[str],
        description: pulumi.Input[str] | None = None,
        tags: pulumi.Input[dict[str, pulumi.Input[str]]] | None = None,
        rules: pulumi.Input[Sequence[pulumi.Input[SecurityGroupRulesArgs | Mapping[str, Any]]]]
        | None = None,
        project_id: pulumi.Input[int] | None = None,
        region_id: pulumi.Input[int] | None = None,
        adopt_id: pulumi.Input[str] | None = None,
    ) -> None:
        # What each one means: _GROUP_INPUTS, shown by help(SecurityGroupArgs).
        self.name = name
        self.description = description
        self.tags = tags
        self.rules = rules
        self.project_id = project_id
        self.region_id = region_id
        self.adopt_id = adopt_id

    def to_props(self) -> dict[str, Any]:
        """The inputs as the dynamic resource's property bag."""
        props = {key: getattr(self, key) for key in GROUP_INPUT_KEYS}
        props[RULES_KEY] = rules_props(props[RULES_KEY])
        return props


class SecurityGroup(pulumi.dynamic.Resource, module="gcore", name="SecurityGroup"):
    """A Gcore security group (type ``pulumi-python:dynamic/gcore:SecurityGroup``).

    The resource id is the group's uuid, so ``SecurityGroupRule(group_id=group.id, ...)``
    makes Pulumi create the group before its rules and delete it after them. A new group has
    exactly the ``rules`` given, and without ``rules`` none at all: not even Gcore's default
    "allow all egress".
    """

    name: pulumi.Output[str]
    """The group's name."""
    description: pulumi.Output[str]
    """Description (``""`` when none)."""
    tags: pulumi.Output[dict[str, str]]
    """User tags (``{}`` when none; Gcore's read-only tags are not included)."""
    project_id: pulumi.Output[int]
    """Gcore project id used."""
    region_id: pulumi.Output[int]
    """Gcore region id used."""
    adopt_id: pulumi.Output[str | None]
    """The ``adopt_id`` input as given (None when the group was created here)."""
    rules: pulumi.Output[list[dict[str, Any]] | None]
    """With ``rules=...``: the group's rules as Gcore holds them, canonical, each with its
    ``id`` (a rule added by hand shows here after refresh). None when not managed."""
    region: pulumi.Output[str | None]
    """The region's name, as Gcore reports it."""
    revision_number: pulumi.Output[int]
    """Gcore's revision of the group; goes up whenever the group or its rules change."""
    created_at: pulumi.Output[str | None]
    """When Gcore created the group."""
    updated_at: pulumi.Output[str | None]
    """When Gcore last changed the group."""

    @overload
    def __init__(
        self,
        resource_name: str,
        args: SecurityGroupArgs,
        *,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self,
        resource_name: str,
        args: None = None,
        *,
        name: pulumi.Input[str],
        description: pulumi.Input[str] | None = None,
        tags: pulumi.Input[dict[str, pulumi.Input[str]]] | None = None,
        rules: pulumi.Input[Sequence[pulumi.Input[SecurityGroupRulesArgs | Mapping[str, Any]]]]
        | None = None,
        project_id: pulumi.Input[int] | None = None,
        region_id: pulumi.Input[int] | None = None,
        adopt_id: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None: ...

    @named_inputs("SecurityGroup", unknown_input_reason)
    def __init__(
        self,
        resource_name: str,
        args: SecurityGroupArgs | None = None,
        *,
        name: pulumi.Input[str] | None = None,
        description: pulumi.Input[str] | None = None,
        tags: pulumi.Input[dict[str, pulumi.Input[str]]] | None = None,
        rules: pulumi.Input[Sequence[pulumi.Input[SecurityGroupRulesArgs | Mapping[str, Any]]]]
        | None = None,
        project_id: pulumi.Input[int] | None = None,
        region_id: pulumi.Input[int] | None = None,
        adopt_id: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        keywords: dict[str, Any] = {
            "name": name,
            "description": description,
            "tags": tags,
            "rules": rules_props(rules),
            "project_id": project_id,
            "region_id": region_id,
            "adopt_id": adopt_id,
        }
        props = input_props("SecurityGroup", resource_name, args, keywords, ("name",))
        props.update(dict.fromkeys(GROUP_OUTPUT_ONLY_KEYS))
        super().__init__(SecurityGroupProvider(), resource_name, props, opts)

    @staticmethod
    def get(
        resource_name: str,
        id: pulumi.Input[str],
        project_id: pulumi.Input[int] | None = None,
        region_id: pulumi.Input[int] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> SecurityGroup:
        """An existing group, read by id and never changed or deleted by this stack.

        ``project_id``/``region_id`` default to ``gcore:projectId``/``gcore:regionId``.
        Use it to refer to a group made elsewhere, e.g. to add ``SecurityGroupRule``
        resources to it.
        """
        props: dict[str, Any] = dict.fromkeys((*GROUP_INPUT_KEYS, *GROUP_OUTPUT_ONLY_KEYS))
        props.update(project_id=project_id, region_id=region_id)
        merged = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(id=id))
        group = SecurityGroup.__new__(SecurityGroup)
        pulumi.dynamic.Resource.__init__(
            group, SecurityGroupProvider(), resource_name, props, merged
        )
        return group


document_inputs(
    SecurityGroup,
    SecurityGroupArgs,
    _GROUP_INPUTS,
    _GROUP_CALL,
    _GROUP_OUTPUTS,
    opts_keyword_only=True,
)
