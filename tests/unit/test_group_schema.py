"""Group check: required name, Gcore's tag rules, defaults from config, unknowns pass, and
no failure reason ever repeats the value it refuses (it may be a secret)."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi.output import Unknown

from gcore_pulumi.group_schema import check_group_inputs
from gcore_pulumi.schema import Defaults

SECRET = "s3cr3t-value-7f"
CONFIGURED = Defaults(1, 2)


def check(defaults: Defaults = CONFIGURED, **news: Any) -> Any:
    return check_group_inputs(news, defaults)


def failed_keys(outcome: Any) -> list[str]:
    return [key for key, _ in outcome.failures]


def test_minimal_inputs_are_completed_canonically() -> None:
    outcome = check(name="web")
    assert outcome.failures == []
    assert outcome.inputs == {
        "name": "web", "description": "", "tags": {}, "project_id": 1, "region_id": 2
    }  # fmt: skip


def test_given_project_and_region_win_over_config_and_floats_become_ints() -> None:
    outcome = check(name="web", project_id=5.0, region_id="9")
    assert (outcome.inputs["project_id"], outcome.inputs["region_id"]) == (5, 9)


@pytest.mark.parametrize("value", [None, "", "   ", 7])
def test_name_is_required_non_empty_text(value: object) -> None:
    outcome = check(name=value) if value is not None else check()
    assert failed_keys(outcome) == ["name"]


def test_name_longer_than_255_is_refused() -> None:
    assert failed_keys(check(name="x" * 256)) == ["name"]
    assert check(name="x" * 255).failures == []


def test_description_must_be_text_of_at_most_255() -> None:
    assert failed_keys(check(name="web", description=3)) == ["description"]
    assert failed_keys(check(name="web", description="d" * 256)) == ["description"]


@pytest.mark.parametrize(
    "tags",
    [
        {"": "v"},
        {"k": ""},
        {"a key": "v"},
        {"k": "a\tb"},
        {"k": "line\nbreak"},
        {"k=v": "x"},
        {"k": "a=b"},
        {"k" * 256: "v"},
        {"k": "v" * 256},
        {"k": 5},
        ["k", "v"],
    ],
)
def test_tags_that_gcore_refuses_fail_under_tags(tags: object) -> None:
    assert set(failed_keys(check(name="web", tags=tags))) == {"tags"}


def test_valid_tags_pass_as_a_map() -> None:
    outcome = check(name="web", tags={"env": "prod", "team": "a-b_c.d:e/f"})
    assert outcome.failures == []
    assert outcome.inputs["tags"] == {"env": "prod", "team": "a-b_c.d:e/f"}


def test_no_reason_repeats_the_refused_value() -> None:
    outcome = check(
        name=SECRET + " " * 300,
        description=SECRET * 30,
        tags={SECRET + " x": "v", "ok": SECRET + "=", "n": SECRET * 20},
        project_id=SECRET,
        region_id=-1,
    )
    assert set(failed_keys(outcome)) == {"name", "description", "tags", "project_id", "region_id"}
    for _, reason in outcome.failures:
        assert SECRET not in reason, reason


def test_unknown_keys_fail_naming_them_with_a_suggestion() -> None:
    outcome = check(name="web", descripton="x", revision_number=3, security_group_rules=[])
    reasons = dict(outcome.failures)
    assert "did you mean 'description'" in reasons["descripton"]
    assert "output" in reasons["revision_number"]
    assert "did you mean 'rules'" in reasons["security_group_rules"]


def test_missing_project_says_how_to_set_it() -> None:
    outcome = check(Defaults(None, None), name="web")
    reasons = dict(outcome.failures)
    assert "gcore:projectId" in reasons["project_id"]
    assert "GCORE_CLOUD_REGION_ID" in reasons["region_id"]


def test_unknown_values_pass_through_and_the_rest_is_still_checked() -> None:
    outcome = check(name=Unknown(), tags={"env": Unknown(), "bad key": "v"}, project_id=Unknown())
    assert failed_keys(outcome) == ["tags"]
    assert isinstance(outcome.inputs["name"], Unknown)
    assert isinstance(outcome.inputs["project_id"], Unknown)
    whole = check(name="web", tags=Unknown())
    assert whole.failures == [] and isinstance(whole.inputs["tags"], Unknown)
