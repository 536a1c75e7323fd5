"""The security group's inputs: names, validation, canonical form, and what a change means.

Pure functions and no I/O, like ``schema`` for rules: ``SecurityGroupProvider.check`` and
``diff`` are built from these, so preview never touches the network. Failure reasons name the
input and say what to write, but never repeat the value: a name, description or tag may
come from a secret.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from .place import with_place
from .rule_set import RULES_KEY, canonical_rules, check_rules, rules_differ, rules_request_body
from .schema import (
    CheckOutcome,
    Defaults,
    InvalidInput,
    fill_place,
    is_unknown,
    parse_inputs,
    parse_int,
    parse_uuid,
)

GROUP_UPDATE_KEYS: Final = ("name", "description", "tags", RULES_KEY)
"""Inputs Gcore changes in place (the v2 PATCH). ``rules`` only when given: omitted, the
group does not manage its rules (see ``rule_set``)."""
GROUP_REPLACE_KEYS: Final = ("project_id", "region_id")
"""Inputs that move the group elsewhere: a change makes a new group."""
ADOPT_KEY: Final = "adopt_id"
"""The input naming an existing group to take over instead of creating one. Used only by
create: a later change to it changes nothing (diff never reports it)."""
GROUP_INPUT_KEYS: Final = (*GROUP_UPDATE_KEYS, *GROUP_REPLACE_KEYS, ADOPT_KEY)
"""Every input ``SecurityGroup`` accepts."""
GROUP_OUTPUT_ONLY_KEYS: Final = ("region", "revision_number", "created_at", "updated_at")
"""Values only Gcore knows; outputs, never inputs."""
GROUP_MOVING_KEYS: Final = ("revision_number", "updated_at")
"""Outputs that move whenever anything in the group moves, its rules included: a refresh
keeps what the stack last wrote unless a declared value changed (no false drift)."""

NAME_MAX: Final = 255
DESCRIPTION_MAX: Final = 255
TAG_MAX: Final = 255
"""Gcore's limit on a tag key and on a tag value, in characters."""
TAG_FORBIDDEN: Final = {" ": "a space", "\t": "a tab", "\n": "a newline", "\r": "a newline",
                        "=": "'='"}  # fmt: skip
"""Characters Gcore refuses in tag keys and values, and how to name them."""


# --- one validator per input -----------------------------------------------------------------


def parse_group_name(value: object) -> str:
    """The group's name: text, not blank, at most 255 characters. Kept exactly as written."""
    if not isinstance(value, str):
        raise InvalidInput("name must be text")
    if not value.strip():
        raise InvalidInput("name must not be empty or blank")
    if len(value) > NAME_MAX:
        raise InvalidInput(f"name is {len(value)} characters long; at most {NAME_MAX} allowed")
    return value


def parse_group_description(value: object) -> str:
    """Free text shown in the Gcore console, at most 255 characters."""
    if not isinstance(value, str):
        raise InvalidInput("description must be text")
    if len(value) > DESCRIPTION_MAX:
        raise InvalidInput(
            f"description is {len(value)} characters long; at most {DESCRIPTION_MAX} allowed"
        )
    return value


def _tag_text_problem(text: str) -> str | None:
    """Why Gcore would refuse ``text`` as a tag key or value, or None."""
    if not 1 <= len(text) <= TAG_MAX:
        return f"is {len(text)} characters long; tags need 1..{TAG_MAX}"
    for char, what in TAG_FORBIDDEN.items():
        if char in text:
            return f"contains {what}; tags may not contain spaces, tabs, newlines or '='"
    return None


def tag_failures(value: object) -> list[str]:
    """Every reason the ``tags`` map is unusable (empty when it is fine). Keys that are
    themselves valid are named; nothing else of the map is repeated."""
    if not isinstance(value, Mapping):
        return ['tags must be a map of tag keys to text values, e.g. {"env": "prod"}']
    problems: list[str] = []
    for position, (key, item) in enumerate(value.items(), start=1):
        if not isinstance(key, str):
            problems.append(f"tag key number {position} is not text")
            continue
        key_problem = _tag_text_problem(key)
        if key_problem:
            problems.append(f"tag key number {position} {key_problem}")
            continue
        if is_unknown(item):
            continue
        if not isinstance(item, str):
            problems.append(f"the value of tag number {position} must be text")
            continue
        value_problem = _tag_text_problem(item)
        if value_problem:
            problems.append(f"the value of tag number {position} {value_problem}")
    return problems


def parse_tags(value: object) -> dict[str, Any]:
    """The ``tags`` map, or every reason it is unusable (see ``tag_failures``)."""
    problems = tag_failures(value)
    if problems:
        raise InvalidInput(*problems)
    assert isinstance(value, Mapping)
    return dict(value)


def _parse_id(value: object, key: str) -> int:
    try:
        return parse_int(value, low=1, high=2**63 - 1, what=key)
    except InvalidInput:
        raise InvalidInput(f"{key} must be a positive whole number (a Gcore id)") from None


_PARSERS: Final[dict[str, Callable[[Any], Any]]] = {
    "name": parse_group_name,
    "description": parse_group_description,
    "tags": parse_tags,
    "project_id": lambda v: _parse_id(v, "project_id"),
    "region_id": lambda v: _parse_id(v, "region_id"),
    ADOPT_KEY: lambda v: parse_uuid(v, "adopt_id (the group to take over)", version4=True),
}


