"""Mapping Gcore's answers back to canonical form, so refresh after create shows no change."""

from __future__ import annotations

from typing import Any

import pytest

from gcore_pulumi.models import ApiGroup, ApiRule, RuleSpec

GROUP = "024a29e9-b4b7-4c91-9a46-505be123d9f8"


def spec(**fields: Any) -> RuleSpec:
    values: dict[str, Any] = {"group_id": GROUP, "direction": "ingress", "project_id": 1,
                              "region_id": 2}  # fmt: skip
    values.update(fields)
    return RuleSpec.model_validate(values)


def api_rule(**fields: Any) -> ApiRule:
    values: dict[str, Any] = {
        "id": "R1", "security_group_id": GROUP.upper(), "direction": "ingress",
        "ethertype": "IPv4", "protocol": None, "port_range_min": None, "port_range_max": None,
        "remote_ip_prefix": None, "remote_group_id": None, "description": None,
        "revision_number": 0, "created_at": "2019-06-18T11:56:16+0000", "updated_at": None,
    }  # fmt: skip
    values.update(fields)
    return ApiRule.model_validate(values)


def test_nulls_map_to_canonical_values() -> None:
    outputs = api_rule().to_outputs(spec())
    assert outputs["protocol"] == "any"
    assert outputs["description"] == ""
    assert outputs["group_id"] == GROUP  # ids lowercased
    assert (outputs["project_id"], outputs["region_id"]) == (1, 2)
    assert outputs["revision_number"] == 0 and outputs["updated_at"] is None


@pytest.mark.parametrize(
    ("live", "asked", "shown"),
    [
        (None, "0.0.0.0/0", "0.0.0.0/0"),
        ("0.0.0.0/0", None, None),
        ("10.1.2.3/8", "10.0.0.0/8", "10.0.0.0/8"),
        ("192.0.2.7/32", "192.0.2.7/32", "192.0.2.7/32"),
        ("10.0.0.0/8", "10.0.0.0/8", "10.0.0.0/8"),
    ],
)
def test_equivalent_prefixes_keep_the_asked_spelling(
    live: str | None, asked: str | None, shown: str | None
) -> None:
    assert (
        api_rule(remote_ip_prefix=live).to_outputs(spec(remote_ip_prefix=asked))["remote_ip_prefix"]
        == shown
    )


def test_null_ethertype_follows_the_prefix() -> None:
    outputs = api_rule(ethertype=None, remote_ip_prefix="::/0").to_outputs(spec())
    assert outputs["ethertype"] == "IPv6"


def test_body_leaves_out_nulls_and_sends_any() -> None:
    body = spec(description="d").request_body()
    assert body == {"direction": "ingress", "ethertype": "IPv4", "protocol": "any",
                    "description": "d"}  # fmt: skip


def test_group_rules_without_group_id_get_the_group() -> None:
    group = ApiGroup.model_validate(
        {"id": GROUP, "security_group_rules": [{"id": "X", "direction": "egress"}]}
    )
    rule = group.find("x")
    assert rule is not None and rule.security_group_id == GROUP
    assert group.find("missing") is None


def test_from_props_accepts_wire_floats_and_old_state() -> None:
    parsed = RuleSpec.from_props(
        {"group_id": GROUP, "direction": "egress", "project_id": 3.0, "region_id": 4.0,
         "port_range_min": 22.0, "port_range_max": 22.0, "protocol": "tcp",
         "description": None, "__provider": "x", "revision_number": 0.0}
    )  # fmt: skip
    assert (parsed.project_id, parsed.port_range_min, parsed.description) == (3, 22, "")


def test_a_group_answer_without_its_rules_is_refused_not_read_as_empty() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        ApiGroup.model_validate({"id": GROUP})
