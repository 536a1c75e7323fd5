"""``SecurityGroupRule``: the resource a Pulumi program declares, and its typed args.

Thin on purpose: it only gathers inputs and declares outputs. Validation happens in the
provider's ``check`` (so the engine reports every problem with its input name), and the
HTTP work in the provider process.
"""

from __future__ import annotations

import typing
from typing import Any

import pulumi
import pulumi.dynamic

from .enums import Direction, Ethertype, Protocol
from .provider import SecurityGroupRuleProvider
from .schema import INPUT_KEYS, OUTPUT_ONLY_KEYS


class _Args(typing.Protocol):
    def to_props(self) -> dict[str, Any]: ...


def input_props(
    type_name: str,
    resource_name: str,
    args: _Args | None,
    keywords: dict[str, Any],
    required: tuple[str, ...],
) -> dict[str, Any]:
    """A resource's inputs, given as ``<type_name>Args`` or as keywords (not both), with a
    ``TypeError`` naming any required input left out, as generated providers do."""
    if args is not None:
        given = sorted(key for key, value in keywords.items() if value is not None)
        if given:
            raise TypeError(
                f"{type_name} {resource_name!r}: pass inputs either as {type_name}Args or as "
                f"keywords, not both (keywords given: {given})"
            )
        props = args.to_props()
    else:
        props = dict(keywords)
    missing = [key for key in required if props[key] is None]
    if missing:
        raise TypeError(
            f"{type_name} {resource_name!r}: missing required input {' and '.join(missing)}"
        )
    return props


class SecurityGroupRuleArgs:
    """Inputs of a ``SecurityGroupRule``; every one accepts a ``pulumi.Input``.

    Every input forces replacement when it changes (Gcore cannot edit a rule in place),
    except ``adopt_existing``.
    """

    def __init__(
        self,
        *,
        group_id: pulumi.Input[str],
        direction: pulumi.Input[Direction | str],
        ethertype: pulumi.Input[Ethertype | str] | None = None,
        protocol: pulumi.Input[Protocol | str] | None = None,
        port_range_min: pulumi.Input[int] | None = None,
        port_range_max: pulumi.Input[int] | None = None,
        remote_ip_prefix: pulumi.Input[str] | None = None,
        remote_group_id: pulumi.Input[str] | None = None,
        description: pulumi.Input[str] | None = None,
        project_id: pulumi.Input[int] | None = None,
        region_id: pulumi.Input[int] | None = None,
        adopt_existing: pulumi.Input[bool] | None = None,
    ) -> None:
        self.group_id = group_id
        """Id (uuid) of the security group that gets the rule."""
        self.direction = direction
        """``ingress`` (traffic to the instance) or ``egress`` (traffic from it)."""
        self.ethertype = ethertype
        """``IPv4`` or ``IPv6``; omitted: the family of ``remote_ip_prefix``, else IPv4."""
        self.protocol = protocol
        """IP protocol (``tcp``, ``udp``, ``icmp``...); omitted: ``any`` (all protocols)."""
        self.port_range_min = port_range_min
        """First port (tcp/udp/sctp/dccp/udplite, 1..65535), or the ICMP type (0..255)."""
        self.port_range_max = port_range_max
        """Last port (equal to ``port_range_min`` for one port), or the ICMP code (0..255)."""
        self.remote_ip_prefix = remote_ip_prefix
        """Peer network in CIDR form (a bare address means /32 or /128); omitted: any."""
        self.remote_group_id = remote_group_id
        """Peer security group (its members' addresses); excludes ``remote_ip_prefix``."""
        self.description = description
        """Free text shown in the Gcore console (255 characters at most); default ``""``."""
        self.project_id = project_id
        """Gcore project id; omitted: ``gcore:projectId`` / ``GCORE_CLOUD_PROJECT_ID``."""
        self.region_id = region_id
        """Gcore region id; omitted: ``gcore:regionId`` / ``GCORE_CLOUD_REGION_ID``."""
        self.adopt_existing = adopt_existing
        """Take over an identical existing rule instead of failing with a conflict
        (the way to bring existing rules under management; ``destroy`` then deletes it)."""

    def to_props(self) -> dict[str, Any]:
        """The inputs as the dynamic resource's property bag."""
        return {key: getattr(self, key) for key in INPUT_KEYS}