# --- the whole check -------------------------------------------------------------------------


def check_group_inputs(news: Mapping[str, Any], defaults: Defaults) -> CheckOutcome:
    """Validate and canonicalise a group's inputs without raising for bad input.

    Unknown values (preview) are kept as they are. Omitted ``description`` becomes "",
    omitted ``tags`` {}, omitted ``project_id``/``region_id`` the configured default;
    omitted ``rules`` stays None (the group does not manage its rules), a given one is
    checked rule by rule (``rule_set.check_rules``).
    """
    rest = {key: value for key, value in news.items() if key != RULES_KEY}
    values, failures = parse_inputs(rest, _PARSERS, unknown_input_reason)
    rules, rule_failures = check_rules(news.get(RULES_KEY))
    if rules is not None:  # omitted stays absent: the inputs of earlier versions
        values[RULES_KEY] = rules
    if values.get("name") is None:
        failures.append(("name", "name is required: the security group's name"))
    if values.get("description") is None:
        values["description"] = ""
    if values.get("tags") is None:
        values["tags"] = {}
    fill_place(values, defaults, failures)
    return CheckOutcome(inputs=values, failures=failures + rule_failures)


def unknown_input_reason(key: str) -> str:
    """Why ``key`` is refused, naming the nearest input (or ``SecurityGroupRule`` for rules):
    at check, and for an unknown keyword of ``SecurityGroup`` / ``SecurityGroupArgs``."""
    if key in GROUP_OUTPUT_ONLY_KEYS:
        return f"{key!r} is an output set by Gcore, not an input; remove it"
    close = difflib.get_close_matches(key, GROUP_INPUT_KEYS, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    if key == "security_group_rules":
        hint = "; did you mean 'rules'? (each rule a dict of SecurityGroupRule's own fields)"
    return f"{key!r} is not an input of SecurityGroup{hint} (inputs: {', '.join(GROUP_INPUT_KEYS)})"


# --- comparing groups ------------------------------------------------------------------------


def canonical_group_state(props: Mapping[str, Any], defaults: Defaults) -> dict[str, Any]:
    """Inputs or old outputs (numbers may be floats) in canonical form; a state without
    project or region (written by hand, or an older version) takes the configured default,
    as read and delete do, so an unchanged program plans no change."""
    state = with_place({key: props.get(key) for key in GROUP_INPUT_KEYS}, defaults)
    state[RULES_KEY] = canonical_rules(state[RULES_KEY])
    if state["description"] is None:
        state["description"] = ""
    if state["tags"] is None:
        state["tags"] = {}
    for key in GROUP_REPLACE_KEYS:
        number = state[key]
        if isinstance(number, float) and number.is_integer():
            state[key] = int(number)
    return state


def _uncertain(value: object) -> bool:
    """True when a value, or any value in a map, is not known yet."""
    if is_unknown(value):
        return True
    return isinstance(value, Mapping) and any(is_unknown(v) for v in value.values())


@dataclass(frozen=True)
class GroupDiff:
    """What differs between a group's state and its new inputs."""

    updates: list[str]
    """Inputs that change in place (or may, being unknown yet)."""
    replaces: list[str]
    """Inputs whose change needs a new group."""

    @property
    def changed(self) -> bool:
        """True when anything differs."""
        return bool(self.updates or self.replaces)


def diff_group(olds: Mapping[str, Any], news: Mapping[str, Any], defaults: Defaults) -> GroupDiff:
    """Compare old outputs with new checked inputs; unknown new values count as changes."""
    old = canonical_group_state(olds, defaults)
    new = canonical_group_state(news, defaults)

    def differs(key: str) -> bool:
        if key == RULES_KEY:
            return rules_differ(old[key], new[key])
        return _uncertain(new[key]) or new[key] != old[key]

    return GroupDiff(
        updates=[key for key in GROUP_UPDATE_KEYS if differs(key)],
        replaces=[key for key in GROUP_REPLACE_KEYS if differs(key)],
    )


def tags_merge_patch(old: Mapping[str, str], new: Mapping[str, str]) -> dict[str, str | None]:
    """The JSON merge patch from ``old`` user tags to ``new``: changed or added keys with
    their value, removed keys as None (null). Tags nobody declared are left alone."""
    patch: dict[str, str | None] = {k: v for k, v in new.items() if old.get(k) != v}
    patch.update({k: None for k in old if k not in new})
    return patch


def group_patch(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The v2 PATCH body taking a group from canonical state ``old`` to ``new``: only what
    changed, tags as a merge patch, and ``rules`` (the complete set) only when ``new``
    gives them and they differ as a set. A group whose ``rules`` is omitted never sends
    them: that would delete every rule the body does not list, including those of
    SecurityGroupRule resources. (The client sends ``tags`` after the rest: see
    ``api.group_update``.)"""
    body: dict[str, Any] = {}
    for key in ("name", "description"):
        if new[key] != old[key]:
            body[key] = new[key]
    rules = new.get(RULES_KEY)
    if rules is not None and rules_differ(old.get(RULES_KEY), rules):
        body[RULES_KEY] = rules_request_body(rules)
    tags = tags_merge_patch(old["tags"], new["tags"])
    if tags:
        body["tags"] = tags
    return body
