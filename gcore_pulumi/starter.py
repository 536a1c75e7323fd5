"""``python -m gcore_pulumi new DIR``: a starter Pulumi project that runs at once.

It writes ``Pulumi.yaml``, ``__main__.py`` (a security group with no rules but those it
declares: SSH from one network, HTTPS from anywhere, all egress), ``requirements.txt`` and a
short ``README.md`` saying how to run it through the built-in runner against the local
emulator (no Pulumi CLI needed) and, unchanged, through the Pulumi CLI.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

PROG: Final = "python -m gcore_pulumi new"

PULUMI_YAML: Final = """\
name: {name}
description: Gcore security group and its rules
runtime:
  name: python
  options:
    toolchain: pip
    virtualenv: venv
"""

MAIN: Final = '''\
"""A Gcore security group holding exactly the rules declared here."""

import pulumi

from gcore_pulumi import SecurityGroup, SecurityGroupRule

config = pulumi.Config()
admin_cidr = config.get("adminCidr") or "203.0.113.0/24"

# Made with no rules: Gcore's default template (all egress AND all ingress) is not applied.
group = SecurityGroup("{name}", name=config.get("groupName") or "{name}")

rules = {{
    "ssh": SecurityGroupRule(
        "ssh",
        group_id=group.id,
        direction="ingress",
        protocol="tcp",
        port_range_min=22,
        port_range_max=22,
        remote_ip_prefix=admin_cidr,
        description="SSH from the admin network",
    ),
    "https": SecurityGroupRule(
        "https",
        group_id=group.id,
        direction="ingress",
        protocol="tcp",
        port_range_min=443,
        port_range_max=443,
        remote_ip_prefix="0.0.0.0/0",
        description="HTTPS from anywhere",
    ),
    # All traffic out over IPv4 (add an "IPv6" twin with ethertype="IPv6" if you need it).
    "egress": SecurityGroupRule(
        "egress", group_id=group.id, direction="egress", ethertype="IPv4",
        description="all traffic out (IPv4)",
    ),
}}

pulumi.export("group_id", group.id)
pulumi.export("rule_ids", {{name: rule.id for name, rule in rules.items()}})
'''

README: Final = """\
# {name}

A Gcore security group and its rules (`__main__.py`), made by `{prog} {folder}`.

Without the Pulumi CLI, against the local Gcore API emulator, in two terminals, from any
folder (the commands name this project by its full path): the emulator in the first, the run
in the second.

```sh
{python} -m gcore_pulumi.testing --port 8787
{python} -m gcore_pulumi.testing run {folder} --pause-after-up \\
    --config gcore:baseUrl=http://127.0.0.1:8787 --config gcore:projectId=1 \\
    --config gcore:regionId=1 --secret gcore:apiKey=test-api-key
```

The run plans, creates, waits for Enter (change a rule by hand meanwhile to see drift), refreshes
and destroys; it keeps no state. With the Pulumi CLI (3.139 or newer), in this project's
folder (`cd {folder}`): `pulumi stack init dev`, `pulumi config set --secret gcore:apiKey <token>`,
`pulumi config set gcore:projectId <id>`, `pulumi config set gcore:regionId <id>`, `pulumi up`.
Config: `adminCidr` (default `203.0.113.0/24`), `groupName` (default `{name}`).
"""


def _requirements() -> str:
    """This checkout (editable) when gcore_pulumi runs from one, else the released package."""
    from gcore_pulumi import __version__

    root = Path(__file__).resolve().parents[1]
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and 'name = "gcore-pulumi"' in pyproject.read_text(encoding="utf-8"):
        package = f"-e {root}"
    else:
        package = f"gcore-pulumi=={__version__}"
    return f"{package}\npulumi>=3.216,<4\n"


def project_name(folder: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", folder.resolve().name).strip("-.")
    return name or "gcore-starter"


def build_parser() -> argparse.ArgumentParser:
    # the docstring's first line as plain text: --help shows no reStructuredText backticks
    description = __doc__.splitlines()[0].replace("``", "")
    parser = argparse.ArgumentParser(prog=PROG, description=description)
    parser.add_argument("folder", metavar="DIR", help="where to make the project (new or empty)")
    parser.add_argument("--name", help="the Pulumi project name (default: DIR's name)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        parser.error(f"{folder} exists and is not an empty folder; name a new one")
    name = args.name or project_name(folder)
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        parser.error(f"--name {name!r}: use letters, digits, '-', '_' and '.' only")
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "Pulumi.yaml": PULUMI_YAML.format(name=name),
        "__main__.py": MAIN.format(name=name),
        "requirements.txt": _requirements(),
        # the project's full path: the commands work from any folder, not only where `new` ran
        "README.md": README.format(
            name=name, prog=PROG, folder=shlex.quote(str(folder.resolve())), python=sys.executable
        ),
    }
    for file, text in files.items():
        (folder / file).write_text(text, encoding="utf-8")
    print(f"Made {', '.join(files)} in {folder}: see {folder / 'README.md'} to run it.")
    return 0
