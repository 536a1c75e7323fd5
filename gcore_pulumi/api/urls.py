"""Every Gcore URL this package calls, in one place (paths below ``gcore:baseUrl``).

Rules are written through v1 or v2 (``gcore:ruleApi``); groups are read and deleted
through v1 and created and patched through v2; tasks and lists are v1.
"""

from __future__ import annotations

from typing import Final

TASKS: Final = "/cloud/v1/tasks"


def groups(project_id: int, region_id: int) -> str:
    """The v1 group list of a project and region."""
    return f"/cloud/v1/securitygroups/{project_id}/{region_id}"


def group(project_id: int, region_id: int, group_id: str) -> str:
    """One group (v1): read with its rules, or deleted with them."""
    return f"{groups(project_id, region_id)}/{group_id}"


def groups_v2(project_id: int, region_id: int) -> str:
    """Where a group is created (v2, answers a task)."""
    return f"/cloud/v2/security_groups/{project_id}/{region_id}"


def group_v2(project_id: int, region_id: int, group_id: str) -> str:
    """One group (v2): patched."""
    return f"{groups_v2(project_id, region_id)}/{group_id}"


def rules_v1(project_id: int, region_id: int, group_id: str) -> str:
    return f"{group(project_id, region_id, group_id)}/rules"


def rule_v1(project_id: int, region_id: int, rule_id: str) -> str:
    return f"/cloud/v1/securitygrouprules/{project_id}/{region_id}/{rule_id}"


def rules_v2(project_id: int, region_id: int, group_id: str) -> str:
    return f"{group_v2(project_id, region_id, group_id)}/rules"


def rule_v2(project_id: int, region_id: int, group_id: str, rule_id: str) -> str:
    return f"{rules_v2(project_id, region_id, group_id)}/{rule_id}"


def task(task_id: str) -> str:
    return f"{TASKS}/{task_id}"
