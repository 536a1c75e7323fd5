"""Diff decisions: what replaces, what updates, and when the old rule must go first."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi.output import Unknown

from gcore_pulumi import SecurityGroupRuleProvider
from gcore_pulumi.schema import Defaults, check_inputs

GROUP = "024a29e9-b4b7-4c91-9a46-505be123d9f8"


def canonical(**news: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"group_id": GROUP, "direction": "ingress", "protocol": "tcp",
                            "port_range_min": 443, "port_range_max": 443,
                            "remote_ip_prefix": "0.0.0.0/0", "description": "https"}  # fmt: skip
    base.update(news)
    outcome = check_inputs(base, Defaults(1, 1))
    assert outcome.failures == []
    return outcome.inputs


def outputs_of(inputs: dict[str, Any]) -> dict[str, Any]:
    """Old outputs as the engine sends them: numbers as floats, plus API-only values."""
    outs = {k: float(v) if isinstance(v, int) and not isinstance(v, bool) else v
            for k, v in inputs.items() if v is not None}  # fmt: skip
    outs.update(revision_number=0.0, security_group_id=GROUP, created_at="x", updated_at=None)
    outs["__provider"] = "blob"
    return outs


def diff(old: dict[str, Any], new: dict[str, Any]) -> Any:
    return SecurityGroupRuleProvider().diff("rule-id", outputs_of(old), new)


def test_no_change_is_reported_as_false_not_unknown() -> None:
    result = diff(canonical(), canonical())
    assert result.changes is False
    assert result.replaces == []


def test_description_only_change_replaces_and_deletes_first() -> None:
    result = diff(canonical(), canonical(description="new text"))
    assert result.changes is True
    assert result.replaces == ["description"]
    assert result.delete_before_replace is True


@pytest.mark.parametrize(
    ("change", "keys"),
    [
        ({"port_range_min": 8443, "port_range_max": 8443}, ["port_range_min", "port_range_max"]),
        ({"remote_ip_prefix": "10.0.0.0/8"}, ["remote_ip_prefix"]),
        ({"direction": "egress"}, ["direction"]),
        ({"protocol": "udp"}, ["protocol"]),
        ({"group_id": "11111111-2222-4333-8444-555555555555"}, ["group_id"]),
        ({"project_id": 2}, ["project_id"]),
        ({"region_id": 2}, ["region_id"]),
    ],
)
def test_rule_changes_create_the_new_rule_before_deleting(
    change: dict[str, Any], keys: list[str]
) -> None:
    result = diff(canonical(), canonical(**change))
    assert result.changes is True
    assert result.replaces == keys
    assert result.delete_before_replace is False


def test_any_prefix_spellings_collide_so_delete_first() -> None:
    result = diff(canonical(), canonical(remote_ip_prefix=None))
    assert result.replaces == ["remote_ip_prefix"]
    assert result.delete_before_replace is True


def test_adopt_existing_alone_is_an_update_not_a_replacement() -> None:
    result = diff(canonical(), canonical(adopt_existing=True))
    assert result.changes is True
    assert result.replaces == []
    assert result.delete_before_replace is False


def test_unknown_values_count_as_changes() -> None:
    new = canonical()
    new["remote_ip_prefix"] = Unknown()
    result = diff(canonical(), new)
    assert result.changes is True
    assert "remote_ip_prefix" in result.replaces
    assert result.delete_before_replace is False


def test_state_from_before_defaults_still_matches() -> None:
    old = canonical(protocol="tcp")
    legacy = outputs_of(old)
    del legacy["description"], legacy["adopt_existing"], legacy["ethertype"]
    legacy["description"] = None
    result = SecurityGroupRuleProvider().diff("id", legacy, canonical(description=""))
    assert result.changes is False


def diff_of(olds: dict[str, Any], news: dict[str, Any]) -> Any:
    return SecurityGroupRuleProvider().diff("rule-id", olds, news)


@pytest.mark.parametrize(
    "old_spelling",
    ["::ffff:a00:1/128", "::ffff:10.0.0.1/128", "::FFFF:10.0.0.1/128", "0:0:0:0:0:ffff:a00:1/128"],
)
def test_state_written_by_any_python_version_does_not_diff(old_spelling: str) -> None:
    news = canonical(remote_ip_prefix="::ffff:10.0.0.1", ethertype="IPv6")
    assert news["remote_ip_prefix"] == "::ffff:10.0.0.1/128"  # Neutron's spelling
    olds = outputs_of(news)
    olds["remote_ip_prefix"] = old_spelling
    assert diff_of(olds, news).changes is False


def test_ipv6_icmp_spelled_icmp_in_old_state_does_not_diff() -> None:
    news = canonical(protocol="icmp", ethertype="IPv6", remote_ip_prefix="::/0",
                     port_range_min=128, port_range_max=0)  # fmt: skip
    assert news["protocol"] == "ipv6-icmp"
    olds = outputs_of(news)
    olds["protocol"] = "icmp"  # written before check canonicalised it
    assert diff_of(olds, news).changes is False


def test_old_state_without_project_or_region_takes_them_from_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GCORE_CLOUD_PROJECT_ID", "1")
    monkeypatch.setenv("GCORE_CLOUD_REGION_ID", "1")
    news = canonical()
    olds = {k: v for k, v in outputs_of(news).items() if k not in ("project_id", "region_id")}
    assert SecurityGroupRuleProvider().diff("rule-id", olds, news).changes is False
