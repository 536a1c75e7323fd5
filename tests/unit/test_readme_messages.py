"""The documentation (README.md and docs/*.md) quotes the messages the code prints: each
quoted message of the Troubleshooting table (and the "did you mean" examples, on any page) is
produced from the code where that is cheap, and otherwise its literal text is found in the
package's strings, so a reworded message fails here until the docs follow. ``...`` and
``<placeholders>`` stand for any text."""

from __future__ import annotations

import ast
import functools
import re
import ssl
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import requests

import gcore_pulumi
from gcore_pulumi import SecurityGroup, SecurityGroupRule
from gcore_pulumi.api.diagnosis import _transport_error
from gcore_pulumi.client import GcoreClient
from gcore_pulumi.errors import ConfigurationError, GcoreError
from gcore_pulumi.models import RuleSpec
from gcore_pulumi.ownership import owned_by_set_reason
from gcore_pulumi.rule_set import check_rules
from gcore_pulumi.schema import Defaults, check_inputs
from gcore_pulumi.settings import Settings, misspelt_settings
from gcore_pulumi.tasks import TaskFailedError
from gcore_pulumi.testing import GcoreEmulator
from gcore_pulumi.testing.engine import CheckFailedError

from ..doc_pages import all_text, section

PACKAGE = Path(gcore_pulumi.__file__).parent
URN = "urn:pulumi:dev::p::pulumi-python:dynamic/gcore:SecurityGroupRule::r"

EXTERNAL = (
    "The 'virtualenv' option in Pulumi.yaml",
    "ModuleNotFoundError:",
    "error: the stack is currently locked",  # the Pulumi CLI's own words
)
"""Quoted messages printed by the Pulumi CLI or Python, not by this package."""

GROUP = "024a29e9-b4b7-4c91-9a46-505be123d9f8"


def _code_spans(cell: str) -> list[str]:
    return [m.group(2).strip() for m in re.finditer(r"(`+)(.+?)\1", cell)]


def troubleshooting_quotes() -> list[str]:
    table = section("Troubleshooting")
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    quotes = [q for row in rows[1:] for q in _code_spans(row.split(" | ")[0])]
    assert len(quotes) > 20
    return quotes


def did_you_mean_quotes() -> list[str]:
    found = [q for q in _code_spans(" ".join(all_text().split())) if "did you mean" in q]
    return list(dict.fromkeys(found))  # a quote repeated on another page is one quote


def _settings_error(**config: str | None) -> str:
    values = {"gcore:apiKey": "k", **config}
    with pytest.raises(ConfigurationError) as caught:
        Settings.load(values.get, env={}).require_api_key()
    return str(caught.value)


def _type_error(make: object) -> str:
    with pytest.raises(TypeError) as caught:
        make()  # type: ignore[operator]
    return f"TypeError: {caught.value}"


def _api_errors() -> list[str]:
    """Gcore's answers (through the emulator) as the client reports them."""
    found: list[str] = []

    def attempt(call: Callable[[], object]) -> None:
        try:
            call()
        except GcoreError as error:
            found.append(str(error))

    rule = {"group_id": GROUP, "direction": "ingress", "project_id": 1, "region_id": 1}
    with GcoreEmulator(api_key="k") as api:
        settings = Settings(api_key="k", base_url=api.base_url, max_retries=0)
        group = api.create_group(project_id=1, region_id=1, name="web")
        attempt(lambda: GcoreClient(replace(settings, api_key="wrong")).get_group(1, 1, group))
        attempt(lambda: GcoreClient(settings).create_rule(RuleSpec.from_props(rule)))
        spec = RuleSpec.from_props({**rule, "group_id": group})
        first = GcoreClient(settings)
        first.create_rule(spec)
        attempt(lambda: first.create_rule(spec))
        attempt(lambda: GcoreClient(settings).create_rule(spec))
        remote = {**rule, "group_id": group, "remote_group_id": GROUP}
        attempt(lambda: GcoreClient(settings).create_rule(RuleSpec.from_props(remote)))
        api.mark_in_use(group)
        attempt(lambda: GcoreClient(settings).delete_group(1, 1, group))
        for fault in ("html_404", "redirect"):
            api.faults.add(fault, method="GET", times=1)  # type: ignore[arg-type]
            attempt(lambda: GcoreClient(settings).get_group(1, 1, group))
    return found


