"""Typed shapes at the provider's two boundaries: the engine's props and the API's JSON.

``RuleSpec`` is a rule as this provider stores it (canonical inputs, after ``check``);
``ApiRule`` and ``ApiGroup`` are what Gcore answers. Converting between them lives here,
so the provider's methods stay one line of parsing plus one client call.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .rule_set import live_rules_output, rules_differ, rules_request_body
from .schema import (
    ANY_PREFIXES,
    BODY_KEYS,
    INPUT_KEYS,
    canonical_prefix,
    canonical_protocol,
    canonical_state,
    prefix_family,
    same_port_range,
)

PORT_KEYS = ("port_range_min", "port_range_max")

ProtocolName = Literal[
    "ah", "any", "dccp", "egp", "esp", "gre", "icmp", "igmp", "ipencap", "ipip",
    "ipv6-encap", "ipv6-frag", "ipv6-icmp", "ipv6-nonxt", "ipv6-opts", "ipv6-route",
    "ospf", "pgm", "rsvp", "sctp", "tcp", "udp", "udplite", "vrrp",
]  # fmt: skip


class RuleSpec(BaseModel):
    """A rule's canonical inputs, as ``check`` returns them and the state stores them."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    group_id: str
    """The security group the rule belongs to."""
    direction: Literal["ingress", "egress"]
    """Traffic direction the rule matches."""
    ethertype: Literal["IPv4", "IPv6"] = "IPv4"
    """IP family."""
    protocol: ProtocolName = "any"
    """IP protocol; ``any`` for all."""
    port_range_min: int | None = Field(default=None, ge=0, le=65535)
    """First port, or the ICMP type."""
    port_range_max: int | None = Field(default=None, ge=0, le=65535)
    """Last port, or the ICMP code."""
    remote_ip_prefix: str | None = None
    """Source (ingress) or destination (egress) network, canonical CIDR."""
    remote_group_id: str | None = None
    """Another security group whose members the rule matches."""
    description: str = ""
    """Free text shown in the Gcore console."""
    project_id: int = Field(gt=0)
    """Gcore project id."""
    region_id: int = Field(gt=0)
    """Gcore region id."""
    adopt_existing: bool = False
    """Take over an identical existing rule instead of failing with a conflict."""

    @classmethod
    def from_props(cls, props: dict[str, Any]) -> RuleSpec:
        """Parse engine props (canonical inputs or old outputs; numbers may be floats)."""
        return cls.model_validate(canonical_state(props))

    def request_body(self) -> dict[str, Any]:
        """The v1 POST body: only the rule's own fields, nulls left out."""
        return self.model_dump(include=set(BODY_KEYS), exclude_none=True)

    def request_body_v2(self) -> dict[str, Any]:
        """The v2 POST body: as v1, but v2 has no ``any`` protocol (null means all)."""
        body = self.request_body()
        if body.get("protocol") == "any":
            body["protocol"] = None
        return body

    def provisional_rule(self, rule_id: str) -> ApiRule:
        """The rule this spec describes, as Gcore would show it, for a rule just made whose
        group could not be read: the state records it; the next refresh reads the rest."""
        return ApiRule(
            id=rule_id,
            security_group_id=self.group_id,
            **{k: v for k, v in self.request_body_v2().items() if k != "description"},
            description=self.description,
        )

    def as_props(self) -> dict[str, Any]:
        """The inputs as the engine should store them."""
        return {key: getattr(self, key) for key in INPUT_KEYS}


