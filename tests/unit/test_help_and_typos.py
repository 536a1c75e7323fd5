"""First contact with the resources: help() shows what they really take, and a misspelt or
missing input fails at once with a TypeError naming the input (and the nearest one)."""

from __future__ import annotations

import inspect
import pydoc
import re
from typing import Any

import pulumi
import pulumi.dynamic
import pytest

from gcore_pulumi import (
    SecurityGroup,
    SecurityGroupArgs,
    SecurityGroupRule,
    SecurityGroupRuleArgs,
)
from gcore_pulumi.group_schema import GROUP_INPUT_KEYS
from gcore_pulumi.schema import INPUT_KEYS

RESOURCES: list[tuple[type, type, tuple[str, ...], tuple[str, ...]]] = [
    (SecurityGroupRule, SecurityGroupRuleArgs, INPUT_KEYS, ("group_id", "direction")),
    (SecurityGroup, SecurityGroupArgs, GROUP_INPUT_KEYS, ("name",)),
]
BOTH = pytest.mark.parametrize(
    ("resource", "args", "inputs", "required"), RESOURCES, ids=["rule", "group"]
)


def _help(obj: object) -> str:
    return pydoc.render_doc(obj, renderer=pydoc.plaintext)


def _own_part(text: str) -> str:
    """help()'s text up to the members inherited from the SDK (their docs are the SDK's)."""
    return text.split("inherited from pulumi", 1)[0]


def _sdk_doc_lines() -> list[str]:
    """Lines of the SDK docstrings that help() used to show for our resources."""
    docs = [
        inspect.getdoc(pulumi.CustomResource),
        inspect.getdoc(pulumi.CustomResource.__init__),
        inspect.getdoc(pulumi.dynamic.Resource),
        inspect.getdoc(pulumi.dynamic.Resource.__init__),
    ]
    return [line.strip() for doc in docs if doc for line in doc.splitlines() if len(line) > 20]


@BOTH
def test_help_lists_every_input_with_a_meaning_and_marks_the_required_ones(
    resource: type, args: type, inputs: tuple[str, ...], required: tuple[str, ...]
) -> None:
    for obj in (resource, args):
        text = _help(obj)
        for key in inputs:
            mark = " (required)" if key in required else ""
            line = re.search(rf"\|\s+{key}{re.escape(mark)}: (.+)", text)
            assert line is not None, (obj, key)
            assert len(line.group(1)) > 20, (obj, key)
    assert "Outputs:" in _help(resource)


def test_help_gives_units_defaults_and_replacement() -> None:
    rule, group = _help(SecurityGroupRule), _help(SecurityGroup)
    assert "1..65535" in rule and "default 'any'" in rule and "replaces the rule" in rule
    assert "a change makes a new group" in group and "changes in place" in group


@BOTH
def test_help_shows_no_sdk_docstring_and_no_sdk_parameter(
    resource: type, args: type, inputs: tuple[str, ...], required: tuple[str, ...]
) -> None:
    text = _help(resource)
    for line in _sdk_doc_lines():
        assert line not in text
    own = _own_part(text)
    for leaked in ("provider", "props", ":param"):
        assert leaked not in own, leaked


@BOTH
def test_signature_has_required_inputs_without_default_and_keyword_only(
    resource: type, args: type, inputs: tuple[str, ...], required: tuple[str, ...]
) -> None:
    for obj in (resource, args):
        params = inspect.signature(obj).parameters
        assert [key for key in params if key in inputs] == list(inputs)
        for key in inputs:
            param = params[key]
            assert param.kind is param.KEYWORD_ONLY
            assert (param.default is param.empty) == (key in required), key
            assert "pulumi.Input[" in str(param.annotation), key
    params = inspect.signature(resource).parameters
    assert list(params)[:2] == ["resource_name", "args"] and "opts" in params
    signature_line = _help(resource).splitlines()[3]
    for key in required:
        assert re.search(rf"{key}: '[^']+'[,)]", signature_line), key


