"""A group create's lost-answer settling takes a listed group for its own only if it holds
the declared rule set too (issue 17): a twin with other rules is someone else's."""

from __future__ import annotations

from typing import Any

from gcore_pulumi.group_schema import canonical_group_state, check_group_inputs
from gcore_pulumi.models import ApiGroupSummary, GroupSpec
from gcore_pulumi.schema import Defaults

SSH = {"direction": "ingress", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22}
GROUP_ID = "7f1c4c2e-3a55-4f5e-9a43-1f0e2b8c9d10"


def spec(**inputs: Any) -> GroupSpec:
    defaults = Defaults(project_id=1, region_id=1)
    checked = check_group_inputs({"name": "web", **inputs}, defaults)
    assert checked.failures == []
    return GroupSpec.from_state(canonical_group_state(checked.inputs, defaults))


def listed(rules: list[dict[str, Any]] | None) -> ApiGroupSummary:
    live = None
    if rules is not None:
        live = [{"id": f"00000000-0000-4000-8000-{i:012d}", "ethertype": "IPv4", **r}
                for i, r in enumerate(rules)]  # fmt: skip
    return ApiGroupSummary.model_validate(
        {"id": GROUP_ID, "name": "web", "description": "", "security_group_rules": live}
    )


def test_a_listed_group_with_other_rules_is_not_the_one_asked_for() -> None:
    wanted = spec(rules=[SSH])
    assert not wanted.matches(listed([]))
    assert not wanted.matches(listed([dict(SSH, port_range_min=23, port_range_max=23)]))
    assert not wanted.matches(listed([SSH, {"direction": "egress"}]))


def test_the_same_set_however_gcore_spells_it_matches() -> None:
    wanted = spec(rules=[dict(SSH, remote_ip_prefix="0.0.0.0/0")])
    assert wanted.matches(listed([dict(SSH, description=None)]))


def test_without_rules_or_without_rules_in_the_list_only_name_and_the_rest_count() -> None:
    assert spec().matches(listed([SSH]))
    assert spec(rules=[SSH]).matches(listed(None))


def test_the_create_body_carries_the_set_and_never_omits_rules() -> None:
    assert spec().create_body() == {"name": "web", "rules": []}
    assert spec(rules=[]).create_body()["rules"] == []
    assert spec(rules=[SSH]).create_body()["rules"] == [
        {"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 22,
         "port_range_max": 22, "description": ""}
    ]  # fmt: skip
