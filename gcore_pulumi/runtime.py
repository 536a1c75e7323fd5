"""What both dynamic providers share in the provider process: settings, the one client,
the diagnostics channel, and the pickling discipline.

A provider instance is pickled BY REFERENCE into every resource's state (``__provider``),
so it holds nothing until ``configure()`` runs in the provider process: no key, no
session, no client; ``__getstate__`` makes sure of that even after ``configure()``. The
engine configures each provider class of a program with the same stack config, so every
provider configured alike in one process shares one ``Runtime``: one HTTP session, one
set of read caches, one record of which rules this process's resources own.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from pulumi.dynamic import CheckFailure, ConfigureRequest, ResourceProvider

from .errors import ConfigurationError
from .ownership import ManagedGroups, OwnedRules, RuleSetOwners
from .schema import PLACE_SOURCES, Defaults
from .settings import SETTINGS, Settings, misspelt_settings

if TYPE_CHECKING:
    from .client import GcoreClient

log = logging.getLogger("gcore_pulumi")

DEFAULT_SOURCES: Final = PLACE_SOURCES
"""Where an omitted ``project_id`` / ``region_id`` comes from: config key, then variable."""


class Runtime:
    """What configure() found, and the client built from it on first use (thread-safe)."""

    def __init__(self, config: Callable[[str], Any] | None) -> None:
        self.settings, self.problems = Settings.load_lenient(config)
        self.defaults = Defaults(self.settings.project_id, self.settings.region_id)
        self.owned = OwnedRules()
        """Rules the resources of this process manage (see ownership.py)."""
        self.rule_sets = RuleSetOwners()
        """Groups whose rules a SecurityGroup's ``rules`` owns (see ownership.py)."""
        self.groups = ManagedGroups()
        """Groups the SecurityGroup resources of this process manage (see ownership.py)."""
        self._client: GcoreClient | None = None
        self._lock = threading.Lock()

    def client(self) -> GcoreClient:
        """The process's client; the first unusable setting is raised here, naming it."""
        if self.problems:
            first = self.problems[0]
            raise ConfigurationError(str(first), key=first.key)  # a fresh traceback each time
        with self._lock:
            if self._client is None:
                from .client import GcoreClient

                self._client = GcoreClient(self.settings, owned=self.owned)
            return self._client


_shared: dict[tuple[Any, ...], Runtime] = {}
_shared_lock = threading.Lock()


def runtime_for(config: Callable[[str], Any]) -> Runtime:
    """The Runtime for this stack config, shared by every provider configured with it."""
    key = tuple(config(setting.config_key) for setting in SETTINGS)
    with _shared_lock:
        runtime = _shared.get(key)
        if runtime is None:
            runtime = _shared[key] = Runtime(config)
        return runtime


class ConfiguredProvider(ResourceProvider):
    """Base of both providers: empty when pickled, configured once in the provider process."""

    serialize_as_secret_always = False
    """The pickled provider holds no secret (only a class reference), so state need not hide it."""

    _runtime: Runtime | None = None
    """Settings and client, made in the provider process; never pickled (see __getstate__)."""

    def __init__(self) -> None:
        # Deliberately empty: whatever is set here is pickled into every resource's state.
        super().__init__()

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        del state  # nothing is ever stored

    @staticmethod
    def _left_to_adopter(kind: str, resource_id: str) -> None:
        """Say why a delete sends nothing: a create of this same command adopted the
        ``kind`` (``adopt_existing`` / ``adopt_id``), so it now belongs to that resource."""
        log.warning(
            "gcore: %s %s was adopted by another resource of this stack in this update; "
            "not deleting it (it stays, managed by that resource)",
            kind,
            resource_id,
        )

    def configure(self, req: ConfigureRequest) -> None:
        """Read stack config (falling back to GCORE_* variables) once per process.

        A ``gcore:*`` key that is not a setting (``gcore:baseURL``) is refused here, naming
        the setting it probably meant: every call of the provider then fails with it before
        anything is sent, instead of quietly using the default (real Gcore).
        """
        log_to_stderr()
        misspelt = misspelt_settings(config_keys(req))
        if misspelt:
            first = misspelt[0]
            raise ConfigurationError("; ".join(str(problem) for problem in misspelt), key=first.key)
        self._runtime = runtime_for(lambda key: req.config.get(key))

    def _rt(self) -> Runtime:
        if self._runtime is None:  # configure() was not called (used outside the engine)
            self._runtime = Runtime(None)
        return self._runtime

    def _failures(self, failures: list[tuple[str, str]]) -> list[CheckFailure]:
        """Check failures; one caused by a bad default project or region (the only settings
        preview reports) is the resource's: the input is not set, so "property project_id
        value null" would say nothing. Its reason names the input, the setting and what is
        wrong with the setting's value (never the value itself)."""
        bad_config = {problem.key: problem for problem in self._rt().problems}
        result = []
        for key, reason in failures:
            problem = next(
                (bad_config[k] for k in DEFAULT_SOURCES.get(key, ()) if k in bad_config), None
            )
            if problem is None:
                result.append(CheckFailure(key, reason))
                continue
            result.append(
                CheckFailure(
                    "",
                    f"{key} is not given, and its default cannot be used: {problem}. "
                    f"Pass {key}=... or fix {problem.key}",
                )
            )
        return result


def config_keys(req: ConfigureRequest) -> list[str]:
    """Every key of the stack config given to ``configure`` (namespaced, "gcore:apiKey").

    The SDK's ``Config`` keeps them in ``_props`` (pulumi 3.x, from the first SDK with
    ``configure``); a ``Config`` without it yields none, and nothing is refused."""
    props = getattr(req.config, "_props", None)
    return [key for key in props if isinstance(key, str)] if isinstance(props, dict) else []


def log_to_stderr() -> None:
    """Send retry/adoption notices to stderr, which the Pulumi CLI shows as diagnostics."""
    if not log.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
