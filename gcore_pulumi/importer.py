"""``python -m gcore_pulumi import-group <group-id>``: from a live group to a program.

Prints Python that declares the group with ``adopt_id`` and its rules exactly as Gcore holds
them, so that ``pulumi up`` right after takes the group over and plans no change to it.
``render_group`` (group JSON -> Python text) is pure; ``main`` reads the group (one GET)
and prints.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, TextIO

from .rule_set import live_rules_output
from .schema import BODY_KEYS

PROG: Final = "python -m gcore_pulumi import-group"


def resource_name(group_name: str) -> str:
    """A Pulumi resource name from a group name: lowercase letters, digits and dashes."""
    slug = re.sub(r"[^a-z0-9]+", "-", group_name.lower()).strip("-")
    return slug[:60] or "security-group"


def _user_tags(group: Mapping[str, Any]) -> dict[str, str]:
    tags = group.get("tags_v2") or []
    return {
        str(tag["key"]): str(tag["value"])
        for tag in tags
        if isinstance(tag, Mapping) and not tag.get("read_only")
    }


def _rule_line(rule: Mapping[str, Any]) -> str:
    """One rule as ``SecurityGroupRulesArgs(...)``: every field that has a value (ethertype
    and protocol always), strings as Python literals (safe for any text)."""
    fields = []
    for key in BODY_KEYS:
        value = rule.get(key)
        if value is None or (key == "description" and value == ""):
            continue
        fields.append(f"{key}={value!r}")
    return f"SecurityGroupRulesArgs({', '.join(fields)})"


def render_group(group: Mapping[str, Any], project_id: int, region_id: int) -> str:
    """A complete Pulumi program (``__main__.py``) declaring ``group`` (as the group read
    answers it) with ``adopt_id`` and its rules as they are, canonical and in a stable
    order; read-only tags (Gcore's own) are left out."""
    group_id = str(group["id"]).lower()
    name = str(group.get("name") or "")
    description = str(group.get("description") or "")
    tags = _user_tags(group)
    rules = live_rules_output(list(group.get("security_group_rules") or []))
    lines = [  # a comment header: a name may hold anything, `"""` too (repr has no newline)
        f"# Security group {name!r} ({group_id}), imported by `{PROG} {group_id}`.",
        "#",
        "# `pulumi up` takes the existing group over (adopt_id: no new group is made) and, as",
        "# long as nobody changes it meanwhile, plans no change. From then on this program owns",
        "# the group's complete rule set: a rule not listed here is deleted by the next up.",
        "",
        "import pulumi",
        "",
        "from gcore_pulumi import SecurityGroup, SecurityGroupRulesArgs",
        "",
        "group = SecurityGroup(",
        f"    {resource_name(name)!r},",
        f"    name={name!r},",
    ]
    if description:
        lines.append(f"    description={description!r},")
    if tags:
        lines.append(f"    tags={dict(sorted(tags.items()))!r},")
    lines += [f"    project_id={int(project_id)!r},", f"    region_id={int(region_id)!r},"]
    lines.append(f"    adopt_id={group_id!r},")
    if rules:
        lines.append("    rules=[")
        for rule in rules:
            lines.append(f"        {_rule_line(rule)},  # now {rule.get('id')}")
        lines.append("    ],")
    else:
        lines.append("    rules=[],")
    lines += [")", "", 'pulumi.export("security_group_id", group.id)', ""]
    return "\n".join(lines)


# --- the command ------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The command line parser."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Print a Pulumi program (Python) that declares an existing Gcore "
        "security group with adopt_id and its rules exactly as they are.",
        epilog="Settings come from the options, then --config gcore:KEY=VALUE, then the "
        "GCORE_* environment variables (GCORE_API_KEY, GCORE_CLOUD_PROJECT_ID, "
        "GCORE_CLOUD_REGION_ID, GCORE_BASE_URL). Exit status: 0 printed, 1 the group could "
        "not be read, 2 a bad command line.",
    )
    parser.add_argument("group_id", help="the group's id (uuid)")
    parser.add_argument("--project-id", type=int, default=None, help="Gcore project id")
    parser.add_argument("--region-id", type=int, default=None, help="Gcore region id")
    parser.add_argument("--base-url", default=None, help="API base URL (e.g. an emulator's)")
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="gcore:KEY=VALUE",
        help="a provider setting as in the stack config (repeatable), e.g. gcore:apiKey=...",
    )
    parser.add_argument("--output", "-o", default=None, metavar="FILE", help="write to FILE")
    return parser


def _config(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Callable[[str], Any]:
    values: dict[str, str] = {}
    for item in args.config:
        key, sep, value = item.partition("=")
        if not sep or not key.startswith("gcore:"):
            parser.error(f"--config takes gcore:KEY=VALUE, got {key!r}")
        values[key] = value
    for option, key in (
        (args.project_id, "gcore:projectId"),
        (args.region_id, "gcore:regionId"),
        (args.base_url, "gcore:baseUrl"),
    ):
        if option is not None:
            values[key] = str(option)
    return values.get


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Read the group and print the program; errors are one line on stderr."""
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    config = _config(args, parser)

    from .errors import GcoreError
    from .schema import InvalidInput, parse_uuid
    from .settings import Settings

    try:
        group_id = parse_uuid(args.group_id, "the group id")
    except InvalidInput as problem:
        parser.error(f"group id {problem}")
    try:
        settings = Settings.load(config)
        project, region = settings.project_id, settings.region_id
        if project is None or region is None:
            missing = "--project-id (or GCORE_CLOUD_PROJECT_ID)" if project is None else ""
            missing = missing or "--region-id (or GCORE_CLOUD_REGION_ID)"
            print(f"{PROG}: no project or region: pass {missing}", file=sys.stderr)
            return 2
        from .client import GcoreClient

        client = GcoreClient(settings)
        try:
            group = client.get_group(project, region, group_id)
        finally:
            client.close()
    except GcoreError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 1
    if group is None:
        print(
            f"{PROG}: no security group {group_id} in project {project}, region {region}",
            file=sys.stderr,
        )
        return 1
    text = render_group(group.model_dump(), project, region)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        (out or sys.stdout).write(text)
    return 0