class ApiRule(BaseModel):
    """A rule object as the v1 API returns it (every key present, many nullable)."""

    model_config = ConfigDict(extra="ignore")

    id: str
    security_group_id: str | None = None
    """Always sent by Gcore; filled from the group when a response leaves it out."""
    direction: Literal["ingress", "egress"]
    ethertype: Literal["IPv4", "IPv6"] | None = None
    protocol: str | None = None
    port_range_min: int | None = None
    port_range_max: int | None = None
    remote_ip_prefix: str | None = None
    remote_group_id: str | None = None
    description: str | None = None
    revision_number: int | None = 0
    created_at: str | None = None
    updated_at: str | None = None

    @field_validator("id", "security_group_id", "remote_group_id")
    @classmethod
    def _lowercase_ids(cls, value: str | None) -> str | None:
        return value.lower() if value else value

    def as_rule(self) -> dict[str, Any]:
        """This rule in the shape ``duplicate_key`` compares (``group_id`` as in inputs)."""
        return {"group_id": self.security_group_id, **self.model_dump(include=set(BODY_KEYS))}

    def to_outputs(self, spec: RuleSpec) -> dict[str, Any]:
        """The resource's outputs: the live rule in canonical form, plus API-only values.

        ``spec`` supplies what the API does not echo (project, region, adopt_existing) and
        breaks ties where two spellings mean the same rule (``0.0.0.0/0`` vs null; a port
        protocol's 1..65535 vs no ports, which Gcore stores as null/null), so a refresh right
        after create shows no change.
        """
        prefix = self.remote_ip_prefix
        if prefix is not None:
            prefix = str(canonical_prefix(prefix))
        ethertype = self.ethertype or (prefix_family(prefix) if prefix else spec.ethertype)
        if prefix is None and spec.remote_ip_prefix in ANY_PREFIXES:
            prefix = spec.remote_ip_prefix
        elif prefix in ANY_PREFIXES and spec.remote_ip_prefix is None:
            prefix = None
        protocol = canonical_protocol(self.protocol or "any", ethertype)
        ports = (self.port_range_min, self.port_range_max)
        if protocol == spec.protocol and same_port_range(
            {"protocol": protocol, "port_range_min": ports[0], "port_range_max": ports[1]},
            {"protocol": spec.protocol, **spec.model_dump(include={*PORT_KEYS})},
        ):
            ports = (spec.port_range_min, spec.port_range_max)  # 1..65535 as written
        outputs = {
            "group_id": self.security_group_id or spec.group_id,
            "direction": self.direction,
            "ethertype": ethertype,
            "protocol": protocol,
            "port_range_min": ports[0],
            "port_range_max": ports[1],
            "remote_ip_prefix": prefix,
            "remote_group_id": self.remote_group_id,
            "description": self.description or "",
            "project_id": spec.project_id,
            "region_id": spec.region_id,
            "adopt_existing": spec.adopt_existing,
            "revision_number": self.revision_number or 0,
            "security_group_id": self.security_group_id or spec.group_id,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }
        return outputs


class ApiGroup(BaseModel):
    """The parent group, the only place the API shows a rule after it is created."""

    model_config = ConfigDict(extra="ignore")

    id: str
    security_group_rules: list[ApiRule]
    """Required: a group answer without its rules must not read as "every rule is gone"."""
    name: str | None = None
    description: str | None = None
    """A string in Gcore's SDK; null accepted too."""
    project_id: int | None = None
    region_id: int | None = None
    region: str | None = None
    """The region's name."""
    revision_number: int | None = None
    """Goes up whenever the group or its rules change."""
    created_at: str | None = None
    updated_at: str | None = None
    tags_v2: list[ApiTag] = Field(default_factory=list)
    """Every tag, read-only ones (set by Gcore) included."""

    @field_validator("id")
    @classmethod
    def _lowercase_id(cls, value: str) -> str:
        return value.lower()

    @field_validator("tags_v2", mode="before")
    @classmethod
    def _no_tags(cls, value: object) -> object:
        return [] if value is None else value

    @classmethod
    def provisional(cls, group_id: str, spec: GroupSpec) -> ApiGroup:
        """What a group this provider just made must look like, when reading it failed:
        the state then records it (no orphan), and the next refresh reads the rest."""
        rules = [  # as asked for, without ids (unknown): refresh reads them
            ApiRule(id="", security_group_id=group_id, **item)
            for item in rules_request_body(spec.rules or [])
        ]
        return cls(
            id=group_id,
            security_group_rules=rules,
            name=spec.name,
            description=spec.description,
            project_id=spec.project_id,
            region_id=spec.region_id,
            tags_v2=[ApiTag(key=k, value=v, read_only=False) for k, v in spec.tags.items()],
        )

    @model_validator(mode="after")
    def _rules_know_their_group(self) -> ApiGroup:
        for rule in self.security_group_rules:
            if rule.security_group_id is None:
                rule.security_group_id = self.id.lower()
        return self

    def find(self, rule_id: str) -> ApiRule | None:
        """The rule with this id, if the group still has it."""
        wanted = rule_id.lower()
        return next((rule for rule in self.security_group_rules if rule.id == wanted), None)


# --- security groups and tasks (issue 9) ------------------------------------------------


class ApiTag(BaseModel):
    """One of a group's tags as Gcore returns them (``tags_v2``)."""

    model_config = ConfigDict(extra="ignore")

    key: str
    value: str
    read_only: bool = False
    """Set by Gcore itself; a program neither declares nor removes these."""


def user_tags(tags: list[ApiTag]) -> dict[str, str]:
    """The tags a program may declare: every tag that is not read-only."""
    return {tag.key: tag.value for tag in tags if not tag.read_only}


class ApiTaskIds(BaseModel):
    """The answer of an asynchronous (v2) write: the tasks to wait for."""

    model_config = ConfigDict(extra="ignore")

    tasks: list[str]
    """Task ids; empty when nothing needed doing (a PATCH that changed nothing)."""