def produced() -> list[str]:
    """Messages made by the code itself, as a user sees them."""
    refused = requests.ConnectionError(
        __import__("urllib3").exceptions.NewConnectionError(None, "refused")
    )
    refused.args[0].__cause__ = ConnectionRefusedError(111, "Connection refused")
    untrusted = requests.exceptions.SSLError(ssl.SSLCertVerificationError("self-signed"))
    checked = check_inputs({"group_id": GROUP, "direction": "ingress"}, Defaults())
    bad_direction = check_inputs({"group_id": GROUP, "direction": "Ingress"}, Defaults(1, 1))
    return [
        _settings_error(**{"gcore:apiKey": None}),
        _settings_error(**{"gcore:apiKey": ""}),
        _settings_error(**{"gcore:baseUrl": ""}),
        _settings_error(**{"gcore:apiKey": "abc\n"}),
        _settings_error(**{"gcore:baseUrl": "https://api.gcore.com/?x=1"}),
        _settings_error(**{"gcore:ruleApi": "v3"}),
        _settings_error(**{"gcore:baseUrl": "http://gcore.example"}),
        _settings_error(**{"gcore:projectId": "abc"}),
        *(str(error) for error in misspelt_settings(["gcore:baseURL"])),
        owned_by_set_reason(GROUP, "web"),
        *(reason for _, reason in check_rules([{"direction": "ingress", "port_range_mn": 1}])[1]),
        str(CheckFailedError(URN, checked.failures, checked.inputs)),
        str(CheckFailedError(URN, bad_direction.failures, bad_direction.inputs)),
        str(_transport_error("GET", "/p", refused, "h.example", "h.example:443")),
        str(_transport_error("POST", "/p", untrusted, "h.example", "h.example:443")),
        str(TaskFailedError("t1", "create_security_group", "quota exceeded")),
        _type_error(lambda: SecurityGroupRule("r", group_id=GROUP, direction="in", port_min=2)),
        _type_error(lambda: SecurityGroup("g", name="web", descripton="d")),
        _type_error(lambda: SecurityGroup("g", name="web", security_group_rules=[])),
        *_api_errors(),
    ]


@functools.cache
def _strings() -> tuple[str, ...]:
    """Every string in the package's source and scripts/demo.py, implicit concatenations
    joined; an f-string's replacement fields become a NUL, so no piece of README text can span
    one."""
    found: list[str] = []
    for path in [*PACKAGE.rglob("*.py"), Path(__file__).parents[2] / "scripts" / "demo.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.JoinedStr):
                found.append(
                    "".join(
                        part.value if isinstance(part, ast.Constant) else "\0"
                        for part in node.values
                    )
                )
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.append(node.value)
    return tuple(found)


def _pattern(quote: str) -> re.Pattern[str]:
    parts = re.split(r"\s*\.\.\.\s*|<[^<>\s]+>", quote)
    return re.compile(".*?".join(re.escape(part) for part in parts), re.S)


def _pieces(quote: str) -> list[str]:
    """The literal runs of ``quote``: cut at ``...``, placeholders, quotes, brackets and
    numbers (values the code fills in); runs shorter than 8 characters say too little."""
    runs = re.split(r"\.\.\.|<[^<>\s]+>|['()\d]|: ", quote)
    return [run.strip(" :;,.") for run in runs if len(run.strip(" :;,.")) >= 8]


@pytest.fixture(scope="module")
def messages() -> list[str]:
    return produced()


@pytest.mark.parametrize("quote", troubleshooting_quotes() + did_you_mean_quotes())
def test_readme_quotes_what_the_code_prints(quote: str, messages: list[str]) -> None:
    if quote.startswith(EXTERNAL):
        return
    if any(_pattern(quote).search(message) for message in messages):
        return
    strings = _strings()
    missing = [piece for piece in _pieces(quote) if not any(piece in s for s in strings)]
    assert _pieces(quote) and not missing, f"the docs quote text the code does not print: {missing}"


def test_the_did_you_mean_examples_are_produced_not_just_found(messages: list[str]) -> None:
    quotes = did_you_mean_quotes()
    assert len(quotes) == 6
    for quote in quotes:
        assert any(_pattern(quote).search(message) for message in messages), quote
