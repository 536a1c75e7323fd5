"""A Pulumi project and its stack config as the runner reads them (no CLI, no decryption).

``load_project`` reads Pulumi.yaml (name, ``main:``, ``config:`` defaults, ``stackConfigDir:``);
``load_stack_config`` reads Pulumi.<stack>.yaml's ``config:``. Keys are namespaced as
``pulumi config set`` does; values are text as the Pulumi SDK holds them; an encrypted
(``secure:``) value is refused, naming the key, since only the CLI can decrypt it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["Project", "ProjectError", "load_project", "load_stack_config", "namespaced"]


class ProjectError(Exception):
    """Pulumi.yaml, the stack config or an option cannot be used; the message says why."""


@dataclass(frozen=True)
class Project:
    """A Pulumi project: its name, the folder of Pulumi.yaml, and the folder of the program."""

    name: str
    root: Path
    program: Path
    defaults: dict[str, str]
    config_dir: Path | None = None
    """Where Pulumi.<stack>.yaml is (Pulumi.yaml's ``stackConfigDir:``); None: ``root``."""


def namespaced(key: str, project: str) -> str:
    """``key`` with the project's namespace when it has none (``sshCidr`` -> ``web:sshCidr``)."""
    return key if ":" in key else f"{project}:{key}"


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProjectError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ProjectError(f"{path} is not valid YAML: {exc}") from None


def _config_text(value: Any) -> str:
    """A config value as the Pulumi SDK holds it: text (structured values as JSON)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


def _has_secure(value: Any) -> bool:
    """An encrypted value is ``{secure: CIPHERTEXT}`` (one key, a string), at any depth."""
    if isinstance(value, dict):
        if len(value) == 1 and isinstance(value.get("secure"), str):
            return True
        return any(_has_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_secure(v) for v in value)
    return False


def load_project(program_dir: str | os.PathLike[str]) -> Project:
    """Read PROGRAM_DIR/Pulumi.yaml: the project name, ``main:``, and ``config:`` defaults."""
    root = Path(program_dir).resolve()
    manifest = root / "Pulumi.yaml"
    if not manifest.is_file():
        raise ProjectError(f"{root} has no Pulumi.yaml: give the folder of a Pulumi project")
    data = _read_yaml(manifest)
    name = data.get("name") if isinstance(data, dict) else None
    if not isinstance(name, str) or not name.strip():
        raise ProjectError(f"{manifest} has no `name:`; add the project's name there")
    main_option = data.get("main")
    program = (root / main_option).resolve() if isinstance(main_option, str) else root
    if program.suffix == ".py" or not (program / "__main__.py").is_file():
        raise ProjectError(
            f"{program} has no __main__.py: this runner runs a program folder's __main__.py"
        )
    defaults: dict[str, str] = {}
    declared = data.get("config")
    for key, spec in declared.items() if isinstance(declared, dict) else []:
        # `value:` sets the key for every stack (the form for other namespaces), `default:`
        # is the declared default; a plain value is the short form.
        value = spec.get("value", spec.get("default")) if isinstance(spec, dict) else spec
        if value is not None:
            defaults[namespaced(str(key), name)] = _config_text(value)
    config_dir_option = data.get("stackConfigDir")
    config_dir = root / config_dir_option if isinstance(config_dir_option, str) else None
    return Project(name=name, root=root, program=program, defaults=defaults, config_dir=config_dir)


def load_stack_config(project: Project, stack: str, given: Collection[str] = ()) -> dict[str, str]:
    """The ``config:`` of Pulumi.<stack>.yaml next to Pulumi.yaml, or in its
    ``stackConfigDir:`` ({} when there is none),
    namespaced. A ``secure:`` value is an error unless its key is in ``given`` (namespaced
    keys the caller sets itself)."""
    path = (project.config_dir or project.root) / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        return {}
    data = _read_yaml(path)
    raw = data.get("config") if isinstance(data, dict) else None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ProjectError(f"{path}: `config:` must be a mapping of keys to values")
    config: dict[str, str] = {}
    for key, value in raw.items():
        full = namespaced(str(key), project.name)
        if full in given:
            continue
        if _has_secure(value):
            raise ProjectError(
                f"{path}: {full} is encrypted (secure:) and cannot be decrypted without the "
                f"Pulumi CLI; pass it with --secret {full}=VALUE (or --secret {full} and the "
                "value on standard input)"
            )
        config[full] = _config_text(value)
    return config
