"""The emulator's URL router: one table of (method, path pattern, handler).

In a pattern, ``{project_id}`` and ``{region_id}`` match decimal integers only (parsed once,
into :attr:`Request.project_id` / :attr:`Request.region_id`); any other ``{name}`` matches one
non-empty path segment. A path no pattern matches is a 404; a path some pattern matches with
another method is a 405 with ``Allow``. Every route takes the state's lock and lets due tasks
finish before it runs, so a task's change is visible to the very next request.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from gcore_pulumi.testing.bodies import parse_group_query, parse_task_query
from gcore_pulumi.testing.errors import ApiError, not_found, validation_error
from gcore_pulumi.testing.neutron import RuleValidationError
from gcore_pulumi.testing.service import CloudState

__all__ = ["ROUTES", "Request", "Route", "Router"]

_SG = "/cloud/v1/securitygroups/{project_id}/{region_id}"
_SGR = "/cloud/v1/securitygrouprules/{project_id}/{region_id}"
_V2 = "/cloud/v2/security_groups/{project_id}/{region_id}"
_INT_PARAMS = frozenset({"project_id", "region_id"})


@dataclass(frozen=True)
class Request:
    """One routed request: path parameters, query and a lazily parsed JSON body."""

    method: str
    params: dict[str, str]
    query: dict[str, list[str]]
    body: Callable[[], Any]
    request_id: str
    project_id: int = 0
    region_id: int = 0

    def __getitem__(self, name: str) -> str:
        """A string path parameter such as ``group_id``."""
        return self.params[name]


Response = tuple[int, Any]
Handler = Callable[[CloudState, Request], Response]


@dataclass(frozen=True)
class Route:
    """``method`` on paths matching ``pattern`` is answered by ``handler``."""

    method: str
    pattern: str
    handler: Handler
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        def group(match: re.Match[str]) -> str:
            name = match.group(1)
            return f"(?P<{name}>[0-9]+)" if name in _INT_PARAMS else f"(?P<{name}>[^/]+)"

        object.__setattr__(self, "regex", re.compile(re.sub(r"\{(\w+)\}", group, self.pattern)))


# -- handlers: one per endpoint, each the state operation plus its status ------------------
def _list_groups(s: CloudState, q: Request) -> Response:
    return 200, s.list_groups(q.project_id, q.region_id, parse_group_query(q.query))


def _get_group(s: CloudState, q: Request) -> Response:
    return 200, s.get_group(q.project_id, q.region_id, q["group_id"])


def _delete_group(s: CloudState, q: Request) -> Response:
    s.delete_group(q.project_id, q.region_id, q["group_id"])
    return 204, None


def _create_rule_v1(s: CloudState, q: Request) -> Response:
    return 200, s.create_rule_v1(q.project_id, q.region_id, q["group_id"], q.body())


def _delete_rule_v1(s: CloudState, q: Request) -> Response:
    s.delete_rule_v1(q.project_id, q.region_id, q["rule_id"])
    return 204, None


def _replace_rule_v1(s: CloudState, q: Request) -> Response:
    return 200, s.replace_rule_v1(q.project_id, q.region_id, q["rule_id"], q.body())


def _create_group_v2(s: CloudState, q: Request) -> Response:
    return 200, s.create_group_v2(q.project_id, q.region_id, q.body(), q.request_id)


def _patch_group_v2(s: CloudState, q: Request) -> Response:
    return 200, s.patch_group_v2(q.project_id, q.region_id, q["group_id"], q.body(), q.request_id)


def _create_rule_v2(s: CloudState, q: Request) -> Response:
    return 200, s.create_rule_v2(q.project_id, q.region_id, q["group_id"], q.body(), q.request_id)


def _delete_rule_v2(s: CloudState, q: Request) -> Response:
    return 200, s.delete_rule_v2(
        q.project_id, q.region_id, q["group_id"], q["rule_id"], q.request_id
    )


def _list_tasks(s: CloudState, q: Request) -> Response:
    return 200, s.list_tasks(parse_task_query(q.query))


def _get_task(s: CloudState, q: Request) -> Response:
    return 200, s.get_task(q["task_id"])


#: Every endpoint the emulator serves.
ROUTES: tuple[Route, ...] = (
    Route("GET", _SG, _list_groups),
    Route("GET", _SG + "/{group_id}", _get_group),
    Route("DELETE", _SG + "/{group_id}", _delete_group),
    Route("POST", _SG + "/{group_id}/rules", _create_rule_v1),
    Route("DELETE", _SGR + "/{rule_id}", _delete_rule_v1),
    Route("PUT", _SGR + "/{rule_id}", _replace_rule_v1),
    Route("POST", _V2, _create_group_v2),
    Route("PATCH", _V2 + "/{group_id}", _patch_group_v2),
    Route("POST", _V2 + "/{group_id}/rules", _create_rule_v2),
    Route("DELETE", _V2 + "/{group_id}/rules/{rule_id}", _delete_rule_v2),
    Route("GET", "/cloud/v1/tasks", _list_tasks),
    Route("GET", "/cloud/v1/tasks/{task_id}", _get_task),
)


class Router:
    """Matches a request against :data:`ROUTES` and runs the handler under the lock."""

    def __init__(self, state: CloudState, routes: tuple[Route, ...] = ROUTES) -> None:
        self.state = state
        self.routes = routes

    def dispatch(
        self, method: str, target: str, body: Callable[[], Any], request_id: str = ""
    ) -> Response:
        """Answer ``method`` on ``target`` (path plus query): ``(status, JSON payload)``."""
        path, _, query_text = target.partition("?")
        allowed: list[str] = []
        for route in self.routes:
            match = route.regex.fullmatch(path)
            if match is None:
                continue
            if route.method != method:
                allowed.append(route.method)
                continue
            params = match.groupdict()
            request = Request(
                method=method,
                params={k: v for k, v in params.items() if k not in _INT_PARAMS},
                query=parse_qs(query_text, keep_blank_values=True),
                body=body,
                request_id=request_id,
                project_id=int(params.get("project_id") or 0),
                region_id=int(params.get("region_id") or 0),
            )
            with self.state.lock:
                self.state.settle()
                try:
                    return route.handler(self.state, request)
                except RuleValidationError as err:  # a bad query string
                    raise validation_error(err) from None
        if allowed:
            raise ApiError(
                405,
                "MethodNotAllowed",
                f"Method {method} is not allowed for this resource.",
                headers={"Allow": ", ".join(allowed)},
            )
        # never echo the query string (it may hold secrets)
        raise not_found(f"The requested resource {path} was not found.")
