"""The security group's dynamic provider: the engine's calls, each one parse plus one client call.

Pickling, configuration and the shared client live in ``runtime.py`` (as for the rule's
provider); check and diff are pure (``group_schema``) and import neither requests nor
pydantic.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    UpdateResult,
)

from .group_schema import (
    ADOPT_KEY,
    GROUP_INPUT_KEYS,
    GROUP_MOVING_KEYS,
    GROUP_REPLACE_KEYS,
    canonical_group_state,
    check_group_inputs,
    diff_group,
    group_patch,
)
from .ownership import GroupAlreadyManagedError, managed_group_reason
from .place import require_place
from .rule_set import RULES_KEY, live_rules_output
from .runtime import ConfiguredProvider

if TYPE_CHECKING:
    from .models import ApiGroup, GroupSpec

log = logging.getLogger("gcore_pulumi")


class SecurityGroupProvider(ConfiguredProvider):
    """Creates, reads, updates and deletes Gcore security groups for ``SecurityGroup``."""

    # --- preview: no I/O -----------------------------------------------------------------

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Validate and canonicalise inputs; every problem is a failure naming its input.
        A bad default project or region shows under the input it leaves unset. A new
        resource's ``adopt_id`` of a group another SecurityGroup of this stack manages (as
        far as this process has seen) is refused (see ownership.py)."""
        outcome = check_group_inputs(news, self._rt().defaults)
        failures = self._failures(outcome.failures)
        adopt_id = outcome.inputs.get(ADOPT_KEY)
        name = self._rt().groups.manager(adopt_id)
        if not olds and isinstance(adopt_id, str) and name is not None:
            failures.append(CheckFailure(ADOPT_KEY, managed_group_reason(adopt_id, name)))
        return CheckResult(outcome.inputs, failures)

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """``name``, ``description``, ``tags`` and ``rules`` (compared as a set of
        canonical rules) change in place; ``project_id`` and ``region_id`` replace the
        group. Whether the group owns its rules (``rules`` given) is recorded, so that a
        SecurityGroupRule on it is refused in this run (see ownership.py)."""
        self._rt().rule_sets.record(id_, news.get("name"), news.get(RULES_KEY))
        result = diff_group(olds, news, self._rt().defaults)
        if news.get(RULES_KEY) is not None and RULES_KEY not in result.updates:
            # What the set holds, as the state last saw it, while this run leaves it as it is.
            # A set that changes is held only once its update succeeded (``update``): after a
            # failed update, the old set must not keep a removed SecurityGroupRule's delete
            # from closing its rule.
            self._rt().rule_sets.hold(id_, olds.get(RULES_KEY))
        if not result.replaces:  # a replacement's create may not be refused as a second owner
            self._rt().groups.manage(id_, news.get("name"))
        return DiffResult(
            changes=result.changed,
            replaces=result.replaces,
            stables=[key for key in GROUP_REPLACE_KEYS if key not in result.replaces],
            delete_before_replace=False,
        )

    # --- up, refresh, destroy ------------------------------------------------------------

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Create the group (v2 POST with its ``rules``: the declared set, else none) and
        wait for its one task; with ``adopt_id``, take that group over instead (no POST).
        With ``rules``, the group owns its rules from now on (see ownership.py)."""
        spec = self._spec(props)
        client = self._rt().client()
        group = self._adopt(spec) if spec.adopt_id is not None else client.create_group(spec).group
        self._rt().groups.manage(group.id, spec.name)
        self._rt().rule_sets.record(group.id, spec.name, spec.rules)
        outputs = _outputs(group, spec)
        self._rt().rule_sets.hold(group.id, outputs.get(RULES_KEY))
        return CreateResult(group.id, outputs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Read the group; gone means an empty id. Live name, description and tags become
        the inputs, so a change made outside Pulumi shows up in the next diff.

        No false drift: ``revision_number`` and ``updated_at`` move whenever anything in the
        group moves, its rules included (every rule the stack adds or deletes). When every
        value the user declares (name, description, tags, project, region) is as the state
        says, they keep what the stack last wrote, so a refresh right after ``up`` reports
        no change; when any declared value changed outside Pulumi, all outputs are the live
        ones. ``props`` may hold only ``project_id`` and ``region_id`` (``SecurityGroup.get``):
        then every output is live.
        """
        project_id, region_id = self._place(props)
        group = self._rt().client().get_group(project_id, region_id, id_)
        if group is None:
            self._rt().rule_sets.release(id_)
            return ReadResult("", {})
        from .models import group_outputs

        outputs = group_outputs(group, project_id, region_id)
        if props.get(ADOPT_KEY) is not None:  # an input only create uses: kept as written
            outputs[ADOPT_KEY] = props[ADOPT_KEY]
        defaults = self._rt().defaults
        refresh = props.get("revision_number") is not None  # state, not .get()'s props
        # A managed set (rules in the state) reads as the group's rules now, a rule added or
        # changed by hand included, so the next up puts back what the program declares.
        # SecurityGroup.get (props without a name) reads them live too. A read records no
        # owner (see ownership.py): a refresh of a .get() passes its last outputs, rules
        # included, exactly as a managed group's refresh does; the diff that follows a
        # managed group's refresh in an up records it.
        managed = props.get(RULES_KEY) is not None
        if managed or props.get("name") is None:
            outputs[RULES_KEY] = _live_rules(group)
        if refresh and (
            canonical_group_state(outputs, defaults) == canonical_group_state(props, defaults)
        ):
            outputs.update({key: props.get(key) for key in GROUP_MOVING_KEYS})
        inputs: dict[str, Any] = {k: outputs[k] for k in GROUP_INPUT_KEYS if k in outputs}
        if managed:  # as a program would write them: without Gcore's ids
            inputs[RULES_KEY] = [
                {k: v for k, v in rule.items() if k != "id"} for rule in outputs[RULES_KEY]
            ]
        return ReadResult(group.id, outputs, inputs)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """PATCH only what changed (tags as a merge patch, sent after the rest succeeded);
        ``rules`` (the complete set) only when given and changed as a set. Without
        ``rules`` the group's rules stay as they are (those of SecurityGroupRule
        resources, or a set the stack stops managing)."""
        defaults = self._rt().defaults
        old = canonical_group_state(olds, defaults)
        spec = self._spec(news)
        self._rt().rule_sets.record(id_, spec.name, spec.rules)
        self._rt().groups.manage(id_, spec.name)
        patch = group_patch(old, spec.model_dump())
        group = self._rt().client().update_group(spec.project_id, spec.region_id, id_, patch)
        outputs = _outputs(group, spec)
        self._rt().rule_sets.hold(id_, outputs.get(RULES_KEY))
        return UpdateResult(outputs)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Delete the group (its rules go with it); one already gone counts as deleted. A
        group that a create of this same command adopted (``adopt_id``) now belongs to that
        new resource: the old resource (renamed) is dropped from the stack, the group stays."""
        if self._rt().groups.adopted(id_):
            self._left_to_adopter("group", id_)
            return
        project_id, region_id = self._place(props)
        self._rt().rule_sets.release(id_)
        self._rt().groups.forget(id_)
        if not self._rt().client().delete_group(project_id, region_id, id_):
            log.warning("gcore: group %s was already gone; nothing to delete", id_)

    # --- helpers -------------------------------------------------------------------------

    def _adopt(self, spec: GroupSpec) -> ApiGroup:
        """Take over ``spec.adopt_id``, unless another SecurityGroup of this stack manages it
        (then refused before anything is sent)."""
        assert spec.adopt_id is not None
        groups = self._rt().groups
        name = groups.adopt(spec.adopt_id, spec.name)
        if name is not None:
            raise GroupAlreadyManagedError(managed_group_reason(spec.adopt_id, name))
        try:
            return self._rt().client().adopt_group(spec)
        except BaseException:
            groups.forget(spec.adopt_id)
            raise

    def _spec(self, props: dict[str, Any]) -> GroupSpec:
        from .models import GroupSpec

        return GroupSpec.from_state(canonical_group_state(props, self._rt().defaults))

    def _place(self, props: dict[str, Any]) -> tuple[int, int]:
        """Project and region from state (or ``.get()``'s props), else from config."""
        defaults = self._rt().defaults
        state = require_place(canonical_group_state(props, defaults), defaults)
        return int(state["project_id"]), int(state["region_id"])


def _outputs(group: ApiGroup, spec: GroupSpec) -> dict[str, Any]:
    """The group's outputs after create or update; ``rules`` (live, with ids) and
    ``adopt_id`` only when given, so the state of a group without them stays as earlier
    versions wrote it."""
    from .models import group_outputs

    outputs = group_outputs(group, spec.project_id, spec.region_id)
    if spec.rules is not None:
        outputs[RULES_KEY] = _live_rules(group)
    if spec.adopt_id is not None:
        outputs[ADOPT_KEY] = spec.adopt_id
    return outputs


def _live_rules(group: ApiGroup) -> list[dict[str, Any]]:
    """The ``rules`` output: the group's rules as Gcore holds them, canonical, with ids."""
    return live_rules_output([rule.model_dump() for rule in group.security_group_rules])
