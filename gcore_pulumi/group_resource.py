"""``SecurityGroup``: a Gcore security group a program declares, and its typed args.

Thin on purpose, like ``SecurityGroupRule``: it gathers inputs and declares outputs; the
provider checks them and does the HTTP work. The group is created with no rules at all;
each rule is a ``SecurityGroupRule`` with ``group_id=group.id``.
"""

from __future__ import annotations

from typing import Any, Final, overload

import pulumi
import pulumi.dynamic

from .group_provider import SecurityGroupProvider
from .group_schema import GROUP_INPUT_KEYS, GROUP_OUTPUT_ONLY_KEYS, unknown_input_reason
from .resource import document_inputs, input_props, named_inputs

_GROUP_INPUTS: Final = {
    "name": "the group's name, 1..255 characters, not blank; instances attach groups by "
    "name, and Gcore does not require it to be unique; changes in place",
    "description": 'free text shown in the Gcore console, at most 255 characters; default ""; '
    "changes in place",
    "tags": 'user tags {"key": "value"}, keys and values 1..255 characters without spaces, '
    "tabs, newlines or '='; default {}; Gcore's own read-only tags are left alone; changes "
    "in place",
    "project_id": "Gcore project id; default gcore:projectId, else GCORE_CLOUD_PROJECT_ID; "
    "a change makes a new group",
    "region_id": "Gcore region id; default gcore:regionId, else GCORE_CLOUD_REGION_ID; "
    "a change makes a new group",
}
"""One line per group input, for help(): what it means, its values, default and changes."""

_GROUP_CALL: Final = """\
Declare it with the inputs as keywords, or as a SecurityGroupArgs second argument (not
both); opts (by keyword) is a pulumi.ResourceOptions. Every input takes a pulumi.Input (a
plain value or another resource's output). Rules are not inputs: declare each one as a
SecurityGroupRule with group_id=<this group>.id."""

_GROUP_OUTPUTS: Final = """\
Outputs: every input in canonical form, plus id (the group's uuid, also the resource id),
region (the region's name), revision_number (goes up whenever the group or its rules
change), created_at and updated_at (Gcore's times)."""


class SecurityGroupArgs:
    """Inputs of a ``SecurityGroup``, each a ``pulumi.Input``.

    ``name``, ``description`` and ``tags`` change in place; ``project_id`` and ``region_id``
    make a new group.
    """

    @named_inputs("SecurityGroupArgs", unknown_input_reason)
    def __init__(
        self,
        *,
        name: pulumi.Input[str],
        description: pulumi.Input[str] | None = None,
        tags: pulumi.Input[dict[str, pulumi.Input[str]]] | None = None,
        project_id: pulumi.Input[int] | None = None,
        region_id: pulumi.Input[int] | None = None,
    ) -> None:
        # What each one means: _GROUP_INPUTS, shown by help(SecurityGroupArgs).
        self.name = name
        self.description = description
        self.tags = tags
        self.project_id = project_id
        self.region_id = region_id

    def to_props(self) -> dict[str, Any]:
        """The inputs as the dynamic resource's property bag."""
        return {key: getattr(self, key) for key in GROUP_INPUT_KEYS}


class SecurityGroup(pulumi.dynamic.Resource, module="gcore", name="SecurityGroup"):
    """A Gcore security group (type ``pulumi-python:dynamic/gcore:SecurityGroup``).

    The resource id is the group's uuid, so ``SecurityGroupRule(group_id=group.id, ...)``
    makes Pulumi create the group before its rules and delete it after them. A new group has
    no rules at all: not even Gcore's default "allow all egress".
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
        project_id: pulumi.Input[int] | None = None,
        region_id: pulumi.Input[int] | None = None,
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
        project_id: pulumi.Input[int] | None = None,
        region_id: pulumi.Input[int] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        keywords: dict[str, Any] = {
            "name": name,
            "description": description,
            "tags": tags,
            "project_id": project_id,
            "region_id": region_id,
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
