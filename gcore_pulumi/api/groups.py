"""Security groups: read (through the read cache), list and delete; and the one way a
create records what it made when reading it back fails. (Updates: ``group_update``.)"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Hashable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, TypeVar

from .. import hints
from ..errors import ApiError, BrokenAnswerError, CutOffAnswerError, GcoreError
from ..group_cache import GroupReadCache
from ..models import ApiGroup, ApiGroupListPage, ApiGroupPage, ApiGroupSummary
from ..settings import Settings
from . import urls
from .answers import broken_reason, gcore_time
from .retry import Retries
from .tasks import Tasks
from .transport import PAGE_SIZE, Transport

if TYPE_CHECKING:
    import requests

log = logging.getLogger("gcore_pulumi")
T = TypeVar("T")

GROUP_GONE: Final = (
    "The group is gone (deleted outside Pulumi?): `pulumi refresh` drops it from the stack, "
    "then `pulumi up` makes it again"
)
GROUP_404: Final = (
    f"{GROUP_GONE}; or gcore:baseUrl is not Gcore's API root (Gcore answers the same 404 for "
    "a URL it does not serve): `pulumi refresh` tells the two apart"
)
_RULE_ROUTES: Final = (
    "; or Gcore no longer serves this rule route (gcore:ruleApi v1 is deprecated: try "
    "gcore:ruleApi v2)"
)
_GROUP_IN_USE: Final = (
    "The group is still attached to instances (or ports): detach it from them, or delete "
    "those instances, then run `pulumi destroy` (or `pulumi up`) again"
)
_GONE_UNDER_RUNNER: Final = (
    "The group is gone (deleted outside Pulumi?): the runner keeps no state, so run the "
    "program again (a group it declares is made anew), or give it the id of a group that exists"
)
_IN_USE_UNDER_RUNNER: Final = (
    "The group is still attached to instances (or ports): detach it from them, or delete "
    "those instances, then delete the group with the command the runner prints under LEFT BEHIND"
)


def group_gone() -> str:
    """``GROUP_GONE`` as it fits where it runs (see ``hints``)."""
    return hints.fitting(GROUP_GONE, _GONE_UNDER_RUNNER)


def group_404() -> str:
    """``GROUP_404`` as it fits where it runs."""
    return hints.fitting(GROUP_404, GROUP_404.replace(GROUP_GONE, _GONE_UNDER_RUNNER)).replace(
        "`pulumi refresh` tells", f"{hints.refresh()} tells"
    )


def _group_in_use() -> str:
    return hints.fitting(_GROUP_IN_USE, _IN_USE_UNDER_RUNNER)


GroupKey = tuple[int, int, str]
"""(project_id, region_id, group_id)"""


class Groups:
    """Gcore's security-group endpoints; reads of one group are coalesced (GroupReadCache)
    and every write through this process invalidates them."""

    def __init__(self, settings: Settings, transport: Transport, tasks: Tasks) -> None:
        self._transport = transport
        self._tasks = tasks
        self._cache: GroupReadCache[ApiGroup | None] = GroupReadCache(settings.read_cache_seconds)

    def get(self, project_id: int, region_id: int, group_id: str) -> ApiGroup | None:
        """The group with its rules, read now; None only when Gcore proved it gone (``gone``)."""
        key = (project_id, region_id, group_id)
        path = urls.group(*key)
        with self._transport.operation():
            response = self._transport.send("GET", path)
            if self.gone(key, response, "GET", path):
                return None
        return self._transport.parse(ApiGroup, response, "GET", path)

    def gone(self, key: GroupKey, response: requests.Response, method: str, path: str) -> bool:
        """The one decision that a group is gone (its rules with it), from the answer to a
        request about it. Gcore's 404 is a claim, also made for a route Gcore does not serve
        (a gcore:baseUrl ending in /cloud): the group is gone only when the group list,
        asked now, answers 200 without it. Else the 404 is an error naming gcore:baseUrl
        and the URL tried. One list call per group, shared by the rules read through it."""
        if not self._transport.not_found(response, method, path):
            return False
        project_id, region_id, group_id = key
        try:
            listed, _ = self.list(project_id, region_id, None)
        except GcoreError as error:
            listing = self._transport.url(urls.groups(project_id, region_id))
            said = f"answered {error.status}" if isinstance(error, ApiError) else "failed"
            why = f"the group list ({listing}) {said} too"
            raise self._transport.unproven(response, method, path, why) from None
        if any(group.id == group_id for group in listed):
            why = f"the group list still shows group {group_id}"
            raise self._transport.unproven(response, method, path, why)
        return True

    def rule_gone(
        self, key: GroupKey, rule_id: str, response: requests.Response, path: str, since: float
    ) -> bool:
        """The one decision that a rule is gone, after Gcore's 404 to a request for it (see
        ``gone``): proven by a read of its group, sent after ``since`` (a monotonic time),
        that answers 200 without the rule, or by its group proven gone. Reads are shared."""
        if not self._transport.not_found(response, "DELETE", path):
            return False
        group = self.fresh(key, since)
        if group is None or group.find(rule_id) is None:
            return True
        why = f"a read of group {key[2]} still shows rule {rule_id}"
        raise self._transport.unproven(response, "DELETE", path, why, _RULE_ROUTES)

    def shared(self, key: GroupKey, reader: Hashable) -> ApiGroup | None:
        """The group, from a read that other readers may share (each reader once)."""
        return self._cache.get(key, lambda: self.get(*key), reader=reader)

    def fresh(self, key: GroupKey, not_before: float) -> ApiGroup | None:
        """The group from a read sent after ``not_before`` (a monotonic time), shared."""
        return self._cache.get_fresh(key, lambda: self.get(*key), not_before)

    def invalidate(self, key: GroupKey) -> None:
        """A write to the group: no read that starts now is served from before it."""
        self._cache.invalidate(key)

    def find(
        self,
        project_id: int,
        region_id: int,
        name: str | None,
        tag_keys: Sequence[str],
        tag_key_value: Mapping[str, str],
    ) -> list[ApiGroup]:
        """Every group matching Gcore's list filters, each whole (rules included), every page.

        The filters are applied again to what Gcore answered (see ``matches``): Gcore does
        not document whether several ``tag_key`` combine as AND or OR; here they are AND."""
        query: dict[str, Any] = {"limit": PAGE_SIZE}
        if name is not None:
            query["name"] = name
        if tag_keys:
            query["tag_key"] = list(tag_keys)
        if tag_key_value:
            query["tag_key_value"] = json.dumps(dict(tag_key_value), separators=(",", ":"))
        found: list[ApiGroup]
        found, _ = self._transport.every(
            ApiGroupListPage, urls.groups(project_id, region_id), query
        )
        unique = {group.id: group for group in found}  # a group that moved between pages
        return [g for g in unique.values() if matches(g, name, tag_keys, tag_key_value)]

    def list(
        self, project_id: int, region_id: int, name: str | None
    ) -> tuple[list[ApiGroupSummary], datetime]:
        """Every page of the group list, and Gcore's time at the first answer."""
        query: dict[str, Any] = {"limit": PAGE_SIZE} | ({"name": name} if name else {})
        path = urls.groups(project_id, region_id)
        groups: list[ApiGroupSummary]
        groups, first = self._transport.every(ApiGroupPage, path, query)
        wanted = [group for group in groups if name is None or group.name == name]
        return wanted, gcore_time(first)

    def delete(self, project_id: int, region_id: int, group_id: str) -> bool:
        """Delete the group (v1) and with it its rules; False if it was already gone. A
        DELETE is safe to send twice: after a 2xx answer broken on the way (cut off, or not
        Gcore's JSON), the group list says whether it was done (the proof ``gone`` uses),
        and while the group is still there the DELETE is sent again."""
        key = (project_id, region_id, group_id)
        path = urls.group(*key)
        retries: Retries | None = None
        try:
            with self._transport.operation():
                while True:
                    try:
                        response = self._transport.send("DELETE", path)
                        if self.gone(key, response, "DELETE", path):
                            return False
                        in_use = (
                            hints.fitting(_GROUP_IN_USE, _IN_USE_UNDER_RUNNER)
                            if response.status_code == 409
                            else None
                        )
                        body = self._transport.expect(response, "DELETE", path, hint=in_use)
                    except (BrokenAnswerError, CutOffAnswerError) as broken:
                        if not self._listed(key):
                            return True
                        retries = retries or self._transport.retries()
                        cause = f"{broken_reason(broken)}, and the group is still there"
                        self._transport.spend(retries, "DELETE", path, cause, None)
                        continue
                    tasks = body.get("tasks") if isinstance(body, dict) else None
                    for task_id in tasks if isinstance(tasks, list) else ():
                        self._tasks.wait(str(task_id))
                    return True
        finally:
            self.invalidate(key)

    def _listed(self, key: GroupKey) -> bool:
        """Whether the group list, asked now, still shows the group (a failed list raises:
        nothing is taken as deleted without it)."""
        project_id, region_id, group_id = key
        listed, _ = self.list(project_id, region_id, None)
        return any(group.id == group_id for group in listed)


def matches(
    group: ApiGroup, name: str | None, tag_keys: Sequence[str], tag_key_value: Mapping[str, str]
) -> bool:
    """The list filters' meaning: the exact name, EVERY tag key present (AND) and every pair
    equal; read-only tags count too."""
    tags = {tag.key: tag.value for tag in group.tags_v2}
    return (
        (name is None or group.name == name)
        and all(key in tags for key in tag_keys)
        and all(tags.get(key) == value for key, value in tag_key_value.items())
    )


def read_made(read: Callable[[], T], provisional: Callable[[], T], what: str, whence: str) -> T:
    """What a create made (``what``), read now (``whence``: where from); if that read fails,
    ``provisional``: the values asked for. The stack records it either way: never an orphan."""
    try:
        return read()
    except GcoreError as error:
        log.warning(
            "gcore: %s was made, but reading %s failed (%s); recording it with the values "
            "asked for: %s reads the rest",
            what,
            whence,
            error,
            hints.refresh(),
        )
        return provisional()