class SecurityGroupRule(pulumi.dynamic.Resource, module="gcore", name="SecurityGroupRule"):
    """One rule of a Gcore security group (type ``pulumi-python:dynamic/gcore:SecurityGroupRule``).

    The resource id is the rule's uuid. Give the inputs by keyword, or as a
    ``SecurityGroupRuleArgs`` second argument.
    """

    group_id: pulumi.Output[str]
    """Id of the security group holding the rule."""
    direction: pulumi.Output[str]
    """``ingress`` or ``egress``."""
    ethertype: pulumi.Output[str]
    """``IPv4`` or ``IPv6``."""
    protocol: pulumi.Output[str]
    """Protocol, ``any`` for all."""
    port_range_min: pulumi.Output[int | None]
    """First port or ICMP type."""
    port_range_max: pulumi.Output[int | None]
    """Last port or ICMP code."""
    remote_ip_prefix: pulumi.Output[str | None]
    """Peer network, canonical CIDR."""
    remote_group_id: pulumi.Output[str | None]
    """Peer security group."""
    description: pulumi.Output[str]
    """Description (``""`` when none)."""
    project_id: pulumi.Output[int]
    """Gcore project id used."""
    region_id: pulumi.Output[int]
    """Gcore region id used."""
    adopt_existing: pulumi.Output[bool]
    """Whether an identical existing rule may be taken over."""
    revision_number: pulumi.Output[int]
    """Gcore's revision of the rule (stays 0: rules are never edited in place)."""
    security_group_id: pulumi.Output[str]
    """The group id as Gcore reports it."""
    created_at: pulumi.Output[str]
    """When Gcore created the rule, e.g. ``2019-06-18T11:56:16+0000``."""
    updated_at: pulumi.Output[str | None]
    """When Gcore last changed the rule."""

    def __init__(
        self,
        resource_name: str,
        args: SecurityGroupRuleArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
        *,
        group_id: pulumi.Input[str] | None = None,
        direction: pulumi.Input[Direction | str] | None = None,
        ethertype: pulumi.Input[Ethertype | str] | None = None,
        protocol: pulumi.Input[Protocol | str] | None = None,
        port_range_min: pulumi.Input[int] | None = None,
        port_range_max: pulumi.Input[int] | None = None,
        remote_ip_prefix: pulumi.Input[str] | None = None,
        remote_group_id: pulumi.Input[str] | None = None,
        description: pulumi.Input[str] | None = None,
        project_id: pulumi.Input[int] | None = None,
        region_id: pulumi.Input[int] | None = None,
        adopt_existing: pulumi.Input[bool] | None = None,
    ) -> None:
        if isinstance(args, pulumi.ResourceOptions) and opts is None:
            args, opts = None, args
        keywords = {
            "group_id": group_id,
            "direction": direction,
            "ethertype": ethertype,
            "protocol": protocol,
            "port_range_min": port_range_min,
            "port_range_max": port_range_max,
            "remote_ip_prefix": remote_ip_prefix,
            "remote_group_id": remote_group_id,
            "description": description,
            "project_id": project_id,
            "region_id": region_id,
            "adopt_existing": adopt_existing,
        }
        props = input_props(
            "SecurityGroupRule", resource_name, args, keywords, ("group_id", "direction")
        )
        props.update(dict.fromkeys(OUTPUT_ONLY_KEYS))
        super().__init__(SecurityGroupRuleProvider(), resource_name, props, opts)

    @staticmethod
    def get(
        resource_name: str,
        id: pulumi.Input[str],
        group_id: pulumi.Input[str],
        project_id: pulumi.Input[int] | None = None,
        region_id: pulumi.Input[int] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> SecurityGroupRule:
        """An existing rule of group ``group_id``, read by id and never changed or deleted
        by this stack (Gcore has no single-rule read: the rule is found in its group).

        ``project_id``/``region_id`` default to ``gcore:projectId``/``gcore:regionId``.
        """
        props: dict[str, Any] = dict.fromkeys((*INPUT_KEYS, *OUTPUT_ONLY_KEYS))
        props.update(group_id=group_id, project_id=project_id, region_id=region_id)
        merged = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(id=id))
        rule = SecurityGroupRule.__new__(SecurityGroupRule)
        pulumi.dynamic.Resource.__init__(
            rule, SecurityGroupRuleProvider(), resource_name, props, merged
        )
        return rule
