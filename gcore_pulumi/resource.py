"""``SecurityGroupRule``: the resource a Pulumi program declares, and its typed args.

Thin on purpose: it only gathers inputs and declares outputs. Validation happens in the
provider's ``check`` (so the engine reports every problem with its input name), and the
HTTP work in the provider process.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import typing
from collections.abc import Callable, Mapping
from typing import Any, Final, ParamSpec, overload

import pulumi
import pulumi.dynamic

from .enums import Direction, Ethertype, Protocol
from .provider import SecurityGroupRuleProvider
from .schema import INPUT_KEYS, OUTPUT_ONLY_KEYS, unknown_input_reason

_P = ParamSpec("_P")


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


# --- what help() and a misspelt keyword show ----------------------------------------------
#
# Python's own messages name the SDK's parameters (``provider``, ``props``) or just say
# "unexpected keyword argument". Each resource and Args ``__init__`` is wrapped by
# ``named_inputs``: an unknown keyword gets the check-time reason (with its "did you mean"),
# and help() / inspect.signature show the real call, required inputs without a default.


def named_inputs(
    type_name: str, unknown_reason: Callable[[str], str]
) -> Callable[[Callable[_P, None]], Callable[_P, None]]:
    """Wrap an ``__init__`` whose inputs are keyword-only: an unknown keyword raises a
    ``TypeError`` saying ``unknown_reason(key)`` (the check-time reason, with its "did you
    mean"), and a required input left out (an Args class) one naming it."""

    def wrap(init: Callable[_P, None]) -> Callable[_P, None]:
        params = inspect.signature(init).parameters
        positional = [p for p in params.values() if p.kind is p.POSITIONAL_OR_KEYWORD]
        keyword_only = [p.name for p in params.values() if p.kind is p.KEYWORD_ONLY]
        not_inputs = {"resource_name", "args", "opts"} & set(params)

        @functools.wraps(init)
        def checked(*args: _P.args, **kwargs: _P.kwargs) -> None:
            unknown = [key for key in kwargs if key not in params]
            if unknown:
                # `opt=`, `arg=`: closest to a parameter that is not an input
                best = difflib.get_close_matches(unknown[0], list(params)[1:], n=1, cutoff=0.6)
                if best and best[0] in not_inputs:
                    raise TypeError(
                        f"{type_name} got an unexpected keyword argument {unknown[0]!r}; "
                        f"did you mean {best[0]!r}?"
                    )
                raise TypeError(unknown_reason(unknown[0]))
            if len(args) > len(positional):
                # Not "missing required input": the inputs were given, only not by keyword.
                taken = [p.name for p in positional[1:]]  # without self
                example = f"{keyword_only[0]}=...{', opts=...' if 'opts' in keyword_only else ''}"
                if not taken:
                    raise TypeError(
                        f"{type_name} takes its inputs by keyword only ({example}), "
                        f"not by position ({len(args) - 1} positional argument(s) given)"
                    )
                raise TypeError(
                    f"{type_name} takes at most {len(taken)} positional arguments "
                    f"({', '.join(taken)}), {len(args) - 1} given; give the rest by keyword "
                    f"({example})"
                )
            missing = [
                p.name
                for p in params.values()
                if p.kind is p.KEYWORD_ONLY and p.default is p.empty and p.name not in kwargs
            ]
            if missing:
                raise TypeError(f"{type_name}: missing required input {' and '.join(missing)}")
            init(*args, **kwargs)

        return checked

    return wrap


def document_inputs(
    resource: type,
    args: type,
    meanings: Mapping[str, str],
    call: str,
    outputs: str,
    *,
    opts_keyword_only: bool = False,
) -> None:
    """Make help() on ``resource`` and ``args`` show what they take: the class docstrings get
    the call forms, one line per input (``meanings``) and the outputs; the resource's
    ``__init__`` the real signature (not the SDK's ``provider, name, props``, and required
    inputs without a default) and a docstring of its own instead of the SDK's."""
    kinds = inspect.Parameter
    init: Any = vars(resource)["__init__"]
    args_init: Any = vars(args)["__init__"]
    inputs = [
        p for p in inspect.signature(args_init).parameters.values() if p.kind is p.KEYWORD_ONLY
    ]
    lines = "\n".join(
        f"  {p.name}{' (required)' if p.default is p.empty else ''}: {meanings[p.name]}"
        for p in inputs
    )
    section = f"Inputs:\n{lines}"
    resource.__doc__ = (
        f"{inspect.cleandoc(resource.__doc__ or '')}\n\n{call}\n\n{section}\n\n{outputs}"
    )
    args.__doc__ = f"{inspect.cleandoc(args.__doc__ or '')}\n\n{section}"
    opts = inspect.Parameter(
        "opts",
        kinds.KEYWORD_ONLY if opts_keyword_only else kinds.POSITIONAL_OR_KEYWORD,
        default=None,
        annotation="pulumi.ResourceOptions | None",
    )
    head = [
        inspect.Parameter("self", kinds.POSITIONAL_OR_KEYWORD),
        inspect.Parameter("resource_name", kinds.POSITIONAL_OR_KEYWORD, annotation="str"),
        inspect.Parameter(
            "args", kinds.POSITIONAL_OR_KEYWORD, default=None, annotation=f"{args.__name__} | None"
        ),
    ]
    params = [*head, *inputs, opts] if opts_keyword_only else [*head, opts, *inputs]
    init.__signature__ = inspect.Signature(params, return_annotation="None")
    init.__doc__ = (
        f"Declare a {resource.__name__} named resource_name (unique in the stack); "
        f"its inputs are listed in help({resource.__name__})."
    )
    args_init.__doc__ = f"The inputs of a {resource.__name__}, by keyword (listed above)."


_RULE_INPUTS: Final = {
    "group_id": "id (uuid) of the security group that gets the rule",
    "direction": "'ingress' (traffic to the group's instances) or 'egress' (from them); Direction",
    "ethertype": "'IPv4' or 'IPv6' (Ethertype); default: the family of remote_ip_prefix, else IPv4",
    "protocol": "'tcp', 'udp', 'icmp', 'ipv6-icmp', 'sctp'... (Protocol); default 'any' "
    "(every protocol)",
    "port_range_min": "first port, 1..65535 (tcp, udp, sctp, dccp, udplite), or the ICMP "
    "type 0..255 (icmp); default none: every port",
    "port_range_max": "last port (equal to port_range_min for one port), or the ICMP code "
    "0..255; default none",
    "remote_ip_prefix": "peer network in CIDR form (a bare address means /32 or /128); "
    "default none: any address",
    "remote_group_id": "peer security group (a version-4 uuid): allow its members' "
    "addresses; not with remote_ip_prefix",
    "description": 'free text shown in the Gcore console, at most 255 characters; default ""',
    "project_id": "Gcore project id; default gcore:projectId, else GCORE_CLOUD_PROJECT_ID",
    "region_id": "Gcore region id; default gcore:regionId, else GCORE_CLOUD_REGION_ID",
    "adopt_existing": "take over an identical existing rule instead of failing with a "
    "409 (changes nothing at Gcore); default False",
}
"""One line per rule input, for help(): what it means, its values and its default."""

_RULE_CALL: Final = """\
Declare it with the inputs as keywords, or as a SecurityGroupRuleArgs second argument (not
both); opts is a pulumi.ResourceOptions. Every input takes a pulumi.Input (a plain value or
another resource's output; enums or plain strings). A change to any input but
adopt_existing replaces the rule: Gcore cannot edit a rule in place."""

_RULE_OUTPUTS: Final = """\
Outputs: every input in canonical form, plus id (the rule's uuid, also the resource id),
revision_number (stays 0), security_group_id (the group id as Gcore reports it),
created_at and updated_at (Gcore's times)."""


class SecurityGroupRuleArgs:
    """Inputs of a ``SecurityGroupRule``, each a ``pulumi.Input``.

    Every input forces replacement when it changes (Gcore cannot edit a rule in place),
    except ``adopt_existing``.
    """

    @named_inputs("SecurityGroupRuleArgs", unknown_input_reason)
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
        # What each one means: _RULE_INPUTS, shown by help(SecurityGroupRuleArgs).
        self.group_id = group_id
        self.direction = direction
        self.ethertype = ethertype
        self.protocol = protocol
        self.port_range_min = port_range_min
        self.port_range_max = port_range_max
        self.remote_ip_prefix = remote_ip_prefix
        self.remote_group_id = remote_group_id
        self.description = description
        self.project_id = project_id
        self.region_id = region_id
        self.adopt_existing = adopt_existing

    def to_props(self) -> dict[str, Any]:
        """The inputs as the dynamic resource's property bag."""
        return {key: getattr(self, key) for key in INPUT_KEYS}


class SecurityGroupRule(pulumi.dynamic.Resource, module="gcore", name="SecurityGroupRule"):
    """One rule of a Gcore security group (type ``pulumi-python:dynamic/gcore:SecurityGroupRule``).

    The resource id is the rule's uuid.
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

    @overload
    def __init__(
        self,
        resource_name: str,
        args: SecurityGroupRuleArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self,
        resource_name: str,
        args: None = None,
        opts: pulumi.ResourceOptions | None = None,
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
    ) -> None: ...

    @named_inputs("SecurityGroupRule", unknown_input_reason)
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


document_inputs(SecurityGroupRule, SecurityGroupRuleArgs, _RULE_INPUTS, _RULE_CALL, _RULE_OUTPUTS)
