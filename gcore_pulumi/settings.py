"""Provider settings: stack config first, then the environment variables Gcore's SDKs use.

Read once per provider process in ``configure()``; never stored on the pickled provider.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import os
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeVar
from urllib.parse import urlsplit

from .errors import ConfigurationError

DEFAULT_BASE_URL: Final = "https://api.gcore.com"
NAMESPACE: Final = "gcore:"
"""The stack config namespace of the settings: every ``gcore:*`` key must be one of them."""

API_KEY_HELP: Final = (
    "no Gcore API key: set it with `pulumi config set --secret gcore:apiKey <key>` "
    "or the GCORE_API_KEY environment variable"
)


def api_key_help() -> str:
    """``API_KEY_HELP`` as it fits where it runs (the runner's ``--secret`` under it)."""
    from . import hints

    key_option = hints.set_config("gcore:apiKey", "<key>", secret=True)
    return f"no Gcore API key: set it with {key_option} or the GCORE_API_KEY environment variable"


@dataclass(frozen=True)
class Setting:
    """One setting: its stack config key, its environment variable, and what it means."""

    attr: str
    config_key: str
    env: str
    doc: str


SETTINGS: Final = (
    Setting("api_key", "gcore:apiKey", "GCORE_API_KEY", "API key (secret)"),
    Setting("base_url", "gcore:baseUrl", "GCORE_BASE_URL", "API base URL"),
    Setting("project_id", "gcore:projectId", "GCORE_CLOUD_PROJECT_ID", "default project id"),
    Setting("region_id", "gcore:regionId", "GCORE_CLOUD_REGION_ID", "default region id"),
    Setting("max_retries", "gcore:maxRetries", "GCORE_MAX_RETRIES", "retries per request"),
    Setting("timeout", "gcore:timeout", "GCORE_TIMEOUT", "read timeout per request, seconds"),
    Setting(
        "connect_timeout", "gcore:connectTimeout", "GCORE_CONNECT_TIMEOUT", "connect timeout, s"
    ),
    Setting("deadline", "gcore:deadline", "GCORE_DEADLINE", "overall time per operation, s"),
    Setting("retry_backoff", "gcore:retryBackoff", "GCORE_RETRY_BACKOFF", "first backoff, s"),
    Setting(
        "rule_api",
        "gcore:ruleApi",
        "GCORE_RULE_API",
        "Gcore API that creates and deletes rules: v1 (default) or v2",
    ),
    Setting(
        "allow_insecure_http",
        "gcore:allowInsecureHttp",
        "GCORE_ALLOW_INSECURE_HTTP",
        "allow http:// to a non-loopback host",
    ),
    Setting(
        "read_cache_seconds",
        "gcore:readCacheSeconds",
        "GCORE_READ_CACHE_SECONDS",
        "how long a group read serves refreshes",
    ),
    Setting(
        "task_poll_max",
        "gcore:taskPollMax",
        "GCORE_TASK_POLL_MAX",
        "longest wait between two polls of a Gcore task, s",
    ),
    Setting(
        "task_notice_after",
        "gcore:taskNoticeAfter",
        "GCORE_TASK_NOTICE_AFTER",
        "a task still running after this many s gets one log line",
    ),
)


def misspelt_settings(keys: Iterable[object]) -> list[ConfigurationError]:
    """One error per ``gcore:*`` stack config key that is not a setting (``gcore:baseURL``,
    ``gcore:apikey``...), naming the setting it probably meant: such a key would otherwise
    be ignored, and the default used instead (real Gcore, for a misspelt ``gcore:baseUrl``).
    The namespace counts in any case (``Gcore:baseUrl``, ``GCORE:baseUrl``): only the exact
    key is read, so such a key is refused like any other misspelling when its name is close
    to a setting's (other keys in another case of the namespace belong to a project named,
    say, ``GCore``). Keys of other namespaces are not ours."""
    from . import hints

    known = {setting.config_key: setting for setting in SETTINGS}
    names = {_fold(key[len(NAMESPACE) :]): key for key in known}
    problems = []
    for key in sorted({k for k in keys if isinstance(k, str)}):
        if not key.lower().startswith(NAMESPACE) or key in known:
            continue
        name = _fold(key[len(NAMESPACE) :])
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
        meant = names.get(name) or (names[close[0]] if close else None)
        if not key.startswith(NAMESPACE) and meant is None:
            continue  # ``GCore:env``: a project named GCore's own key, not a misspelt setting
        if meant is not None:
            fix = (
                f"did you mean {meant}? Rename it: {hints.remove_config(key)}, then "
                f"{hints.set_config(meant, secret=meant == 'gcore:apiKey')}"
            )
        else:
            fix = (
                f"remove it ({hints.remove_config(key)}) or use one of the settings: "
                f"{', '.join(known)}"
            )
        problems.append(
            ConfigurationError(
                f"{key} is not a gcore-pulumi setting, so nothing was sent (a misspelt "
                f"setting would be ignored and its default used); {fix}",
                key=key,
            )
        )
    return problems


def _fold(key: str) -> str:
    """A key compared loosely: case, ``_`` and ``-`` do not count."""
    return key.lower().replace("_", "").replace("-", "")


@dataclass(frozen=True)
class Settings:
    """Everything the HTTP client needs. ``api_key`` is kept out of ``repr``."""

    api_key: str | None = field(default=None, repr=False)
    base_url: str = DEFAULT_BASE_URL
    project_id: int | None = None
    region_id: int | None = None
    max_retries: int = 5
    """Retries after the first try (so 6 tries in all), for every request."""
    timeout: float = 60.0
    connect_timeout: float = 5.0
    deadline: float = 300.0
    """Upper bound on one operation (create, read or delete) including all retries."""
    retry_backoff: float = 0.5
    """Backoff before retry n is min(retry_backoff * 2**n, retry_backoff_max), with jitter."""
    retry_backoff_max: float = 8.0
    max_retry_after: float = 60.0
    """A server's Retry-After is honoured up to this many seconds."""
    rule_api: Literal["v1", "v2"] = "v1"
    """Which of Gcore's APIs creates and deletes rules: ``v1`` (synchronous, deprecated by
    Gcore) or ``v2`` (asynchronous tasks). Reads are the same; so is the state."""
    allow_insecure_http: bool = False
    read_cache_seconds: float = 2.0
    task_poll_max: float = 3.0
    """Cap on the wait between two polls of a task (see ``tasks.poll_offsets``)."""
    task_notice_after: float = 2.0
    """A task running longer than this gets one diagnostic line (no silent wait over ~2 s)."""

    @classmethod
    def load(
        cls, config: Callable[[str], Any] | None = None, env: Mapping[str, str] | None = None
    ) -> Settings:
        """Read every setting, config winning over env. Raises ``ConfigurationError``
        naming the key whose value is unusable."""
        settings, problems = cls.load_lenient(config, env)
        if problems:
            raise problems[0]
        return settings

    @classmethod
    def load_lenient(
        cls, config: Callable[[str], Any] | None = None, env: Mapping[str, str] | None = None
    ) -> tuple[Settings, list[ConfigurationError]]:
        """Like ``load``, but a bad value falls back to its default and is reported in the
        list, so one bad setting does not hide the others (check reports them all)."""
        environ = os.environ if env is None else env
        values: dict[str, Any] = {}
        problems: list[ConfigurationError] = []
        for setting in SETTINGS:
            raw = config(setting.config_key) if config is not None else None
            source = setting.config_key
            if raw is None:
                raw, source = environ.get(setting.env), setting.env
            if raw is not None and not str(raw).strip() and _empty_refused(setting, source):
                problems.append(_given_empty(setting, source))
                continue
            if raw is None or not str(raw).strip():
                continue
            try:
                values[setting.attr] = _PARSERS[setting.attr](raw, source)
            except ConfigurationError as problem:
                problems.append(problem)
        settings = cls(**values)
        try:
            settings._check_base_url()
        except ConfigurationError as problem:
            problems.append(problem)
        return settings, problems

    def require_api_key(self) -> str:
        """The key, or a ConfigurationError that says how to set it."""
        if not self.api_key:
            raise ConfigurationError(api_key_help(), key="gcore:apiKey")
        return self.api_key

    def _check_base_url(self) -> None:
        try:
            parts = urlsplit(self.base_url)
            parts.port  # noqa: B018 (a bad port raises here)
        except ValueError:
            parts = urlsplit("")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(
                "gcore:baseUrl is not an http(s) URL with a host; "
                f"leave it unset for {DEFAULT_BASE_URL}",
                key="gcore:baseUrl",
            )
        if parts.query or parts.fragment or "?" in self.base_url or "#" in self.base_url:
            raise ConfigurationError(
                "gcore:baseUrl must not have a query string or fragment (every request path "
                f"is appended to it); give only scheme, host and port, e.g. {DEFAULT_BASE_URL}",
                key="gcore:baseUrl",
            )
        if parts.username or parts.password:
            raise ConfigurationError(
                "gcore:baseUrl must not contain credentials", key="gcore:baseUrl"
            )
        if (
            parts.scheme == "http"
            and not self.allow_insecure_http
            and not is_loopback(parts.hostname)
        ):
            raise ConfigurationError(
                "gcore:baseUrl uses plain http to a remote host, which would "
                "send the API key in clear text; use https://, or set "
                "gcore:allowInsecureHttp=true (GCORE_ALLOW_INSECURE_HTTP=true) if you mean it",
                key="gcore:baseUrl",
            )


def _empty_refused(setting: Setting, source: str) -> bool:
    """Whether an empty value given for ``setting`` at ``source`` is refused. Every stack
    config key: no setting has a meaning for "", and the fallback would be another source
    (GCORE_*, or the default: real Gcore for the base URL) the user did not choose. Of the
    environment variables only GCORE_BASE_URL (``GCORE_BASE_URL=$UNSET`` would reach real
    Gcore); the others empty count as unset, as shells use them (their fallback is a
    default, or an error naming them)."""
    return source == setting.config_key or setting.attr == "base_url"


def _given_empty(setting: Setting, source: str) -> ConfigurationError:
    """The error for a setting given with an empty value (the value is never shown)."""
    from . import hints

    fallback = (
        f"{setting.env} or {DEFAULT_BASE_URL}"
        if setting.attr == "base_url"
        else f"{setting.env} or the default"
    )
    if source == setting.config_key:
        secret = setting.attr == "api_key"
        set_it = hints.set_config(source, "<key>" if secret else "<value>", secret=secret)
        remove_it = hints.remove_config(source)
        fix = f"give it a value ({set_it}), or remove it ({remove_it}) to use {fallback} instead"
    else:
        fix = f"give it a value, or unset it (`unset {source}`) to use {DEFAULT_BASE_URL} instead"
    return ConfigurationError(
        f"{source} is set but empty, so nothing was sent; {fix}",
        key=source,
    )


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine: ``localhost`` (``localhost.``, any case) or a
    loopback address in any spelling the resolver accepts (127.0.0.0/8 as ``127.1`` or
    ``127.0.0.2`` too, ``::1``, ``[::1]``, ``::ffff:127.0.0.1``)."""
    name = host.strip("[]").lower()
    if name in ("localhost", "localhost."):
        return True
    try:
        address = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        try:  # the short and numeric IPv4 forms (127.1, 2130706433) that inet_aton takes
            address = ipaddress.IPv4Address(socket.inet_aton(name))
        except OSError:
            return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


N = TypeVar("N", int, float)


def _number(kind: type[N], low: float) -> Callable[[Any, str], N]:
    def parse(raw: Any, source: str) -> N:
        number: float | None
        try:
            number = float(raw)
        except (TypeError, ValueError, OverflowError):
            number = None
        if number is None:
            problem = "is not a number" + (" (it is empty)" if not str(raw).strip() else "")
        elif not math.isfinite(number):
            problem = "is not a finite number"
        elif kind is int and not number.is_integer():
            problem = "is not a whole number"
        elif number < low:
            problem = f"is below {low:g}"
        else:
            return kind(number) if kind is int else kind(raw)
        # The value itself is never shown: config values may be secrets.
        raise ConfigurationError(
            f"{source} is not usable: its value {problem}; it must be a "
            f"{'whole ' if kind is int else ''}number >= {low:g}",
            key=source,
        )

    return parse


def _bool(raw: Any, source: str) -> bool:
    text = str(raw).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ConfigurationError(f"{source} is not usable; it must be true or false", key=source)


def _text(raw: Any, source: str) -> str:
    return str(raw).strip()


def _api_key(raw: Any, source: str) -> str:
    """The key as sent in ``Authorization: APIKey <key>``: visible ASCII only. A line break
    or other control character (often a trailing newline from a file) is refused here,
    before anything is sent, and the message never shows the key."""
    key = str(raw).strip(" ")
    bad = next((c for c in key if not "!" <= c <= "~"), None)
    if bad is not None:
        what = (
            "a line break"
            if bad in "\r\n"
            else ("a space" if bad == " " else "a control or non-ASCII character")
        )
        raise ConfigurationError(
            f"{source} contains {what}; an API key is one line of visible ASCII characters. "
            f"Set it again without it (e.g. {_key_option()}; "
            "when reading it from a file, strip the trailing newline)",
            key=source,
        )
    return key


def _key_option() -> str:
    from . import hints

    return hints.set_config("gcore:apiKey", "<key>", secret=True)


def _url(raw: Any, source: str) -> str:
    return str(raw).strip().rstrip("/")


def _rule_api(raw: Any, source: str) -> str:
    text = str(raw).strip().lower()
    if text in ("v1", "v2"):
        return text
    raise ConfigurationError(
        f"{source} must be v1 or v2 (the Gcore API that creates and deletes rules; "
        "v1 is the default)",
        key=source,
    )


_PARSERS: Final[dict[str, Callable[[Any, str], Any]]] = {
    "rule_api": _rule_api,
    "api_key": _api_key,
    "base_url": _url,
    "project_id": _number(int, 1),
    "region_id": _number(int, 1),
    "max_retries": _number(int, 0),
    "timeout": _number(float, 0.001),
    "connect_timeout": _number(float, 0.001),
    "deadline": _number(float, 0.001),
    "retry_backoff": _number(float, 0),
    "allow_insecure_http": _bool,
    "read_cache_seconds": _number(float, 0),
    "task_poll_max": _number(float, 0.01),
    "task_notice_after": _number(float, 0),
}
