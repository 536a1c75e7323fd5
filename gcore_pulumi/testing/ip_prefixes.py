"""IP prefixes as Neutron prints and compares them, as pure functions.

Part of the emulator's Gcore model (:mod:`gcore_pulumi.testing.neutron` re-exports every name
here): how an IPv6 address is printed, what canonical CIDR form a prefix is stored in, and what
two prefixes are compared by.
"""

from __future__ import annotations

import ipaddress

__all__ = ["format_ipv6", "normalize_ip_prefix", "prefix_key"]


def format_ipv6(value: int) -> str:
    """Print a 128-bit IPv6 address the way Neutron (netaddr, i.e. glibc ``inet_ntop``) does.

    The longest run of two or more zero groups (the first on a tie) becomes ``::``; groups
    are lowercase hex without leading zeros; an IPv4-mapped (``::ffff:a.b.c.d``) or
    IPv4-compatible (``::a.b.c.d``, not ``::1``) address ends in dotted decimal. Python's
    ``ipaddress`` differs on the last point, and differently across Python versions.
    """
    if not 0 <= value < 1 << 128:
        raise ValueError(f"not a 128-bit value: {value!r}")
    words = [(value >> (16 * (7 - i))) & 0xFFFF for i in range(8)]
    best_base, best_len, cur_base, cur_len = -1, 0, -1, 0
    for i, word in enumerate([*words, 1]):  # the sentinel closes a trailing run
        if word == 0 and i < 8:
            cur_base, cur_len = (i, 1) if cur_base == -1 else (cur_base, cur_len + 1)
            continue
        if cur_base != -1 and cur_len > best_len:
            best_base, best_len = cur_base, cur_len
        cur_base, cur_len = -1, 0
    if best_len < 2:
        best_base = -1
    parts: list[str] = []
    for i in range(8):
        if best_base != -1 and best_base <= i < best_base + best_len:
            if i == best_base:
                parts.append(":")
            continue
        if i != 0:
            parts.append(":")
        if i == 6 and best_base == 0 and (best_len == 6 or (best_len == 5 and words[5] == 0xFFFF)):
            parts.append(str(ipaddress.IPv4Address(value & 0xFFFFFFFF)))
            break
        parts.append(f"{words[i]:x}")
    if best_base != -1 and best_base + best_len == 8:
        parts.append(":")
    return "".join(parts)


def normalize_ip_prefix(value: str) -> str:
    """Return ``value`` in the canonical CIDR form the backend stores and prints.

    Host bits are cleared (``10.1.2.3/8`` -> ``10.0.0.0/8``) and a bare address becomes a
    single-host network (``/32`` or ``/128``). IPv6 is printed as netaddr prints it (see
    :func:`format_ipv6`): ``::ffff:10.0.0.1/128``, whatever Python's version. Raises
    ``ValueError`` for anything that is not an IPv4 or IPv6 network.
    """
    network = ipaddress.ip_network(value.strip(), strict=False)
    if network.version == 4:
        return str(network)
    return f"{format_ipv6(int(network.network_address))}/{network.prefixlen}"


def prefix_key(prefix: object) -> object:
    """What two prefixes are compared by: the network, not its spelling.

    None and the match-everything networks (``0.0.0.0/0``, ``::/0``) all give None, as in
    Neutron's duplicate check. A string that is not a network is compared as itself.
    """
    if prefix is None:
        return None
    try:
        network = ipaddress.ip_network(str(prefix).strip(), strict=False)
    except ValueError:
        return prefix
    if network.prefixlen == 0:
        return None
    return (network.version, int(network.network_address), network.prefixlen)
