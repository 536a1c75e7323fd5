"""A local, in-memory emulator of the Gcore Cloud API for security group rules.

The provider under test talks HTTP to this server exactly as it would to
``https://api.gcore.com``, so tests exercise the real client code: authentication, JSON
encoding, status handling, keep-alive connection reuse, retries. The emulator follows the
published API and the Neutron backend's rules (see :mod:`gcore_pulumi.testing.neutron`), not
any client's expectations; behaviour a client must not depend on (such as PUT returning a new
rule id) is reproduced on purpose.

The endpoints are the table in :mod:`gcore_pulumi.testing.routes` (v1 rules and groups,
v2 groups and rules with tasks, tasks); what each does is :mod:`gcore_pulumi.testing.service`.
The wire is :mod:`gcore_pulumi.testing.http_server` (authentication, latency, the request
log of :mod:`gcore_pulumi.testing.request_log`, faults as :mod:`gcore_pulumi.testing.answers`
writes them). This module is the :class:`GcoreEmulator` facade over both: the server's
lifecycle, the settings, and the out-of-band controls; one lock guards all state.
"""

from __future__ import annotations

import copy
import math
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from gcore_pulumi.testing.errors import ApiError
from gcore_pulumi.testing.faults import FaultInjector
from gcore_pulumi.testing.http_server import Serving, http_url
from gcore_pulumi.testing.request_log import RequestLog, RequestRecord
from gcore_pulumi.testing.routes import Router
from gcore_pulumi.testing.service import CloudState, DuplicateMode, check_duplicate_mode

__all__ = ["ApiError", "GcoreEmulator", "RequestRecord"]


