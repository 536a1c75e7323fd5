"""The baseline for the performance targets: the least a dynamic provider can do per create.

``MinimalProvider`` lives at the top level of an importable module, so dill pickles it BY
REFERENCE, like ``SecurityGroupRuleProvider``; the provider process imports this module (its
environment needs the repository root on PYTHONPATH). Check returns the inputs unchanged;
create makes exactly one ``requests.post`` to the emulator's create endpoint and returns the
id. No validation, no retries, no reconciliation: what is left is the cost of the Pulumi SDK's
server, the property codecs and one HTTP round trip, which every dynamic provider pays.
"""

from __future__ import annotations

from typing import Any

import requests
from pulumi.dynamic import (
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
)

SESSION = requests.Session()
"""One keep-alive connection pool for the provider process (urllib3's pool is thread-safe)."""

RULE_FIELDS = (
    "direction",
    "ethertype",
    "protocol",
    "port_range_min",
    "port_range_max",
    "remote_ip_prefix",
    "description",
)


class MinimalProvider(ResourceProvider):
    """One POST per create; everything else is a no-op."""

    serialize_as_secret_always = False

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        del state

    def configure(self, req: ConfigureRequest) -> None:
        base_url = str(req.config.get("gcore:baseUrl") or "").rstrip("/")
        self.__dict__["_base_url"] = base_url
        self.__dict__["_project"] = int(float(req.config.get("gcore:projectId") or 1))
        self.__dict__["_region"] = int(float(req.config.get("gcore:regionId") or 1))
        self.__dict__["_headers"] = {"Authorization": f"APIKey {req.config.get('gcore:apiKey')}"}

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        return CheckResult(news, [])

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        return DiffResult(changes=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        state = self.__dict__
        url = (
            f"{state['_base_url']}/cloud/v1/securitygroups/{state['_project']}/"
            f"{state['_region']}/{props['group_id']}/rules"
        )
        body = {key: props[key] for key in RULE_FIELDS if props.get(key) is not None}
        for key in ("port_range_min", "port_range_max"):
            if key in body:
                body[key] = int(body[key])
        response = SESSION.post(url, json=body, headers=state["_headers"], timeout=(5, 30))
        response.raise_for_status()
        rule = response.json()
        return CreateResult(rule["id"], rule)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, props)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None
