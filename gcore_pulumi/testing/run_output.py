"""How the program runner prints: values, inputs on one line, drift, errors, and every secret
value masked as ``[secret]`` wherever it would appear."""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Collection, Mapping
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Final, TextIO

from pulumi.runtime import rpc

from .engine import PROVIDER_KEY, CheckFailedError, ProviderRpcError
from .mocks import MockedResource
from .run_report import Refreshed

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = [
    "HAND_RULE",
    "SECRET_SHOWN",
    "UNKNOWN_SHOWN",
    "Printer",
    "add_rule_hint",
    "as_text",
    "changes",
    "delete_hint",
    "drift_text",
    "error_line",
    "fields",
    "is_secret",
    "label",
    "secret_strings",
]

SECRET_SHOWN: Final = "[secret]"
#: How a value not known before up (an id Gcore has not given yet) is shown in the plan.
UNKNOWN_SHOWN: Final = "(known after up)"


def _shown(value: Any) -> Any:
    """A value as it is printed: whole floats as integers (numbers travel as floats)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value == rpc.UNKNOWN:  # the engine's placeholder, not a real value (an id in a preview)
        return UNKNOWN_SHOWN
    if isinstance(value, dict):
        return {k: _shown(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shown(v) for v in value]
    return value


def as_text(value: Any) -> str:
    shown = _shown(value)
    return shown if isinstance(shown, str) else json.dumps(shown, sort_keys=True, default=str)


def error_line(exc: BaseException) -> str:
    """An exception in one line; a provider's traceback by its last line (the exception);
    Check failures as the CLI words them, ``; ``-separated."""
    if isinstance(exc, ProviderRpcError):
        lines = [line.strip() for line in exc.details.splitlines() if line.strip()]
        return f"{exc.method} failed: {lines[-1] if lines else exc.code}"
    if isinstance(exc, CheckFailedError):
        return "; ".join(
            f"property {prop} value {as_text(exc.inputs.get(prop))} has a problem: {reason}"
            if prop
            else f"has a problem: {reason}"
            for prop, reason in exc.failures
        )
    return " ".join((str(exc).strip() or type(exc).__name__).split())


def _forms(secrets: Collection[str]) -> set[str]:
    """Each secret, and each as it appears inside printed JSON (quotes, backslashes and
    non-ASCII characters escaped)."""
    return {
        form
        for secret in secrets
        if secret
        for form in (
            secret,
            json.dumps(secret)[1:-1],
            json.dumps(secret, ensure_ascii=False)[1:-1],
        )
    }


class Printer:
    """Writes to the output stream with every secret value replaced by ``[secret]``."""

    def __init__(self, out: TextIO, secrets: Collection[str]) -> None:
        self._out = out
        # Longest first, so a secret containing another is replaced whole.
        self._secrets = sorted(_forms(secrets), key=len, reverse=True)
        self._lock = threading.Lock()
        self._closed = False

    def add_secrets(self, secrets: Collection[str]) -> None:
        """Hide these values too from now on (a program's secret inputs, once they are known)."""
        forms = _forms(secrets)
        with self._lock:
            self._secrets = sorted(set(self._secrets) | forms, key=len, reverse=True)

    def hide(self, text: str) -> str:
        """``text`` as it is printed: every secret replaced."""
        with self._lock:
            secrets = list(self._secrets)
        for secret in secrets:
            text = text.replace(secret, SECRET_SHOWN)
        return text

    def __call__(self, text: str = "") -> None:
        text = self.hide(text)
        with self._lock:
            if self._closed:
                return
            try:
                self._out.write(text + "\n")
                self._out.flush()
            except (OSError, ValueError):
                # The reader went away (`... | head`, a closed terminal): stop printing, but
                # finish the run, so that the destroy still deletes what was created.
                self._closed = True
                _silence(self._out)


def _silence(out: TextIO) -> None:
    """Point a dead standard stream at /dev/null, so that the interpreter's own flush at exit
    does not fail on it again."""
    if out not in (sys.stdout, sys.stderr):
        return
    with suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())
        os.close(devnull)


def label(resource: MockedResource) -> str:
    return f"{resource.type_token}  {resource.name}"