def _stderr_line(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _check_delay(seconds: float) -> float:
    """A task delay: a finite number of seconds >= 0 (ValueError otherwise)."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise ValueError(f"a task delay must be a number of seconds, got {seconds!r}")
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ValueError(f"a task delay must be finite and >= 0, got {seconds!r}")
    return float(seconds)


class GcoreEmulator:
    """An in-process Gcore Cloud API (security groups, rules, tasks) on a loopback port.

    Use it as a context manager or call :meth:`start` / :meth:`stop`. Point the client at
    :attr:`base_url` with :attr:`api_key`. Out-of-band methods (:meth:`create_group`,
    :meth:`add_rule`, :meth:`remove_rule`, :meth:`delete_group`, :meth:`update_group`,
    :meth:`add_read_only_tag`, :meth:`mark_in_use`) simulate someone changing things behind
    the client's back; :attr:`faults` injects failures; :attr:`task_delay`,
    :attr:`task_delays`, :meth:`fail_tasks` and :meth:`finish_tasks` steer asynchronous
    tasks; :attr:`duplicate_mode` picks how a duplicate v2 rule is refused; :attr:`requests`
    shows what the client sent.

    ``on_notice`` receives one line when a client misuses the emulator itself (today: a TLS
    handshake, from an https:// base URL, on this plain http server); by default the line
    goes to stderr.
    """

    def __init__(
        self,
        api_key: str = "test-api-key",
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int | None = None,
        *,
        task_delay: float = 0.05,
        task_delays: Mapping[str, float] | None = None,
        duplicate_mode: DuplicateMode = "409",
        on_notice: Callable[[str], None] | None = None,
        latency: float = 0.0,
    ) -> None:
        self.api_key = api_key
        self.latency = _check_delay(latency)
        """Seconds added to every request before it is handled (a realistic distance to
        Gcore for benchmarks, e.g. 0.03); 0 by default."""
        self._on_notice = on_notice or _stderr_line
        self.host = host
        self.port = port
        self.faults = FaultInjector(seed)
        self._state = CloudState(
            seed,
            task_delay=_check_delay(task_delay),
            task_delays={k: _check_delay(v) for k, v in (task_delays or {}).items()},
            duplicate_mode=check_duplicate_mode(duplicate_mode),
        )
        self._log = RequestLog()
        self._router = Router(self._state)
        self._serving = Serving(self)

    def _notice(self, text: str) -> None:
        """Tell the person running the emulator about a client's mistake (one line)."""
        self._on_notice(f"gcore emulator: {text}")

    @contextmanager
    def _settled(self) -> Iterator[None]:
        """Hold the state's lock, with every task that is due by now finished."""
        with self._state.lock:
            self._state.settle()
            yield

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> GcoreEmulator:
        """Bind and serve in a daemon thread. Idempotent; returns self for chaining."""
        self._serving.start(self.host, self.port)
        return self

    def stop(self) -> None:
        """Stop serving, close every connection and the listening socket. Idempotent."""
        self._serving.stop()

    def __enter__(self) -> GcoreEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running server (raises if not started)."""
        port = self._serving.port
        if port is None:
            raise RuntimeError("the emulator is not running; call start() first")
        return http_url(self.host, port)

    def stack_config(self, project_id: int = 1, region_id: int = 1, **extra: str) -> dict[str, str]:
        """Stack config that points the provider at this emulator (for Configure, or for
        ``pulumi config set``); ``extra`` adds or overrides keys such as ``gcore:timeout``."""
        config = {
            "gcore:apiKey": self.api_key,
            "gcore:baseUrl": self.base_url,
            "gcore:projectId": str(project_id),
            "gcore:regionId": str(region_id),
        }
        config.update(extra)
        return config

    @property
    def connections_accepted(self) -> int:
        """TCP connections accepted so far: lets tests check keep-alive reuse."""
        return self._serving.connections_accepted

    # -- settings -------------------------------------------------------------------------
    @property
    def task_delay(self) -> float:
        """Seconds a task takes from creation to FINISHED (or ERROR), for tasks created from
        now on; half of it is spent in NEW, half in RUNNING. Default 0.05."""
        return self._state.tasks.delay

    @task_delay.setter
    def task_delay(self, seconds: float) -> None:
        with self._state.lock:
            self._state.tasks.delay = _check_delay(seconds)

    @property
    def task_delays(self) -> dict[str, float]:
        """Per task type overrides of :attr:`task_delay` (a live dict: set or delete keys such
        as ``"create_security_group"``)."""
        return self._state.tasks.delays

    @property
    def duplicate_mode(self) -> DuplicateMode:
        """How a duplicate v2 rule create is refused: ``"409"`` at once (like v1), or
        ``"task_error"``: the POST gets a task that ends in ERROR with the duplicate message
        and ``created_resources`` null."""
        return self._state.duplicate_mode

    @duplicate_mode.setter
    def duplicate_mode(self, mode: DuplicateMode) -> None:
        with self._state.lock:
            self._state.duplicate_mode = check_duplicate_mode(mode)

    # -- out-of-band state changes --------------------------------------------------------
    def create_group(
        self,
        project_id: int = 1,
        region_id: int = 1,
        name: str = "default",
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> str:
        """Create a security group with no rules at once; return its id (lowercase uuid4).

        ``description`` None is stored (and answered) as ""; ``tags`` are user tags.
        """
        with self._state.lock:
            group = self._state.add_group(
                project_id, region_id, name, description, dict(tags or {})
            )
            return group.id

    def delete_group(self, group_id: str) -> None:
        """Delete a group and its rules behind the client's back (KeyError if unknown), even
        while marked in use. Rules elsewhere naming it as remote group go too."""
        with self._settled():
            self._state.drop_group(group_id)

    def update_group(
        self,
        group_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Change a group out of band, as from the console (for drift tests); None leaves a
        field alone, ``tags`` replaces every user tag. Returns the group as GET shows it."""
        with self._settled():
            group = self._state.known_group(group_id)
            if name is not None:
                group.name = name
            if description is not None:
                group.description = description
            if tags is not None:
                group.tags = dict(tags)
            group.touch()
            return self._state.view(group)

    def rename_group(self, group_id: str, name: str) -> None:
        """Rename a group out of band (KeyError if unknown)."""
        self.update_group(group_id, name=name)

    def add_read_only_tag(self, group_id: str, key: str, value: str) -> None:
        """Give the group a read-only tag (as Gcore's own tags are): listed in ``tags_v2``
        with ``read_only`` true, kept by every PATCH, refused (400) if a PATCH names it."""
        with self._settled():
            group = self._state.known_group(group_id)
            group.read_only_tags[key] = value
            group.tags.pop(key, None)
            group.touch()

    def mark_in_use(self, group_id: str, in_use: bool = True) -> None:
        """Mark a group as attached to instances (its DELETE answers 409) or not."""
        with self._state.lock:
            self._state.known_group(group_id).in_use = bool(in_use)

    def add_rule(self, group_id: str, **fields: Any) -> dict[str, Any]:
        """Create a rule out of band with the same checks as the v1 POST; return the rule.

        Raises ``ValueError`` (with the API's message) where the POST answers 400 or 409, and
        ``KeyError`` where it answers 404 (unknown group or remote group).
        """
        with self._settled():
            group = self._state.known_group(group_id)
            try:
                return self._state.create_rule_v1(
                    group.project_id, group.region_id, group.id, fields
                )
            except ApiError as err:
                if err.status == 404:
                    raise KeyError(err.message) from None
                raise ValueError(err.message) from None

    def remove_rule(self, rule_id: str) -> None:
        """Delete a rule behind the client's back, as if from the console (KeyError if gone)."""
        with self._settled():
            self._state.remove_rule(rule_id)

    # -- tasks ------------------------------------------------------------------------------
    def fail_tasks(
        self,
        task_type: str | None = None,
        times: int = 1,
        error: str = "Emulated task failure",
    ) -> None:
        """Make the next ``times`` tasks created (of ``task_type``, e.g.
        ``"create_security_group_rule"``, or of any type) end in ERROR with ``error`` and
        ``created_resources`` null, changing nothing."""
        with self._state.lock:
            self._state.tasks.fail_next(task_type, times, error)

    def finish_tasks(self) -> None:
        """End every pending task now (FINISHED, or ERROR where it would fail)."""
        with self._state.lock:
            self._state.tasks.finish_all()

    def tasks(self, task_type: str | None = None) -> list[dict[str, Any]]:
        """Every task (of ``task_type``) as ``GET /cloud/v1/tasks/{id}`` shows it now, oldest
        first."""
        with self._settled():
            return [
                self._state.tasks.view(t)
                for t in self._state.tasks.all()
                if task_type is None or t.task_type == task_type
            ]

    def task(self, task_id: str) -> dict[str, Any]:
        """One task as the GET shows it now (KeyError if unknown)."""
        with self._settled():
            try:
                return self._state.get_task(task_id)
            except ApiError:
                raise KeyError(f"task {task_id} does not exist") from None

    # -- inspection -----------------------------------------------------------------------
    def rules(self, group_id: str) -> list[dict[str, Any]]:
        """The group's rules as API objects (copies; KeyError if the group does not exist)."""
        with self._settled():
            group = self._state.known_group(group_id)
            return [copy.deepcopy(r) for r in self._state.rules.of_group(group.id)]

    def all_rules(self) -> list[dict[str, Any]]:
        """Every rule in every group (copies)."""
        with self._settled():
            return [copy.deepcopy(r) for r in self._state.rules.all()]

    def group(self, group_id: str) -> dict[str, Any]:
        """The group as the GET endpoint returns it (KeyError if it does not exist)."""
        with self._settled():
            return self._state.view(self._state.known_group(group_id))

    def groups(self) -> list[dict[str, Any]]:
        """Every group in every project and region, as GET shows them, oldest first."""
        with self._settled():
            return [self._state.view(g) for g in self._state.groups.all()]

    @property
    def requests(self) -> list[RequestRecord]:
        """The request log, oldest first (a copy)."""
        return self._log.records()

    def count(self, method: str | None = None, path_prefix: str | None = None) -> int:
        """How many logged requests match ``method`` (any case) and ``path_prefix``."""
        return self._log.count(method, path_prefix)

    def on_request(self, listener: Callable[[RequestRecord], None]) -> None:
        """Call ``listener`` with each request's record (redacted, as :attr:`requests` holds
        it) as it is logged: in log order, from the server's threads, before the answer is
        written, holding the log lock (so it may read the log too). It must not raise."""
        self._log.listen(listener)

    def clear_log(self) -> None:
        """Forget the logged requests."""
        self._log.clear()

    def dump_log(self) -> str:
        """The request log as JSON text, for failure reports. Never contains the API key."""
        return self._log.dump(self.api_key)

    def _record(self, record: RequestRecord) -> None:
        """Log one request (the server calls this before it answers), the API key redacted."""
        self._log.add(record, self.api_key)
