"""Checks of the group and task request bodies and query strings, as pure functions.

Rule bodies are :mod:`gcore_pulumi.testing.neutron`'s; this module covers what the v2 group
endpoints and the list endpoints accept. Every problem raises
:class:`~gcore_pulumi.testing.neutron.RuleValidationError` (a 400 ``ValidationError`` with
``invalid_fields``), every bad field reported at once. Where Gcore's documents are silent the
choice made is stated in the docstring.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from gcore_pulumi.testing.neutron import RuleSpec, RuleValidationError, validate_rule_body

__all__ = [
    "LIST_LIMIT_DEFAULT",
    "LIST_LIMIT_MAX",
    "NAME_MAX_LENGTH",
    "TAG_MAX_LENGTH",
    "TASK_STATES",
    "GroupCreate",
    "GroupPatch",
    "GroupQuery",
    "TaskQuery",
    "check_tag_text",
    "parse_group_query",
    "parse_task_query",
    "validate_group_create",
    "validate_group_patch",
]

#: Default ``limit`` of the list endpoints.
LIST_LIMIT_DEFAULT = 10
#: Largest ``limit`` the list endpoints accept.
LIST_LIMIT_MAX = 1000
#: Longest group name or description accepted (undocumented; the rule description's limit).
NAME_MAX_LENGTH = 255
#: Longest tag key or value.
TAG_MAX_LENGTH = 255
#: Task states, in lifecycle order.
TASK_STATES: tuple[str, ...] = ("NEW", "RUNNING", "FINISHED", "ERROR")

_TAG_FORBIDDEN = re.compile(r"[\s=]")
_DIGITS = re.compile(r"[0-9]+")


class _Errors:
    """Collects field errors; :meth:`raise_if_any` turns them into one 400."""

    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, name: str, message: str) -> None:
        self.fields.setdefault(name, []).append(message)

    def raise_if_any(self) -> None:
        if self.fields:
            summary = "; ".join(f"{k}: {' '.join(v)}" for k, v in sorted(self.fields.items()))
            raise RuleValidationError(f"Validation error: {summary}", self.fields)


def check_tag_text(text: object) -> str | None:
    """Why ``text`` is not a valid tag key or value (None when it is): a string of 1..255
    characters without spaces, tabs, newlines or ``=``."""
    if not isinstance(text, str):
        return "Not a valid string."
    if not 1 <= len(text) <= TAG_MAX_LENGTH:
        return f"Length must be between 1 and {TAG_MAX_LENGTH}."
    if _TAG_FORBIDDEN.search(text):
        return "Must not contain spaces, tabs, newlines or '='."
    return None


def _tags(value: object, errors: _Errors, *, patch: bool) -> dict[str, str | None]:
    """A tags map; with ``patch`` a value may be null (remove that key)."""
    if not isinstance(value, Mapping):
        errors.add("tags", "Not a valid mapping type.")
        return {}
    tags: dict[str, str | None] = {}
    for key, tag_value in value.items():
        problem = check_tag_text(key)
        if problem is not None:
            errors.add("tags", f"Invalid tag key: {problem}")
            continue
        if tag_value is None and patch:
            tags[key] = None
            continue
        problem = "Field may not be null." if tag_value is None else check_tag_text(tag_value)
        if problem is not None:
            errors.add(f"tags.{key}", f"Invalid tag value: {problem}")
            continue
        tags[key] = tag_value
    return tags


def _text(body: Mapping[str, Any], name: str, errors: _Errors, *, required: bool) -> str | None:
    if name not in body:
        if required:
            errors.add(name, "Missing data for required field.")
        return None
    value = body[name]
    if value is None:
        errors.add(name, "Field may not be null.")
    elif not isinstance(value, str):
        errors.add(name, "Not a valid string.")
    elif name == "name" and not value.strip():
        errors.add(name, "Must not be empty.")
    elif len(value) > NAME_MAX_LENGTH:
        errors.add(name, f"Longer than maximum length {NAME_MAX_LENGTH}.")
    else:
        return value
    return None


def _rules(value: object, errors: _Errors) -> list[RuleSpec]:
    """A list of v2 rule bodies; problems are reported as ``rules.<index>.<field>``."""
    if not isinstance(value, list):
        errors.add("rules", "Not a valid list.")
        return []
    specs: list[RuleSpec] = []
    for index, item in enumerate(value):
        try:
            spec, _ = validate_rule_body(item, v2=True)
        except RuleValidationError as err:
            for name, messages in err.invalid_fields.items():
                for message in messages:
                    errors.add(f"rules.{index}.{name}", message)
            continue
        specs.append(spec)
    return specs


def _body(body: object) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        message = "Invalid input type: a JSON object is expected."
        raise RuleValidationError(message, {"_schema": [message]})
    return body


@dataclass(frozen=True)
class GroupCreate:
    """A checked v2 group create body."""

    #: The group's name.
    name: str
    #: Its description ("" when the body has none).
    description: str
    #: User tags.
    tags: dict[str, str]
    #: The rules to create; None when the body omits ``rules`` (Gcore's default template).
    rules: list[RuleSpec] | None


def validate_group_create(body: object) -> GroupCreate:
    """Check the body of ``POST /cloud/v2/security_groups/{p}/{r}``.

    ``name`` is required (a non-empty string; names need not be unique), ``description`` a
    string, ``tags`` a map of tag texts, ``rules`` a list of v2 rule bodies (no ``any``
    protocol: null means all). Both limits on name and description (255) are this emulator's
    choice: Gcore does not document them.
    """
    data = _body(body)
    errors = _Errors()
    name = _text(data, "name", errors, required=True)
    description = _text(data, "description", errors, required=False)
    tags: dict[str, str] = {}
    if "tags" in data and data["tags"] is not None:
        tags = {k: v for k, v in _tags(data["tags"], errors, patch=False).items() if v is not None}
    rules = _rules(data["rules"], errors) if "rules" in data else None
    errors.raise_if_any()
    assert name is not None
    return GroupCreate(name=name, description=description or "", tags=tags, rules=rules)


@dataclass(frozen=True)
class GroupPatch:
    """A checked v2 group PATCH body; None (or ``tags_given`` False) means "not in the body"."""

    #: New name, if given.
    name: str | None = None
    #: New description, if given.
    description: str | None = None
    #: Whether ``tags`` was in the body at all.
    tags_given: bool = False
    #: The tags merge patch (null values remove keys); None with ``tags_given``: remove all.
    tags: dict[str, str | None] | None = None
    #: The complete desired rule set, if given.
    rules: list[RuleSpec] | None = None


def validate_group_patch(body: object) -> GroupPatch:
    """Check the body of ``PATCH /cloud/v2/security_groups/{p}/{r}/{group_id}``.

    Every field is optional; ``tags`` is a JSON merge patch (``null`` as a whole removes every
    user tag, a null value removes one key); ``rules``, when present, is the complete desired
    rule set.
    """
    data = _body(body)
    errors = _Errors()
    name = _text(data, "name", errors, required=False)
    description = _text(data, "description", errors, required=False)
    tags: dict[str, str | None] | None = None
    if "tags" in data and data["tags"] is not None:
        tags = _tags(data["tags"], errors, patch=True)
    rules = _rules(data["rules"], errors) if "rules" in data else None
    errors.raise_if_any()
    return GroupPatch(
        name=name,
        description=description,
        tags_given="tags" in data,
        tags=tags,
        rules=rules,
    )


Query = Mapping[str, Sequence[str]]


def _one(query: Query, name: str, errors: _Errors) -> str | None:
    values = query.get(name)
    if not values:
        return None
    if len(values) > 1:
        errors.add(name, "Give this parameter once.")
        return None
    return values[0]


def _int(query: Query, name: str, errors: _Errors, default: int, low: int, high: int) -> int:
    text = _one(query, name, errors)
    if text is None:
        return default
    if not _DIGITS.fullmatch(text) or not low <= int(text) <= high:
        errors.add(name, f"Must be an integer between {low} and {high}.")
        return default
    return int(text)


def _int_list(query: Query, name: str, errors: _Errors) -> frozenset[int] | None:
    values = query.get(name)
    if not values:
        return None
    if not all(_DIGITS.fullmatch(v) for v in values):
        errors.add(name, "Not a valid integer.")
        return None
    return frozenset(int(v) for v in values)


@dataclass(frozen=True)
class GroupQuery:
    """The checked query of ``GET /cloud/v1/securitygroups/{p}/{r}``."""

    #: Page size (1..1000, default 10).
    limit: int = LIST_LIMIT_DEFAULT
    #: How many matching groups to skip.
    offset: int = 0
    #: Exact full name to match, if given.
    name: str | None = None
    #: Tag keys every matching group must have.
    tag_keys: tuple[str, ...] = ()
    #: Tag key/value pairs every matching group must have.
    tag_key_value: dict[str, str] = field(default_factory=dict)


def parse_group_query(query: Query) -> GroupQuery:
    """Check the group list query: ``limit`` 1..1000 (default 10), ``offset`` >= 0, ``name``
    (exact match), ``tag_key`` (repeatable: the group must have every key), ``tag_key_value``
    (a JSON object string such as ``{"env": "prod"}``, as the official SDK passes it through:
    the group must have every pair). Unknown parameters are ignored."""
    errors = _Errors()
    limit = _int(query, "limit", errors, LIST_LIMIT_DEFAULT, 1, LIST_LIMIT_MAX)
    offset = _int(query, "offset", errors, 0, 0, 1 << 31)
    name = _one(query, "name", errors)
    pairs: dict[str, str] = {}
    text = _one(query, "tag_key_value", errors)
    if text is not None:
        try:
            decoded = json.loads(text)
        except ValueError:
            decoded = None
        if not isinstance(decoded, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in decoded.items()
        ):
            errors.add("tag_key_value", 'Must be a JSON object of strings, e.g. {"key": "value"}.')
        else:
            pairs = decoded
    errors.raise_if_any()
    return GroupQuery(
        limit=limit,
        offset=offset,
        name=name,
        tag_keys=tuple(query.get("tag_key", ())),
        tag_key_value=pairs,
    )


def _timestamp(query: Query, name: str, errors: _Errors) -> datetime | None:
    text = _one(query, name, errors)
    if text is None:
        return None
    text = text.strip().replace(" ", "+")  # an unencoded "+" arrives as a space
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        errors.add(name, "Not a valid ISO 8601 datetime.")
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value


@dataclass(frozen=True)
class TaskQuery:
    """The checked query of ``GET /cloud/v1/tasks``; None means "no filter"."""

    #: Page size (1..1000, default 10).
    limit: int = LIST_LIMIT_DEFAULT
    #: How many matching tasks to skip.
    offset: int = 0
    #: Projects to keep.
    project_ids: frozenset[int] | None = None
    #: Regions to keep.
    region_ids: frozenset[int] | None = None
    #: States to keep.
    states: frozenset[str] | None = None
    #: Task type to keep.
    task_type: str | None = None
    #: Keep tasks created at or after this instant.
    from_timestamp: datetime | None = None
    #: Keep tasks created at or before this instant.
    to_timestamp: datetime | None = None
    #: Keep tasks by acknowledgement (the emulator never acknowledges one).
    is_acknowledged: bool | None = None
    #: Newest first when True (``order_by=desc``, or the deprecated ``sorting=desc``).
    descending: bool = False


def parse_task_query(query: Query) -> TaskQuery:
    """Check the task list query the official SDK sends: ``project_id``, ``region_id`` and
    ``state`` (repeatable), ``task_type``, ``from_timestamp``/``to_timestamp`` (ISO 8601, on
    the creation time; without an offset, UTC), ``is_acknowledged`` (true/false),
    ``limit``/``offset``, ``order_by`` or the deprecated ``sorting`` (asc/desc; oldest first
    by default: Gcore does not say)."""
    errors = _Errors()
    limit = _int(query, "limit", errors, LIST_LIMIT_DEFAULT, 1, LIST_LIMIT_MAX)
    offset = _int(query, "offset", errors, 0, 0, 1 << 31)
    states: frozenset[str] | None = None
    if query.get("state"):
        bad = [s for s in query["state"] if s not in TASK_STATES]
        if bad:
            errors.add("state", "Must be one of: " + ", ".join(TASK_STATES) + ".")
        states = frozenset(query["state"])
    acknowledged: bool | None = None
    ack_text = _one(query, "is_acknowledged", errors)
    if ack_text is not None:
        if ack_text.lower() not in ("true", "false"):
            errors.add("is_acknowledged", "Not a valid boolean.")
        acknowledged = ack_text.lower() == "true"
    descending = False
    for name in ("sorting", "order_by"):  # order_by wins when both are given
        order = _one(query, name, errors)
        if order is not None:
            if order not in ("asc", "desc"):
                errors.add(name, "Must be one of: asc, desc.")
            descending = order == "desc"
    result = TaskQuery(
        limit=limit,
        offset=offset,
        project_ids=_int_list(query, "project_id", errors),
        region_ids=_int_list(query, "region_id", errors),
        states=states,
        task_type=_one(query, "task_type", errors),
        from_timestamp=_timestamp(query, "from_timestamp", errors),
        to_timestamp=_timestamp(query, "to_timestamp", errors),
        is_acknowledged=acknowledged,
        descending=descending,
    )
    errors.raise_if_any()
    return result
