"""Validation and canonicalisation of inputs: what check accepts, rejects and fills in."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi.output import Unknown

from gcore_pulumi import Direction, Ethertype, Protocol
from gcore_pulumi.schema import (
    Defaults,
    InvalidInput,
    check_inputs,
    duplicate_key,
    parse_port,
    parse_prefix,
    parse_uuid,
)

GROUP = "024a29e9-b4b7-4c91-9a46-505be123d9f8"
OTHER = "11111111-2222-4333-8444-555555555555"
DEFAULTS = Defaults(project_id=1, region_id=7)


def run(**news: Any) -> tuple[dict[str, Any], dict[str, str]]:
    base: dict[str, Any] = {"group_id": GROUP, "direction": "ingress"}
    base.update(news)
    base = {k: v for k, v in base.items() if v is not ...}
    outcome = check_inputs(base, DEFAULTS)
    return outcome.inputs, dict(outcome.failures)


def test_minimal_rule_gets_every_default() -> None:
    inputs, failures = run()
    assert failures == {}
    assert inputs == {
        "group_id": GROUP,
        "direction": "ingress",
        "ethertype": "IPv4",
        "protocol": "any",
        "port_range_min": None,
        "port_range_max": None,
        "remote_ip_prefix": None,
        "remote_group_id": None,
        "description": "",
        "project_id": 1,
        "region_id": 7,
        "adopt_existing": False,
    }


@pytest.mark.parametrize(
    ("news", "key", "expected"),
    [
        ({"remote_ip_prefix": "10.1.2.3/8"}, "remote_ip_prefix", "10.0.0.0/8"),
        ({"remote_ip_prefix": "192.0.2.7"}, "remote_ip_prefix", "192.0.2.7/32"),
        ({"remote_ip_prefix": "2001:db8::1"}, "remote_ip_prefix", "2001:db8::1/128"),
        ({"remote_ip_prefix": "2001:DB8::1/32"}, "remote_ip_prefix", "2001:db8::/32"),
        ({"remote_ip_prefix": "::/0"}, "ethertype", "IPv6"),
        ({"remote_ip_prefix": "0.0.0.0/0"}, "ethertype", "IPv4"),
        ({"protocol": "tcp", "port_range_min": 22.0, "port_range_max": 22.0}, "port_range_min", 22),
        ({"protocol": "tcp", "port_range_min": "80", "port_range_max": 80}, "port_range_min", 80),
        ({"project_id": 3.0}, "project_id", 3),
        ({"region_id": "9"}, "region_id", 9),
        ({"group_id": GROUP.upper()}, "group_id", GROUP),
        ({"direction": Direction.EGRESS}, "direction", "egress"),
        ({"protocol": Protocol.IPV6_ICMP, "ethertype": Ethertype.IPV6}, "protocol", "ipv6-icmp"),
        ({"description": None}, "description", ""),
        ({"protocol": "icmp", "port_range_min": 8}, "port_range_max", None),
        ({"protocol": "icmp", "port_range_min": 0, "port_range_max": 0}, "port_range_min", 0),
        ({"protocol": "ipv6-icmp", "ethertype": "IPv6"}, "ethertype", "IPv6"),
    ],
)
def test_canonical_form(news: dict[str, Any], key: str, expected: Any) -> None:
    inputs, failures = run(**news)
    assert failures == {}
    assert inputs[key] == expected
    assert type(inputs[key]) is type(expected)


@pytest.mark.parametrize(
    ("news", "key", "words"),
    [
        ({"group_id": ...}, "group_id", "required"),
        ({"direction": ...}, "direction", "required"),
        ({"group_id": "sg-123"}, "group_id", "not a UUID"),
        ({"direction": "in"}, "direction", "'ingress'"),
        ({"direction": "Ingress"}, "direction", "did you mean 'ingress'"),
        ({"ethertype": "ipv4"}, "ethertype", "did you mean 'IPv4'"),
        ({"protocol": "TCP"}, "protocol", "did you mean 'tcp'"),
        ({"protocol": "http"}, "protocol", "not a valid protocol"),
        (
            {"protocol": "tcp", "port_range_min": 0, "port_range_max": 80},
            "port_range_min",
            "port 0",
        ),
        ({"protocol": "tcp", "port_range_min": 80}, "port_range_max", "both ends"),
        ({"protocol": "udp", "port_range_max": 80}, "port_range_min", "both ends"),
        (
            {"protocol": "tcp", "port_range_min": 90, "port_range_max": 80},
            "port_range_min",
            "above",
        ),
        (
            {"protocol": "tcp", "port_range_min": 1, "port_range_max": 70000},
            "port_range_max",
            "65535",
        ),
        ({"protocol": "tcp", "port_range_min": -1, "port_range_max": 8}, "port_range_min", "range"),
        (
            {"protocol": "tcp", "port_range_min": 1.5, "port_range_max": 8},
            "port_range_min",
            "whole",
        ),
        (
            {"protocol": "tcp", "port_range_min": True, "port_range_max": 8},
            "port_range_min",
            "whole",
        ),
        ({"port_range_min": 22, "port_range_max": 22}, "port_range_min", "need a protocol"),
        ({"protocol": "any", "port_range_max": 22}, "port_range_max", "need a protocol"),
        (
            {"protocol": "gre", "port_range_min": 1, "port_range_max": 2},
            "port_range_min",
            "no ports",
        ),
        ({"protocol": "icmp", "port_range_min": 300}, "port_range_min", "0..255"),
        (
            {"protocol": "icmp", "port_range_min": 3, "port_range_max": 256},
            "port_range_max",
            "0..255",
        ),
        ({"protocol": "icmp", "port_range_max": 0}, "port_range_max", "needs an ICMP type"),
        ({"protocol": "ipv6-icmp"}, "protocol", "IPv6"),
        ({"protocol": "ipv6-frag", "ethertype": "IPv4"}, "protocol", "IPv6"),
        ({"ethertype": "IPv4", "remote_ip_prefix": "::/0"}, "ethertype", "does not match"),
        ({"ethertype": "IPv6", "remote_ip_prefix": "10.0.0.0/8"}, "ethertype", "does not match"),
        ({"remote_ip_prefix": "10.0.0.300/8"}, "remote_ip_prefix", "not an IP network"),
        ({"remote_ip_prefix": 10}, "remote_ip_prefix", "not an IP network"),
        ({"remote_group_id": "nope"}, "remote_group_id", "not a UUID"),
        (
            {"remote_group_id": OTHER, "remote_ip_prefix": "10.0.0.0/8"},
            "remote_group_id",
            "cannot both",
        ),
        ({"description": "x" * 256}, "description", "255"),
        ({"description": 5}, "description", "text"),
        ({"project_id": 0}, "project_id", "1.."),
        ({"region_id": "eu"}, "region_id", "whole number"),
        ({"adopt_existing": "yes"}, "adopt_existing", "boolean"),
        ({"port_min": 22}, "port_min", "did you mean 'port_range_min'"),
        ({"revision_number": 0}, "revision_number", "output"),
    ],
)
def test_rejections_name_the_input(news: dict[str, Any], key: str, words: str) -> None:
    _, failures = run(**news)
    assert key in failures, failures
    assert words in failures[key]


def test_every_problem_is_reported_at_once() -> None:
    _, failures = run(direction="up", protocol="tcp", port_range_min=0, port_range_max=5, x=1)
    assert set(failures) == {"direction", "port_range_min", "x"}


def test_missing_project_and_region_say_how_to_set_them() -> None:
    outcome = check_inputs({"group_id": GROUP, "direction": "ingress"}, Defaults())
    failures = dict(outcome.failures)
    assert "gcore:projectId" in failures["project_id"]
    assert "GCORE_CLOUD_PROJECT_ID" in failures["project_id"]
    assert "GCORE_CLOUD_REGION_ID" in failures["region_id"]


def test_resource_values_win_over_config() -> None:
    inputs, _ = run(project_id=5, region_id=6)
    assert (inputs["project_id"], inputs["region_id"]) == (5, 6)


def test_unknowns_are_kept_and_the_rest_still_checked() -> None:
    unknown = Unknown()
    inputs, failures = run(
        group_id=unknown, remote_ip_prefix=unknown, protocol="tcp", port_range_min=0,
        port_range_max=unknown, description=7,
    )  # fmt: skip
    assert inputs["group_id"] is unknown
    assert inputs["ethertype"] is unknown  # follows the prefix
    assert set(failures) == {"description"}


def test_unknown_protocol_skips_port_rules() -> None:
    _, failures = run(protocol=Unknown(), port_range_min=22, port_range_max=22)
    assert failures == {}


@pytest.mark.parametrize("bad", ["", "1.2.3", "10.0.0.0/33", "fe80::/129", "host.example"])
def test_parse_prefix_rejects(bad: str) -> None:
    with pytest.raises(InvalidInput):
        parse_prefix(bad)


def test_parse_port_bounds() -> None:
    assert parse_port(0) == 0
    assert parse_port(65535) == 65535
    with pytest.raises(InvalidInput):
        parse_port(65536)


def test_parse_uuid_canonical() -> None:
    assert parse_uuid(f" {GROUP.upper()} ", "group_id") == GROUP


def test_duplicate_key_ignores_description_and_equates_any_prefixes() -> None:
    a, _ = run(description="one", remote_ip_prefix="0.0.0.0/0")
    b, _ = run(description="two")
    c, _ = run(ethertype="IPv6", remote_ip_prefix="::/0")
    d, _ = run(ethertype="IPv6")
    assert duplicate_key(a) == duplicate_key(b)
    assert duplicate_key(c) == duplicate_key(d)
    assert duplicate_key(a) != duplicate_key(c)


@pytest.mark.parametrize(
    "news",
    [
        {"protocol": "icmp", "ethertype": "IPv6"},
        {"protocol": "icmp", "remote_ip_prefix": "2001:db8::/32"},
        {"protocol": Protocol.ICMP, "ethertype": Ethertype.IPV6, "port_range_min": 128},
    ],
)
def test_icmp_with_ipv6_is_stored_as_neutron_stores_it(news: dict[str, Any]) -> None:
    inputs, failures = run(**news)
    assert failures == {}
    assert inputs["protocol"] == "ipv6-icmp"


def test_icmp_with_ipv4_stays_icmp() -> None:
    assert run(protocol="icmp")[0]["protocol"] == "icmp"


def test_ipv4_mapped_prefixes_match_gcores_spelling_and_duplicate_key() -> None:
    inputs, failures = run(remote_ip_prefix="::ffff:10.0.0.1")
    assert failures == {} and inputs["remote_ip_prefix"] == "::ffff:10.0.0.1/128"
    stored = dict(inputs, remote_ip_prefix="::ffff:a00:1/128")  # as Python < 3.13 prints it
    assert duplicate_key(stored) == duplicate_key(inputs)


SECRETISH = "Zq9-secret-value"


@pytest.mark.parametrize(
    "key",
    ["group_id", "direction", "ethertype", "protocol", "port_range_min", "port_range_max",
     "remote_ip_prefix", "remote_group_id", "description", "project_id", "region_id",
     "adopt_existing"],
)  # fmt: skip
def test_failure_reasons_never_quote_the_value(key: str) -> None:
    value: Any = SECRETISH if key != "description" else 42
    _, failures = run(**{key: value})
    assert key in failures
    assert SECRETISH not in failures[key] and "42" not in failures[key]


def test_cross_field_reasons_never_quote_values() -> None:
    _, failures = run(protocol="tcp", port_range_min=4242, port_range_max=4141,
                      ethertype="IPv6", remote_ip_prefix="198.51.100.0/24")  # fmt: skip
    text = " ".join(failures.values())
    assert failures and "4242" not in text and "4141" not in text and "198.51" not in text


@pytest.mark.parametrize("value", ["²", "٣", "\uff11", "+1", "-1", " 22", "0x10", "1_000"])
def test_ports_are_plain_ascii_digits_only(value: str) -> None:
    _, failures = run(protocol="tcp", port_range_min=value, port_range_max=22)
    assert "port_range_min" in failures


def test_remote_group_id_must_be_a_version_4_uuid() -> None:
    _, failures = run(remote_group_id="00000000-0000-1000-8000-000000000000")
    assert "version-4" in failures["remote_group_id"]
    inputs, failures = run(remote_group_id=OTHER.upper())
    assert failures == {} and inputs["remote_group_id"] == OTHER


def test_a_zone_id_is_refused() -> None:
    _, failures = run(remote_ip_prefix="fe80::1%eth0")
    assert "zone" in failures["remote_ip_prefix"]
