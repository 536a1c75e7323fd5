"""Neutron's spellings: prefixes printed as netaddr prints them, IPv6 ICMP stored canonically.

``format_ipv6`` is checked against the C library's ``inet_ntop`` (which netaddr, and so
Neutron, uses to print IPv6), never against Python's ``ipaddress``, whose output for
IPv4-mapped addresses differs across Python versions.
"""

from __future__ import annotations

import ipaddress
import socket
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gcore_pulumi.testing import GcoreEmulator
from gcore_pulumi.testing.neutron import (
    RuleValidationError,
    canonical_protocol,
    duplicate_key,
    find_duplicate,
    format_ipv6,
    normalize_ip_prefix,
    prefix_key,
    validate_rule_body,
)

pytest_plugins = ["gcore_pulumi.testing.pytest_plugin"]

# Addresses with runs of zero groups, where the interesting cases are.
_words = st.lists(
    st.one_of(st.just(0), st.just(0xFFFF), st.integers(0, 0xFFFF)), min_size=8, max_size=8
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc inet_ntop is the oracle")
@settings(max_examples=500, deadline=None)
@given(words=_words)
def test_format_ipv6_matches_inet_ntop(words: list[int]) -> None:
    value = int("".join(f"{w:04x}" for w in words), 16)
    expected = socket.inet_ntop(socket.AF_INET6, value.to_bytes(16, "big"))
    assert format_ipv6(value) == expected


@pytest.mark.parametrize(
    ("given_prefix", "stored"),
    [
        ("::ffff:10.0.0.1", "::ffff:10.0.0.1/128"),
        ("::ffff:a00:1/128", "::ffff:10.0.0.1/128"),
        ("::ffff:10.0.0.0/104", "::ffff:10.0.0.0/104"),
        ("::10.0.0.1", "::10.0.0.1/128"),
        ("::1", "::1/128"),
        ("::", "::/128"),
        ("::/0", "::/0"),
        ("2001:DB8::1/32", "2001:db8::/32"),
        ("1:0:0:1:0:0:0:1", "1:0:0:1::1/128"),
        ("10.1.2.3/8", "10.0.0.0/8"),
        ("192.168.0.1", "192.168.0.1/32"),
    ],
)
def test_prefixes_are_stored_as_neutron_prints_them(given_prefix: str, stored: str) -> None:
    assert normalize_ip_prefix(given_prefix) == stored


def test_prefix_key_compares_networks() -> None:
    assert prefix_key("::ffff:10.0.0.1/128") == prefix_key("::ffff:a00:1/128")
    assert prefix_key("10.0.0.1") == prefix_key("10.0.0.1/32")
    assert prefix_key("0.0.0.0/0") is None and prefix_key("::/0") is None
    assert prefix_key(None) is None
    assert prefix_key("10.0.0.0/8") != prefix_key("10.0.0.0/16")
    assert prefix_key("::ffff:10.0.0.1/128") != prefix_key("10.0.0.1/32")


def test_ipv6_icmp_canonical_protocol() -> None:
    assert canonical_protocol("icmp", "IPv6") == "ipv6-icmp"
    assert canonical_protocol("icmpv6", "IPv6") == "ipv6-icmp"
    assert canonical_protocol("icmp", "IPv4") == "icmp"
    assert canonical_protocol("any", "IPv4") is None
    spec, _ = validate_rule_body({"direction": "ingress", "ethertype": "IPv6", "protocol": "icmp"})
    assert spec["protocol"] == "ipv6-icmp"
    a = {"direction": "ingress", "ethertype": "IPv6", "protocol": "icmp"}
    b = {**a, "protocol": "ipv6-icmp"}
    assert duplicate_key("g", a) == duplicate_key("g", b)


def test_icmpv6_is_not_in_the_enum() -> None:
    for v2 in (False, True):
        with pytest.raises(RuleValidationError) as info:
            validate_rule_body(
                {"direction": "ingress", "ethertype": "IPv6", "protocol": "icmpv6"}, v2=v2
            )
        assert "protocol" in info.value.invalid_fields


def test_duplicate_check_matches_other_spellings(gcore_emulator: GcoreEmulator) -> None:
    group_id = gcore_emulator.create_group(name="g")
    mapped = {"direction": "ingress", "ethertype": "IPv6", "remote_ip_prefix": "::ffff:10.0.0.1"}
    rule = gcore_emulator.add_rule(group_id, **mapped)
    assert rule["remote_ip_prefix"] == "::ffff:10.0.0.1/128"
    with pytest.raises(ValueError, match="already exists"):
        gcore_emulator.add_rule(group_id, **{**mapped, "remote_ip_prefix": "::ffff:a00:1/128"})
    # an old state string written by another Python version still finds the rule
    spelled = {**mapped, "remote_ip_prefix": str(ipaddress.ip_network("::ffff:a00:1/128"))}
    spec, _ = validate_rule_body(spelled)
    assert find_duplicate(group_id, spec, gcore_emulator.rules(group_id)) == rule["id"]