def is_secret(value: Any) -> bool:
    if rpc.is_rpc_secret(value):
        return True
    if isinstance(value, Mapping):
        return any(is_secret(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(is_secret(v) for v in value)
    return False


def secret_strings(value: Any) -> list[str]:
    """Every string (and the JSON of every other scalar) inside a secret value."""
    if rpc.is_rpc_secret(value):
        value = value.get("value")
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in secret_strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in secret_strings(v)]
    if value is None or isinstance(value, bool):
        return []
    return [value if isinstance(value, str) else json.dumps(_shown(value))]


def _compact(value: Any) -> str:
    shown = _shown(value)
    if shown == UNKNOWN_SHOWN and value == rpc.UNKNOWN:
        return UNKNOWN_SHOWN
    if isinstance(shown, str):
        return shown if shown and not any(c.isspace() for c in shown) else json.dumps(shown)
    return json.dumps(shown, sort_keys=True, default=str, separators=(",", ":"))


#: Shown first, in this order; a rule's port range as one ``ports=``.
_FIRST: Final = ("name", "direction", "ethertype", "protocol", "ports")
#: Where the resource lives: shown with --show-outputs only.
_PLACE: Final = frozenset({"project_id", "region_id"})


def fields(props: Mapping[str, Any], secret_keys: Collection[str]) -> str:
    """The inputs that say something, ``key=value`` on one line: secrets masked; None, empty
    and false values, the project and region and the pickled provider left out."""
    values = {
        key: value
        for key, value in props.items()
        if key != PROVIDER_KEY and key not in _PLACE and value not in (None, False, "", [], {})
    }
    low, high = values.get("port_range_min"), values.get("port_range_max")
    if low is not None and not ({"port_range_min", "port_range_max"} & set(secret_keys)):
        del values["port_range_min"]
        values.pop("port_range_max", None)
        values["ports"] = _shown(low) if high in (None, low) else f"{_shown(low)}-{_shown(high)}"
    order = [k for k in _FIRST if k in values] + sorted(k for k in values if k not in _FIRST)
    parts = [f"{k}={SECRET_SHOWN if k in secret_keys else _compact(values[k])}" for k in order]
    return " ".join(parts) or "(no inputs)"


def _api_place(
    resource: MockedResource, config: Mapping[str, str], env: Mapping[str, str]
) -> tuple[Settings, Any, Any]:
    """The provider's settings as the provider resolves them (``config`` first, then ``env``,
    the provider process's environment), and the resource's project and region."""
    from ..settings import Settings

    settings, _ = Settings.load_lenient(config.get, env)
    outputs = resource.outputs
    project = _shown(outputs.get("project_id") or settings.project_id or "P")
    region = _shown(outputs.get("region_id") or settings.region_id or "R")
    return settings, project, region


def delete_hint(resource: MockedResource, config: Mapping[str, str], env: Mapping[str, str]) -> str:
    """How to delete a left-behind Gcore resource without the Pulumi CLI: one curl command
    (the API key from $GCORE_API_KEY, never printed). The base URL, the default project and
    region and the rule API are the provider's settings (``config`` first, then ``env``, the
    provider process's environment), so the command goes where the provider's calls went."""
    from ..api import urls

    settings, project, region = _api_place(resource, config, env)
    outputs = resource.outputs
    kind = resource.type_token.rsplit(":", 1)[-1]
    if kind == "SecurityGroup":
        path = urls.group(project, region, str(resource.id))
    elif kind == "SecurityGroupRule" and settings.rule_api == "v2":
        group = str(outputs.get("group_id") or resource.inputs.get("group_id") or "G")
        path = urls.rule_v2(project, region, group, str(resource.id))
    elif kind == "SecurityGroupRule":
        path = urls.rule_v1(project, region, str(resource.id))
    else:
        return "delete it where it was made (it is not a Gcore security group or rule)"
    return f'curl -X DELETE -H "Authorization: APIKey $GCORE_API_KEY" {settings.base_url}{path}'


#: The rule the pause suggests adding by hand to a group that owns its rule set: a port from
#: a documentation-only network (RFC 5737), so it opens nothing reachable.
HAND_RULE: Final = {
    "direction": "ingress",
    "ethertype": "IPv4",
    "protocol": "tcp",
    "port_range_min": 3389,
    "port_range_max": 3389,
    "remote_ip_prefix": "192.0.2.0/24",
    "description": "by hand",
}


def add_rule_hint(group: MockedResource, config: Mapping[str, str], env: Mapping[str, str]) -> str:
    """A curl command that adds :data:`HAND_RULE` to ``group`` by hand, by the rule API the
    provider uses (the API key from $GCORE_API_KEY, never printed)."""
    from ..api import urls

    settings, project, region = _api_place(group, config, env)
    rules = urls.rules_v2 if settings.rule_api == "v2" else urls.rules_v1
    path = rules(project, region, str(group.id))
    body = json.dumps(HAND_RULE, separators=(",", ":"))
    return (
        f'curl -X POST -H "Authorization: APIKey $GCORE_API_KEY" '
        f"-H 'Content-Type: application/json' -d '{body}' {settings.base_url}{path}"
    )


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {
        key: (before.get(key), after.get(key))
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }


def _rule_list(value: Any) -> list[Any] | None:
    """A group's rule list as read (each rule a mapping), or None for anything else."""
    if isinstance(value, list) and all(isinstance(rule, Mapping) for rule in value):
        return [_shown(rule) for rule in value]
    return None if value is not None else []


def _rules_drift(old: Any, new: Any) -> tuple[str, list[str]] | None:
    """A group's ``rules`` drift as a count, and a line per rule removed (``-``) and added
    (``+``), each rule on one line as the inputs are; None when they are not rule lists."""
    before, after = _rule_list(old), _rule_list(new)
    if before is None or after is None:
        return None
    removed = [rule for rule in before if rule not in after]
    added = [rule for rule in after if rule not in before]
    lines = [f"      rules - {fields(rule, ())}" for rule in removed]
    lines += [f"      rules + {fields(rule, ())}" for rule in added]
    return f"rules: {len(added)} added, {len(removed)} removed (below)", lines


def drift_text(found: Refreshed, secret_keys: Collection[str] = ()) -> str:
    """``drift: key: old -> new; ...`` on one line; a group's rules as the rules removed and
    added, one line each under it."""
    if not found.changes:
        return "no drift"
    parts: list[str] = []
    below: list[str] = []
    for key, (old, new) in found.changes.items():
        rules = _rules_drift(old, new) if key == "rules" and key not in secret_keys else None
        if key in secret_keys:
            parts.append(f"{key}: {SECRET_SHOWN} -> {SECRET_SHOWN} (changed)")
        elif rules is not None:
            parts.append(rules[0])
            below += rules[1]
        else:
            parts.append(
                f"{key}: {json.dumps(_shown(old), default=str)} -> "
                f"{json.dumps(_shown(new), default=str)}"
            )
    return "\n".join(["drift: " + "; ".join(parts), *below])
