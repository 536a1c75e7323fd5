"""A project or region set nowhere is reported in ONE wording wherever it is missing: at
check, in a rule's or a group's read and delete (state without it), and in the lookup.
It is the wording README quotes (``no project_id``), naming the input, the config key and
the environment variable."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gcore_pulumi import SecurityGroupProvider, SecurityGroupRuleProvider
from gcore_pulumi.errors import ConfigurationError
from gcore_pulumi.lookups import get_security_group
from gcore_pulumi.schema import Defaults, check_inputs

GROUP = "024a29e9-b4b7-4c91-9a46-505be123d9f8"
RULE = "9e5ba0a8-6a0c-4a5a-8f6e-2b2c2f0b7d11"
EXPECTED = {
    "project_id": "no project_id: pass project_id=..., or set it for the stack with "
    "`pulumi config set gcore:projectId <id>` or the GCORE_CLOUD_PROJECT_ID environment variable",
    "region_id": "no region_id: pass region_id=..., or set it for the stack with "
    "`pulumi config set gcore:regionId <id>` or the GCORE_CLOUD_REGION_ID environment variable",
}
CONFIG_KEY = {"project_id": "gcore:projectId", "region_id": "gcore:regionId"}


@pytest.fixture(autouse=True)
def nothing_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GCORE_CLOUD_PROJECT_ID", "GCORE_CLOUD_REGION_ID"):
        monkeypatch.delenv(name, raising=False)


def test_check_names_each_missing_place() -> None:
    outcome = check_inputs({"group_id": GROUP, "direction": "ingress"}, Defaults())
    assert dict(outcome.failures) == EXPECTED


RULE_STATE = {"group_id": GROUP, "direction": "ingress", "ethertype": "IPv4", "project_id": 1}
CALLS: dict[str, tuple[str, Callable[[], object]]] = {
    "rule read": ("project_id", lambda: SecurityGroupRuleProvider().read(RULE, {"region_id": 1})),
    "rule delete": ("region_id", lambda: SecurityGroupRuleProvider().delete(RULE, RULE_STATE)),
    "group read": ("project_id", lambda: SecurityGroupProvider().read(GROUP, {"region_id": 1})),
    "group delete": ("region_id", lambda: SecurityGroupProvider().delete(GROUP, {"project_id": 1})),
    "lookup": ("project_id", lambda: get_security_group(name="web", region_id=1)),
}  # fmt: skip


@pytest.mark.parametrize("where", list(CALLS))
def test_one_wording_wherever_the_place_is_missing(where: str) -> None:
    key, call = CALLS[where]
    with pytest.raises(ConfigurationError) as caught:
        call()
    assert str(caught.value) == EXPECTED[key]
    assert caught.value.key == CONFIG_KEY[key]
