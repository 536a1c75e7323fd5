"""Group diff: name, description and tags update in place; project and region replace;
unknowns count as changes; state without project/region is completed from config."""

from __future__ import annotations

from typing import Any

import pulumi.dynamic
from pulumi.output import Unknown

from gcore_pulumi import SecurityGroupProvider
from gcore_pulumi.group_schema import check_group_inputs, group_patch, tags_merge_patch
from gcore_pulumi.schema import Defaults


def inputs(**news: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"name": "web", "description": "front", "tags": {"env": "prod"}}
    base.update(news)
    outcome = check_group_inputs(base, Defaults(1, 1))
    assert outcome.failures == []
    return outcome.inputs


def outputs(**news: Any) -> dict[str, Any]:
    """Old outputs as the engine sends them: numbers as floats, plus Gcore-only values."""
    outs = {k: float(v) if isinstance(v, int) else v for k, v in inputs(**news).items()}
    outs.update(region="Luxembourg", revision_number=3.0, created_at="x", updated_at=None)
    outs["__provider"] = "blob"
    return outs


def diff(olds: dict[str, Any], news: dict[str, Any]) -> Any:
    return SecurityGroupProvider().diff("group-id", olds, news)


def test_unchanged_program_plans_no_change() -> None:
    result = diff(outputs(), inputs())
    assert result.changes is False and result.replaces == []


def test_name_description_and_tags_update_in_place() -> None:
    for change in ({"name": "web2"}, {"description": ""}, {"tags": {}}, {"tags": {"env": "x"}}):
        result = diff(outputs(), inputs(**change))
        assert result.changes is True and result.replaces == [], change


def test_project_or_region_replaces() -> None:
    assert diff(outputs(), inputs(project_id=2)).replaces == ["project_id"]
    result = diff(outputs(), inputs(region_id=7, name="other"))
    assert result.changes is True and result.replaces == ["region_id"]


def test_unknowns_are_changes_and_unknown_placement_replaces() -> None:
    assert diff(outputs(), inputs(name=Unknown())).changes is True
    assert diff(outputs(), inputs(tags={"env": Unknown()})).changes is True
    assert diff(outputs(), inputs(project_id=Unknown())).replaces == ["project_id"]


class _Config:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, key: str) -> str | None:
        return self.values.get(key)


def test_state_without_project_and_region_takes_config_like_read() -> None:
    provider = SecurityGroupProvider()
    config = _Config({"gcore:projectId": "1", "gcore:regionId": "1"})
    provider.configure(pulumi.dynamic.ConfigureRequest(config))  # type: ignore[arg-type]
    olds = {k: v for k, v in outputs().items() if k not in ("project_id", "region_id")}
    assert provider.diff("g", olds, inputs()).changes is False
    assert provider.diff("g", olds, inputs(project_id=2)).replaces == ["project_id"]


def test_tags_merge_patch_sets_changed_and_nulls_removed() -> None:
    assert tags_merge_patch({"a": "1", "b": "2"}, {"a": "1", "b": "3", "c": "4"}) == {
        "b": "3", "c": "4"
    }  # fmt: skip
    assert tags_merge_patch({"a": "1", "b": "2"}, {"a": "1"}) == {"b": None}
    assert tags_merge_patch({}, {}) == {}


def test_patch_holds_only_what_changed_and_never_rules() -> None:
    old = inputs()
    assert group_patch(old, inputs(name="api")) == {"name": "api"}
    assert group_patch(old, inputs(tags={})) == {"tags": {"env": None}}
    assert group_patch(old, old) == {}
    body = group_patch(old, inputs(name="n", description="d", tags={"env": "prod", "x": "y"}))
    assert body == {"name": "n", "description": "d", "tags": {"x": "y"}}
    assert "rules" not in body
