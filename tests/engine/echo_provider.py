"""A throwaway dynamic provider used to test the engine driver (tests/engine/test_driver.py).

It lives at the top level of an importable module so that dill pickles it BY REFERENCE: the
provider process imports this module (the driver's child needs the repository root on
PYTHONPATH). It keeps no state at pickle time; `configure` runs in the provider process.
"""

from __future__ import annotations

import sys
from typing import Any

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)
from pulumi.output import Output, Unknown


class EchoProvider(ResourceProvider):
    """Echoes what it is given, with a few switches driven by property names.

    - check: returns news unchanged; a failure for key "bad", and one failure per Unknown value
      (reason "unknown"), so tests can see which values arrived as `pulumi.output.Unknown`.
    - create: id "id-1", outs = props + {"made": True}; prints to stdout and stderr; raises if
      props has "explode"; adds the configured value of props["want_config"] as "config_value";
      returns an empty id if props has "empty_id".
    - diff: changes=True, replaces ["x"] when x differs.
    - read: ReadResult(id, props, inputs=props), or an empty id (gone) if props has "gone".
    - update: returns news. delete: nothing.
    """

    def configure(self, req: ConfigureRequest) -> None:
        self._config = req.config

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = [
            CheckFailure(key, "unknown") for key, v in news.items() if isinstance(v, Unknown)
        ]
        if "bad" in news:
            failures.append(CheckFailure("bad", "bad is not allowed"))
        return CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> CreateResult:
        if "explode" in props:
            raise RuntimeError(f"kaboom: {props['explode']}")
        print(f"echo-create stdout x={props.get('x')}")
        print(f"echo-create stderr x={props.get('x')}", file=sys.stderr)
        outs = {**props, "made": True}
        if "want_config" in props:
            outs["config_value"] = self._config.get(props["want_config"])
        return CreateResult("" if "empty_id" in props else "id-1", outs)

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        if olds.get("x") != news.get("x"):
            return DiffResult(changes=True, replaces=["x"], delete_before_replace=True)
        return DiffResult(changes=False, replaces=[], delete_before_replace=False)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        if "gone" in props:
            return ReadResult("", {})
        return ReadResult(id_, props, inputs=props)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(news)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        return None


class Echo(Resource, module="test", name="Echo"):
    """A dynamic resource backed by EchoProvider: type token pulumi-python:dynamic/test:Echo.

    Only the keys of `props` become attributes; the annotations are for type checkers.
    """

    x: Output[Any]
    made: Output[Any]

    def __init__(self, name: str, props: dict[str, Any], opts: Any = None) -> None:
        super().__init__(EchoProvider(), name, {**props, "made": None}, opts)
