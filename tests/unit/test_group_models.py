"""Group bodies and outputs: the create always sends `"rules": []`, outputs keep user tags
only and map Gcore's nulls to the canonical "" and {}."""

from __future__ import annotations

from typing import Any

from gcore_pulumi.group_schema import canonical_group_state
from gcore_pulumi.models import ApiGroup, ApiGroupSummary, GroupSpec, group_outputs
from gcore_pulumi.schema import Defaults

GID = "8f0e3d2c-1b4a-4c5d-9e6f-7a8b9c0d1e2f"


def spec(**props: Any) -> GroupSpec:
    return GroupSpec.from_state(canonical_group_state({"name": "web", **props}, Defaults(1, 2)))


def test_create_body_always_has_empty_rules() -> None:
    assert spec().create_body() == {"name": "web", "rules": []}
    body = spec(description="d", tags={"env": "prod"}).create_body()
    assert body == {"name": "web", "description": "d", "tags": {"env": "prod"}, "rules": []}


def test_outputs_drop_read_only_tags_and_map_nulls() -> None:
    group = ApiGroup.model_validate(
        {
            "id": GID, "name": "web", "description": None, "security_group_rules": [],
            "project_id": 1, "region_id": 2, "region": "Luxembourg", "revision_number": 4,
            "created_at": "2024-01-01T00:00:00+0000", "updated_at": None,
            "tags_v2": [{"key": "env", "value": "prod", "read_only": False},
                        {"key": "os_managed", "value": "yes", "read_only": True}],
        }
    )  # fmt: skip
    assert group_outputs(group, 1, 2) == {
        "name": "web", "description": "", "tags": {"env": "prod"}, "project_id": 1,
        "region_id": 2, "region": "Luxembourg", "revision_number": 4,
        "created_at": "2024-01-01T00:00:00+0000", "updated_at": None,
    }  # fmt: skip


def test_a_listed_group_matches_only_with_same_name_description_and_user_tags() -> None:
    wanted = spec(description="d", tags={"env": "prod"})

    def listed(**fields: Any) -> ApiGroupSummary:
        base = {"id": GID, "name": "web", "description": "d",
                "tags_v2": [{"key": "env", "value": "prod"},
                            {"key": "ro", "value": "1", "read_only": True}]}  # fmt: skip
        return ApiGroupSummary.model_validate({**base, **fields})

    assert wanted.matches(listed())
    assert not wanted.matches(listed(name="web2"))
    assert not wanted.matches(listed(description=None))
    assert not wanted.matches(listed(tags_v2=[]))
    assert spec().matches(listed(description=None, tags_v2=[]))
