"""Property values on the engine's wire: encoded with the SDK's own codecs, checked as the
engine checks them.

- numbers travel as floats (3 -> 3.0): that is the protobuf Struct, not a driver choice;
- unknown values ("computed during preview") travel as the ``rpc.UNKNOWN`` string, and
  come back as :data:`UNKNOWN` (``rpc.deserialize_properties(..., keep_unknowns=True)``);
- secret wrappers are removed before properties are sent (:func:`strip_secrets`), as the
  engine does for a provider that does not accept secrets;
- an answer that is not a property map, or that holds unknowns outside preview, is one the
  engine rejects: :class:`EngineError`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Final, TypeVar

from pulumi.output import Unknown
from pulumi.runtime import rpc

__all__ = [
    "UNKNOWN",
    "EngineError",
    "deserialize",
    "is_unknown",
    "reject_unknowns",
    "run_sync",
    "serialize",
    "strip_secrets",
]

UNKNOWN: Final[str] = rpc.UNKNOWN
"""A value that is unknown during preview. It is the very string the engine puts on the wire."""

_T = TypeVar("_T")


class EngineError(Exception):
    """The provider answered, but the engine would reject the answer (and fail the step)."""


def is_unknown(value: object) -> bool:
    """True for the `UNKNOWN` string and for `pulumi.output.Unknown` instances."""
    return isinstance(value, Unknown) or (isinstance(value, str) and value == UNKNOWN)


def strip_secrets(value: Any) -> Any:
    """Remove secret wrappers ({sig: secret, "value": v}) at any depth, as the engine does
    before calling a provider that does not accept secrets."""
    if rpc.is_rpc_secret(value):
        return strip_secrets(value["value"])
    if isinstance(value, Mapping):
        return {k: strip_secrets(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strip_secrets(v) for v in value]
    return value


def _unknowns_to_sentinel(value: Any) -> Any:
    if isinstance(value, Unknown):
        return UNKNOWN
    if isinstance(value, dict):
        return {k: _unknowns_to_sentinel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unknowns_to_sentinel(v) for v in value]
    return value


def _contains_unknowns(value: Any) -> bool:
    if is_unknown(value):
        return True
    if isinstance(value, dict):
        return any(_contains_unknowns(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_unknowns(v) for v in value)
    return False


def reject_unknowns(method: str, urn: str, props: Mapping[str, Any]) -> None:
    """Fail as the engine does when ``method``'s answer holds unknowns outside preview."""
    if _contains_unknowns(dict(props)):
        raise EngineError(
            f"{method}({urn}) returned unknown property values, which the engine rejects "
            f"outside preview: {sorted(k for k, v in props.items() if _contains_unknowns(v))}"
        )


def _run_in_private_loop(factory: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(factory())
    finally:
        loop.close()


def run_sync(factory: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    """Run an SDK coroutine to completion in a private event loop.

    In a thread that is already running an event loop (a Pulumi program, an async test), the
    private loop runs in a helper thread instead, since a thread can run only one loop.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run_in_private_loop(factory)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_run_in_private_loop, factory).result()


def serialize(props: Mapping[str, Any], *, keep_secrets: bool = False) -> Any:
    """Properties -> google.protobuf.Struct, with the SDK's own codec (what the engine sends);
    secret wrappers are removed unless ``keep_secrets``."""
    plain = props if keep_secrets else strip_secrets(props)
    return run_sync(lambda: rpc.serialize_properties(plain, {}))


def deserialize(struct: Any) -> dict[str, Any]:
    """A google.protobuf.Struct -> properties, unknowns as :data:`UNKNOWN`."""
    props = rpc.deserialize_properties(struct, keep_unknowns=True)
    if not isinstance(props, dict):  # an asset/archive/resource at the top level: not a bag
        raise EngineError(f"expected a property map, got {type(props).__name__}")
    result: dict[str, Any] = _unknowns_to_sentinel(props)
    return result