class ApiCreatedResources(BaseModel):
    """What a finished task made (only the kinds this provider uses)."""

    model_config = ConfigDict(extra="ignore")

    security_groups: list[str] | None = None
    security_group_rules: list[str] | None = None


class ApiTask(BaseModel):
    """A task as ``GET /cloud/v1/tasks/{id}`` returns it."""

    model_config = ConfigDict(extra="ignore")

    id: str
    state: Literal["NEW", "RUNNING", "FINISHED", "ERROR"]
    task_type: str | None = None
    created_on: str | None = None
    error: str | None = None
    """Gcore's reason when the task ended in ERROR."""
    created_resources: ApiCreatedResources | None = None
    """Ids of what the task made; null when it failed."""
    project_id: int | None = None
    region_id: int | None = None


class ApiTaskPage(BaseModel):
    """One page of ``GET /cloud/v1/tasks``."""

    model_config = ConfigDict(extra="ignore")

    count: int = 0
    results: list[ApiTask]


class ApiGroupSummary(BaseModel):
    """A group as listed by ``GET /cloud/v1/securitygroups/{p}/{r}`` (rules not needed)."""

    model_config = ConfigDict(extra="ignore")

    id: str
    name: str | None = None
    description: str | None = None
    tags_v2: list[ApiTag] = Field(default_factory=list)
    security_group_rules: list[ApiRule] | None = None
    """Gcore lists each group with its rules; None if an answer leaves them out."""

    @field_validator("id")
    @classmethod
    def _lowercase_id(cls, value: str) -> str:
        return value.lower()


class ApiGroupPage(BaseModel):
    """One page of the group list."""

    model_config = ConfigDict(extra="ignore")

    count: int = 0
    results: list[ApiGroupSummary]


class ApiGroupListPage(BaseModel):
    """One page of the group list, each group whole (rules included)."""

    model_config = ConfigDict(extra="ignore")

    count: int = 0
    results: list[ApiGroup]


class GroupSpec(BaseModel):
    """A group's canonical inputs, as ``check`` returns them and the state stores them."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str = Field(min_length=1)
    """The group's name."""
    description: str = ""
    """Free text; "" when none."""
    tags: dict[str, str] = Field(default_factory=dict)
    """User tags (read-only tags are Gcore's, never declared)."""
    project_id: int = Field(gt=0)
    """Gcore project id."""
    region_id: int = Field(gt=0)
    """Gcore region id."""
    rules: list[dict[str, Any]] | None = None
    """The group's complete rule set (canonical rules), or None: its rules are not managed."""
    adopt_id: str | None = None
    """An existing group to take over instead of creating one."""

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> GroupSpec:
        """Parse inputs in canonical form (``group_schema.canonical_group_state``)."""
        return cls.model_validate(state)

    def create_body(self) -> dict[str, Any]:
        """The v2 create body. ``rules`` is ALWAYS sent: the declared set, else empty.
        Omitted, Gcore would apply its default template and open all ingress."""
        body: dict[str, Any] = {"name": self.name}
        if self.description:
            body["description"] = self.description
        if self.tags:
            body["tags"] = dict(self.tags)
        body["rules"] = [] if self.rules is None else rules_request_body(self.rules)
        return body

    def matches(self, group: ApiGroupSummary) -> bool:
        """True when ``group`` is what this spec would create (name, description, tags;
        and the rule set when given, if the list answer shows the group's rules)."""
        return (
            group.name == self.name
            and (group.description or "") == self.description
            and user_tags(group.tags_v2) == self.tags
            and self.rules_match(group.security_group_rules)
        )

    def rules_match(self, rules: list[ApiRule] | None) -> bool:
        """True when ``rules`` (a group's, as Gcore lists them) are this spec's set, or
        when either is not known (rules not managed, or not in the answer)."""
        if self.rules is None or rules is None:
            return True
        live = live_rules_output([rule.model_dump() for rule in rules])
        return not rules_differ(live, self.rules)


def group_outputs(group: ApiGroup, project_id: int, region_id: int) -> dict[str, Any]:
    """A ``SecurityGroup``'s outputs: the live group in canonical form (description ""
    when none, user tags only) plus the values only Gcore knows."""
    return {
        "name": group.name or "",
        "description": group.description or "",
        "tags": user_tags(group.tags_v2),
        "project_id": group.project_id or project_id,
        "region_id": group.region_id or region_id,
        "region": group.region,
        "revision_number": group.revision_number or 0,
        "created_at": group.created_at,
        "updated_at": group.updated_at,
    }


ApiGroup.model_rebuild()  # its tags_v2 refers to ApiTag, defined above
