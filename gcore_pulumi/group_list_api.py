"""The group list with Gcore's filters (``name``, ``tag_key``, ``tag_key_value``), every page,
each group whole (with its rules): what ``get_security_groups`` needs.

A standalone step until the client grows the call (see docs-pending/sets.md): it takes the
client's page fetcher (``GET path?query`` parsed as a model) as a parameter and adds no
transport of its own, so retries, deadlines and error messages stay the client's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from pydantic import BaseModel, ConfigDict

from .models import ApiGroup

PAGE_SIZE: Final = 1000
"""Gcore's largest ``limit``: the fewest round trips."""

GetPage = Callable[[type[Any], str, dict[str, Any]], tuple[Any, Any]]
"""``(model, path, query) -> (parsed page, response)``: the client's ``_get_page``."""


class ApiGroupListPage(BaseModel):
    """One page of the group list, each group whole (rules included)."""

    model_config = ConfigDict(extra="ignore")

    count: int = 0
    results: list[ApiGroup]


def list_query(
    name: str | None, tag_keys: Sequence[str], tag_key_value: Mapping[str, str]
) -> dict[str, Any]:
    """The list's filter parameters as Gcore takes them: ``tag_key`` repeated, and
    ``tag_key_value`` as a JSON object string."""
    query: dict[str, Any] = {"limit": PAGE_SIZE}
    if name is not None:
        query["name"] = name
    if tag_keys:
        query["tag_key"] = list(tag_keys)
    if tag_key_value:
        query["tag_key_value"] = json.dumps(dict(tag_key_value), separators=(",", ":"))
    return query


def matches(
    group: ApiGroup,
    name: str | None,
    tag_keys: Sequence[str],
    tag_key_value: Mapping[str, str],
) -> bool:
    """The filters' meaning, applied again to what Gcore answered: the exact name, EVERY
    tag key present (AND) and every pair equal; read-only tags count too. Gcore does not
    document whether several keys combine as AND or OR: filtering again makes it AND."""
    tags = {tag.key: tag.value for tag in group.tags_v2}
    return (
        (name is None or group.name == name)
        and all(key in tags for key in tag_keys)
        and all(tags.get(key) == value for key, value in tag_key_value.items())
    )


def list_groups_filtered(
    get_page: GetPage,
    project_id: int,
    region_id: int,
    name: str | None = None,
    tag_keys: Sequence[str] = (),
    tag_key_value: Mapping[str, str] | None = None,
) -> list[ApiGroup]:
    """Every group of the project and region that matches, following ``offset`` until
    ``count`` groups were seen (or a page comes back empty)."""
    pairs = dict(tag_key_value or {})
    path = f"/cloud/v1/securitygroups/{project_id}/{region_id}"
    query = list_query(name, tag_keys, pairs)
    seen: list[ApiGroup] = []
    while True:
        page, _ = get_page(ApiGroupListPage, path, query | {"offset": len(seen)})
        assert isinstance(page, ApiGroupListPage)
        seen.extend(page.results)
        if not page.results or len(seen) >= page.count:
            break
    unique = {group.id: group for group in seen}  # a group that moved between pages
    return [group for group in unique.values() if matches(group, name, tag_keys, pairs)]
