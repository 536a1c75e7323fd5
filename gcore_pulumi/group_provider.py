"""The security group's dynamic provider: the engine's calls, each one parse plus one client call.

Like ``SecurityGroupRuleProvider``, the instance is pickled BY REFERENCE into every
resource's state and holds nothing until ``configure()`` runs in the provider process;
check and diff are pure (``group_schema``) and import neither requests nor pydantic.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)

from .errors import ConfigurationError
from .group_schema import (
    GROUP_INPUT_KEYS,
    GROUP_REPLACE_KEYS,
    canonical_group_state,
    check_group_inputs,
    diff_group,
    group_patch,
)
from .provider import _DEFAULT_SOURCES, _log_to_stderr, _Runtime

if TYPE_CHECKING:
    from .models import ApiGroup, GroupSpec

log = logging.getLogger("gcore_pulumi")


class SecurityGroupProvider(ResourceProvider):
    """Creates, reads, updates and deletes Gcore security groups for ``SecurityGroup``."""

    serialize_as_secret_always = False
    """The pickled provider holds no secret (only a class reference), so state need not hide it."""

    _runtime: _Runtime | None = None
    """Settings and client, made in the provider process; never pickled (see __getstate__)."""

    def __init__(self) -> None:
        # Deliberately empty: whatever is set here is pickled into every resource's state.
        super().__init__()

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        del state  # nothing is ever stored

    def configure(self, req: ConfigureRequest) -> None:
        """Read stack config (falling back to GCORE_* variables) once per process."""
        self._runtime = _Runtime(lambda key: req.config.get(key))
        _log_to_stderr()

    def _rt(self) -> _Runtime:
        if self._runtime is None:  # configure() was not called (used outside the engine)
            self._runtime = _Runtime(None)
        return self._runtime

    # --- preview: no I/O -----------------------------------------------------------------

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Validate and canonicalise inputs; every problem is a failure naming its input.
        A bad default project or region shows under the input it leaves unset."""
        runtime = self._rt()
        outcome = check_group_inputs(news, runtime.defaults)
        bad_config = {problem.key: problem for problem in runtime.problems}
        failures = []
        for key, reason in outcome.failures:
            problem = next(
                (bad_config[k] for k in _DEFAULT_SOURCES.get(key, ()) if k in bad_config), None
            )
            failures.append(CheckFailure(key, str(problem) if problem else reason))
        return CheckResult(outcome.inputs, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """``name``, ``description`` and ``tags`` change in place; ``project_id`` and
        ``region_id`` replace the group."""
        result = diff_group(olds, news, self._rt().defaults)
        return DiffResult(
            changes=result.changed,
            replaces=result.replaces,
            stables=[key for key in GROUP_REPLACE_KEYS if key not in result.replaces],
            delete_before_replace=False,
        )

    # --- up, refresh, destroy ------------------------------------------------------------

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Create the group with no rules (v2 POST, ``"rules": []``) and wait for its task."""
        spec = self._spec(props)
        created = self._rt().client().create_group(spec)
        return CreateResult(
            created.group.id, _outputs(created.group, spec.project_id, spec.region_id)
        )

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Read the group; gone means an empty id. Live name, description and tags become
        the inputs, so a change made outside Pulumi shows up in the next diff.

        ``props`` may hold only ``project_id`` and ``region_id`` (``SecurityGroup.get``).
        """
        project_id, region_id = self._place(props)
        group = self._rt().client().get_group(project_id, region_id, id_)
        if group is None:
            return ReadResult("", {})
        outputs = _outputs(group, project_id, region_id)
        return ReadResult(group.id, outputs, {key: outputs[key] for key in GROUP_INPUT_KEYS})

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """PATCH only what changed (tags as a merge patch), never ``rules``: the rules of
        ``SecurityGroupRule`` resources stay as they are."""
        defaults = self._rt().defaults
        old = canonical_group_state(olds, defaults)
        spec = self._spec(news)
        patch = group_patch(old, spec.model_dump())
        group = self._rt().client().update_group(spec.project_id, spec.region_id, id_, patch)
        return UpdateResult(_outputs(group, spec.project_id, spec.region_id))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Delete the group (its rules go with it); one already gone counts as deleted."""
        project_id, region_id = self._place(props)
        if not self._rt().client().delete_group(project_id, region_id, id_):
            log.warning("gcore: group %s was already gone; nothing to delete", id_)

    # --- helpers -------------------------------------------------------------------------

    def _spec(self, props: dict[str, Any]) -> GroupSpec:
        from .models import GroupSpec

        return GroupSpec.from_state(canonical_group_state(props, self._rt().defaults))

    def _place(self, props: dict[str, Any]) -> tuple[int, int]:
        """Project and region from state (or ``.get()``'s props), else from config."""
        state = canonical_group_state(props, self._rt().defaults)
        for key, (config_key, env) in zip(
            GROUP_REPLACE_KEYS, (_DEFAULT_SOURCES[k] for k in GROUP_REPLACE_KEYS), strict=True
        ):
            if state[key] is None:
                raise ConfigurationError(
                    f"no {key} for this security group: pass {key}=... (to SecurityGroup.get "
                    f"too), or set `{config_key}` in the stack config or {env}",
                    key=config_key,
                )
        return int(state["project_id"]), int(state["region_id"])


def _outputs(group: ApiGroup, project_id: int, region_id: int) -> dict[str, Any]:
    from .models import group_outputs

    return group_outputs(group, project_id, region_id)
