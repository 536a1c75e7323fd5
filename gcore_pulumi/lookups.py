"""Look up an existing security group from a Pulumi program, without managing it.

These run in the PROGRAM process (not the provider process), during preview too, like a
Terraform data source. Settings come from the stack config (``gcore:apiKey``,
``gcore:projectId``...) and then the ``GCORE_*`` environment variables, as for the provider.

    web = get_security_group(name="web")                   # plain values, now
    web = get_security_group_output(name=config.require("group"))   # inputs may be Outputs
    prod = get_security_groups(tag_key_value={"env": "prod"})    # every match, a list
    SecurityGroupRule("ssh", group_id=web.id, ...)
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pulumi

from .errors import ConfigurationError, GcoreError
from .place import Defaults, require_place
from .schema import parse_positive_id, parse_uuid
from .settings import Settings, misspelt_settings

if TYPE_CHECKING:
    from .models import ApiGroup


@dataclass(frozen=True)
class GetSecurityGroupRuleResult:
    """One rule of a looked-up group, as Gcore reports it."""

    id: str
    """The rule's uuid."""
    direction: str
    """``ingress`` or ``egress``."""
    ethertype: str | None
    """``IPv4`` or ``IPv6``."""
    protocol: str
    """Protocol; ``any`` for all."""
    port_range_min: int | None
    """First port, or the ICMP type."""
    port_range_max: int | None
    """Last port, or the ICMP code."""
    remote_ip_prefix: str | None
    """Peer network (CIDR), if any."""
    remote_group_id: str | None
    """Peer security group, if any."""
    description: str
    """Description (``""`` when none)."""


@dataclass(frozen=True)
class GetSecurityGroupResult:
    """A looked-up security group. Export its fields (``result.id``...), not the object."""

    id: str
    """The group's uuid: pass it as ``group_id`` to ``SecurityGroupRule``."""
    name: str
    """The group's name."""
    description: str
    """Description (``""`` when none)."""
    tags: dict[str, str]
    """User tags (read-only tags Gcore sets are left out)."""
    region: str | None
    """The region's name."""
    revision_number: int
    """Gcore's revision of the group."""
    project_id: int
    """The project the group is in."""
    region_id: int
    """The region the group is in."""
    rules: tuple[GetSecurityGroupRuleResult, ...] = field(default_factory=tuple)
    """The group's rules now, whoever made them."""
    created_at: str | None = None
    """When Gcore created the group."""
    updated_at: str | None = None
    """When Gcore last changed the group."""


class SecurityGroupLookupError(GcoreError):
    """No group, or more than one, matches a lookup."""


def get_security_group(
    name: str | None = None,
    id: str | None = None,
    project_id: int | None = None,
    region_id: int | None = None,
) -> GetSecurityGroupResult:
    """The group with this ``id``, or the only group named ``name`` (exactly one of the two).

    ``project_id``/``region_id`` default to ``gcore:projectId``/``gcore:regionId`` (or
    ``GCORE_CLOUD_PROJECT_ID``/``GCORE_CLOUD_REGION_ID``). Raises
    ``SecurityGroupLookupError`` when no group, or more than one, matches.
    """
    if (name is None) == (id is None):
        raise TypeError("get_security_group: pass name=... or id=..., exactly one of them")
    settings = _settings()
    project, region = _place(settings, project_id, region_id)
    where = f"in project {project}, region {region}"

    from .client import GcoreClient

    client = GcoreClient(settings)
    try:
        if id is not None:
            group_id = parse_uuid(id, "id (the group's uuid)")
        else:
            assert name is not None
            found = client.list_groups(project, region, name)
            if len(found) != 1:
                ids = f": {', '.join(sorted(g.id for g in found))}" if found else ""
                advice = "look it up by id" if found else "check the name (it must match exactly)"
                raise SecurityGroupLookupError(
                    f"{len(found)} security groups named {name!r} {where}{ids}; {advice}"
                )
            group_id = found[0].id
        group = client.get_group(project, region, group_id)
    finally:
        client.close()
    if group is None:
        raise SecurityGroupLookupError(f"no security group {group_id} {where}")
    return _result(group, project, region)


def get_security_group_output(
    name: pulumi.Input[str | None] = None,
    id: pulumi.Input[str | None] = None,
    project_id: pulumi.Input[int | None] = None,
    region_id: pulumi.Input[int | None] = None,
) -> pulumi.Output[GetSecurityGroupResult]:
    """``get_security_group`` for inputs that may be Outputs; the result is an Output, so
    ``get_security_group_output(name=...).id`` is an ``Output[str]``. While an input is
    unknown (preview) the lookup waits, and the result is unknown."""

    def look_up(args: dict[str, Any]) -> Any:
        call = functools.partial(get_security_group, **args)
        # The HTTP calls run in a worker thread, not on the program's event loop; the
        # context (which holds the stack config) goes with them.
        context = contextvars.copy_context()
        return asyncio.get_running_loop().run_in_executor(None, context.run, call)

    inputs = pulumi.Output.all(name=name, id=id, project_id=project_id, region_id=region_id)
    return inputs.apply(look_up)


