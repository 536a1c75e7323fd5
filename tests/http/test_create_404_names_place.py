"""A Gcore 404 on a create (the group's v2 POST, the rule's POST) names the project and
region the create went to, and the settings that choose them."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from gcore_pulumi.client import GcoreClient
from gcore_pulumi.errors import NotFoundError
from gcore_pulumi.models import GroupSpec
from gcore_pulumi.settings import Settings
from gcore_pulumi.testing import GcoreEmulator

PLACE = "Asked in project 7, region 76: check gcore:projectId / gcore:regionId or the resource's"


class PostsAre404(requests.Session):
    """Gcore's 404 (its JSON error body) for every POST; anything else goes to the emulator."""

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if method != "POST":
            return super().request(method, url, *args, **kwargs)
        response = requests.Response()
        response.status_code = 404
        response.headers["Content-Type"] = "application/json"
        body = {"exception_class": "ProjectNotFound", "message": "Project 7 not found"}
        response._content = json.dumps(body).encode()
        return response


def test_a_404_on_the_group_post_names_project_and_region() -> None:
    with GcoreEmulator(api_key="k") as api:
        settings = Settings(api_key="k", base_url=api.base_url, max_retries=0)
        client = GcoreClient(settings, session=PostsAre404())
        with pytest.raises(NotFoundError) as caught:
            client.create_group(GroupSpec(name="web", project_id=7, region_id=76))
        client.close()
    message = str(caught.value)
    assert message.startswith("Gcore API 404 on POST /cloud/v2/security_groups/7/76: Project 7")
    assert PLACE in message and "project_id/region_id" in message