@pytest.mark.parametrize(
    ("make", "typo", "meant"),
    [
        (lambda: SecurityGroupRule("r", group_id="g", direction="ingress", port_min=22),
         "port_min", "port_range_min"),
        (lambda: SecurityGroupRuleArgs(group_id="g", direction="ingress", protocl="tcp"),
         "protocl", "protocol"),
        (lambda: SecurityGroup("g", name="web", descripton="d"), "descripton", "description"),
        (lambda: SecurityGroupArgs(name="web", tag={}), "tag", "tags"),
    ],
    ids=["rule", "rule-args", "group", "group-args"],
)  # fmt: skip
def test_a_misspelt_input_names_the_nearest_one(make: Any, typo: str, meant: str) -> None:
    with pytest.raises(TypeError) as caught:
        make()
    message = str(caught.value)
    assert f"{typo!r} is not an input of " in message
    assert f"did you mean {meant!r}?" in message and "(inputs: " in message
    assert "__init__" not in message and "\n" not in message


def test_security_group_rules_given_to_a_group_point_to_rules() -> None:
    with pytest.raises(TypeError, match="did you mean 'rules'"):
        SecurityGroup("g", name="web", security_group_rules=[])  # type: ignore[call-overload]


def test_a_misspelt_field_of_a_set_rule_is_named_with_a_suggestion() -> None:
    from gcore_pulumi.group_resource import SecurityGroupRulesArgs

    with pytest.raises(TypeError, match="'port_range_mn' is not a field of a rule; did you mean"):
        SecurityGroupRulesArgs(direction="ingress", port_range_mn=22)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="'group_id' is not a field of a rule in a group's rules"):
        SecurityGroupRulesArgs(direction="ingress", group_id="x")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="missing required input direction"):
        SecurityGroupRulesArgs()  # type: ignore[call-arg]


def test_a_missing_required_input_of_an_args_class_is_named() -> None:
    expected = r"^SecurityGroupRuleArgs: missing required input group_id$"
    with pytest.raises(TypeError, match=expected):
        SecurityGroupRuleArgs(direction="ingress")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"^SecurityGroupArgs: missing required input name$"):
        SecurityGroupArgs()  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: SecurityGroupRuleArgs("g", "ingress"), "SecurityGroupRuleArgs"),
        (lambda: SecurityGroupArgs("web"), "SecurityGroupArgs"),
    ],
    ids=["rule-args", "group-args"],
)  # fmt: skip
def test_inputs_given_by_position_are_not_reported_missing(make: Any, name: str) -> None:
    """They were given, just not by keyword: "missing required input" sent users looking for
    an input they had passed."""
    with pytest.raises(TypeError) as caught:
        make()
    message = str(caught.value)
    assert "missing" not in message, message
    assert message.startswith(f"{name} takes its inputs by keyword"), message


def test_opts_by_position_to_a_group_says_it_goes_by_keyword() -> None:
    with pytest.raises(TypeError) as caught:
        SecurityGroup("g", SecurityGroupArgs(name="web"), pulumi.ResourceOptions())  # type: ignore[call-overload]
    message = str(caught.value)
    assert "(resource_name, args), 3 given" in message and "opts=..." in message, message


@pytest.mark.parametrize(
    ("make", "typo", "meant"),
    [
        (
            lambda: SecurityGroupRule("r", group_id="g", direction="ingress", opt=None),
            "opt",
            "opts",
        ),
        (lambda: SecurityGroup("g", name="web", opt=None), "opt", "opts"),
        (lambda: SecurityGroupRule("r", arg=None), "arg", "args"),
    ],
)
def test_a_misspelt_opts_or_args_names_it(make: Any, typo: str, meant: str) -> None:
    with pytest.raises(TypeError) as caught:
        make()
    assert f"unexpected keyword argument {typo!r}; did you mean {meant!r}?" in str(caught.value)