def get_security_groups(
    name: str | None = None,
    tag_keys: Sequence[str] | None = None,
    tag_key_value: Mapping[str, str] | None = None,
    project_id: int | None = None,
    region_id: int | None = None,
) -> list[GetSecurityGroupResult]:
    """Every group matching all the filters given (none: every group), each as
    ``get_security_group`` returns it, sorted by name then id; an empty list when none.

    ``name`` matches the full name exactly; ``tag_keys`` are keys the group must ALL have;
    ``tag_key_value`` pairs it must all have (read-only tags Gcore sets count too).
    ``project_id``/``region_id`` default as for ``get_security_group``. Every page of
    Gcore's list is read.
    """
    keys = _tag_keys(tag_keys)
    pairs = _tag_pairs(tag_key_value)
    settings = _settings()
    project, region = _place(settings, project_id, region_id)

    from .client import GcoreClient

    client = GcoreClient(settings)
    try:
        found = client.find_groups(project, region, name, keys, pairs)
    finally:
        client.close()
    results = [_result(group, project, region) for group in found]
    return sorted(results, key=lambda result: (result.name, result.id))


def get_security_groups_output(
    name: pulumi.Input[str | None] = None,
    tag_keys: pulumi.Input[Sequence[pulumi.Input[str]] | None] = None,
    tag_key_value: pulumi.Input[Mapping[str, pulumi.Input[str]] | None] = None,
    project_id: pulumi.Input[int | None] = None,
    region_id: pulumi.Input[int | None] = None,
) -> pulumi.Output[list[GetSecurityGroupResult]]:
    """``get_security_groups`` for inputs that may be Outputs; the result is an Output of
    the list. While an input is unknown (preview) the lookup waits, and the result is
    unknown."""

    def look_up(args: dict[str, Any]) -> Any:
        call = functools.partial(get_security_groups, **args)
        context = contextvars.copy_context()
        return asyncio.get_running_loop().run_in_executor(None, context.run, call)

    inputs = pulumi.Output.all(
        name=name,
        tag_keys=tag_keys,
        tag_key_value=tag_key_value,
        project_id=project_id,
        region_id=region_id,
    )
    return inputs.apply(look_up)


def _tag_keys(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise TypeError('get_security_groups: tag_keys must be a list of tag keys, e.g. ["env"]')
    if not all(isinstance(key, str) and key for key in value):
        raise TypeError("get_security_groups: every tag key in tag_keys must be non-empty text")
    return list(value)


def _tag_pairs(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise TypeError(
            "get_security_groups: tag_key_value must be a map of tag keys to text values, "
            'e.g. {"env": "prod"}'
        )
    return dict(value)


def _settings() -> Settings:
    """The program's ``gcore:*`` settings; a misspelt key is refused before anything is sent."""
    misspelt = misspelt_settings(_stack_config_keys())
    if misspelt:
        raise ConfigurationError("; ".join(map(str, misspelt)), key=misspelt[0].key)
    return Settings.load(_stack_config)


def _place(settings: Settings, project_id: int | None, region_id: int | None) -> tuple[int, int]:
    """The project and region given, else the configured ones (one fallback, place.py)."""
    given = {"project_id": project_id, "region_id": region_id}
    place = require_place(
        {key: parse_positive_id(value, key) for key, value in given.items() if value is not None},
        Defaults(settings.project_id, settings.region_id),
    )
    return int(place["project_id"]), int(place["region_id"])


def _stack_config(key: str) -> Any:
    """A ``gcore:*`` value from the program's stack config (secrets included, unwrapped)."""
    return pulumi.runtime.get_config(key)


def _stack_config_keys() -> list[str]:
    """Every key of the program's stack config, as the Pulumi SDK holds it."""
    from pulumi.runtime.config import CONFIG, get_config_env

    return [*CONFIG.get(), *get_config_env()]


def _result(group: ApiGroup, project_id: int, region_id: int) -> GetSecurityGroupResult:
    from .models import group_outputs

    outputs = group_outputs(group, project_id, region_id)
    rules = tuple(
        GetSecurityGroupRuleResult(
            id=rule.id,
            direction=rule.direction,
            ethertype=rule.ethertype,
            protocol=rule.protocol or "any",
            port_range_min=rule.port_range_min,
            port_range_max=rule.port_range_max,
            remote_ip_prefix=rule.remote_ip_prefix,
            remote_group_id=rule.remote_group_id,
            description=rule.description or "",
        )
        for rule in group.security_group_rules
    )
    return GetSecurityGroupResult(
        id=group.id,
        name=outputs["name"],
        description=outputs["description"],
        tags=outputs["tags"],
        region=outputs["region"],
        revision_number=outputs["revision_number"],
        project_id=outputs["project_id"],
        region_id=outputs["region_id"],
        rules=rules,
        created_at=outputs["created_at"],
        updated_at=outputs["updated_at"],
    )
