"""The rule's dynamic provider: the engine's calls, each one parse plus one client call.

Pickling, configuration and the shared client live in ``runtime.py``. Heavy imports
(requests, pydantic) wait until create/read/delete, so preview (check, diff) stays fast
and makes no HTTP requests.
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

from .ownership import RuleOwnedBySetError, owned_by_set_reason
from .place import require_place, with_place
from .runtime import ConfiguredProvider
from .schema import (
    INPUT_KEYS,
    PROVIDER_KEY,
    RULE_KEYS,
    Defaults,
    canonical_state,
    check_inputs,
    duplicate_key,
    is_unknown,
    same_port_range,
)

PORT_KEYS = ("port_range_min", "port_range_max")

if TYPE_CHECKING:
    from .models import RuleSpec

log = logging.getLogger("gcore_pulumi")


class SecurityGroupRuleProvider(ConfiguredProvider):
    """Creates, reads and deletes Gcore security group rules for ``SecurityGroupRule``."""

    # --- preview: no I/O -----------------------------------------------------------

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Validate and canonicalise inputs; every problem is a failure naming its key.

        Unusable settings (an http:// URL, a bad timeout) do not fail preview: they stop the
        first create, read or delete, which is where they would matter. A bad default
        project or region is the exception, shown under the input it leaves unset.
        """
        outcome = check_inputs(news, self._rt().defaults)
        failures = self._failures(outcome.failures)
        owned = self._owned_by_set(outcome.inputs.get("group_id"))
        if owned is not None:
            failures.append(CheckFailure("group_id", owned))
        return CheckResult(outcome.inputs, failures)

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Every rule field forces replacement; ``adopt_existing`` alone is an update. A port
        protocol's 1..65535 and no ports are one rule (Neutron stores both as no range), so
        either spelling, in the program or in state written by any version, plans no change.

        Old state without project/region (written by hand or an older version) is completed
        from config exactly as read and delete do, so an unchanged program plans no change.
        The rule's id is recorded as owned: no create in this process may adopt it (not
        even the replacement of this very resource).
        """
        runtime = self._rt()
        runtime.owned.add(id_)
        old = canonical_state(with_place(olds, runtime.defaults))
        new = canonical_state(with_place(news, runtime.defaults))
        same_ports = not any(is_unknown(new[key]) for key in ("protocol", *PORT_KEYS)) and (
            same_port_range(old, new)
        )

        def replaced(key: str) -> bool:
            if is_unknown(new[key]):
                return True
            if key in PORT_KEYS and same_ports:
                return False  # 1..65535 and no ports are one rule at Gcore (Neutron)
            return bool(new[key] != old[key])

        replaces = [key for key in RULE_KEYS if replaced(key)]
        adopt_changed = is_unknown(new["adopt_existing"]) or (
            new["adopt_existing"] != old["adopt_existing"]
        )
        collide = (
            bool(replaces)
            and not any(is_unknown(v) for v in new.values())
            and (
                duplicate_key(old) == duplicate_key(new)
                and (old["project_id"], old["region_id"]) == (new["project_id"], new["region_id"])
            )
        )
        return DiffResult(
            changes=bool(replaces) or adopt_changed,
            replaces=replaces,
            stables=[key for key in RULE_KEYS if key not in replaces],
            delete_before_replace=collide,
        )

    def _owned_by_set(self, group_id: object) -> str | None:
        """Why a rule may not go into this group (its rules are a SecurityGroup's set), or
        None. Only what this process has seen of the group counts (see ownership.py)."""
        if not isinstance(group_id, str):
            return None
        name = self._rt().rule_sets.owner(group_id)
        return None if name is None else owned_by_set_reason(group_id, name)

    # --- up, refresh, destroy ------------------------------------------------------

    def create(self, props: dict[str, Any]) -> CreateResult:
        """POST the rule (or adopt its twin); outputs are the live rule, canonical. A rule
        for a group whose rules a SecurityGroup owns as a set is refused, sending nothing."""
        spec = _spec(props, self._rt().defaults)
        owned = self._owned_by_set(spec.group_id)
        if owned is not None:
            raise RuleOwnedBySetError(owned)
        created = self._rt().client().create_rule(spec)
        return CreateResult(created.rule.id, created.rule.to_outputs(spec))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Find the rule in its group; gone means an empty id. Live values become inputs.

        ``props`` may hold only group_id, project_id and region_id (``SecurityGroupRule.get``):
        the live rule then supplies the rest. Such a rule is External (read, never managed by
        this stack), so it is not recorded as owned: a create with ``adopt_existing`` may still
        take it over. A refresh (props = the resource's state) records its rule as owned.
        """
        partial = props.get("direction") is None
        spec = _spec({**props, "direction": "ingress"} if partial else props, self._rt().defaults)
        rule = self._rt().client().find_rule(spec.project_id, spec.region_id, spec.group_id, id_)
        if rule is None:
            return ReadResult("", {})
        if not partial:
            self._rt().owned.add(rule.id)
        if partial:
            live = {**rule.as_rule(), "project_id": spec.project_id, "region_id": spec.region_id}
            spec = _spec(live, self._rt().defaults)
        outputs = rule.to_outputs(spec)
        return ReadResult(rule.id, outputs, {key: outputs[key] for key in INPUT_KEYS})

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Only ``adopt_existing`` changes in place; it affects nothing at Gcore."""
        outputs = {key: value for key, value in olds.items() if key != PROVIDER_KEY}
        outputs["adopt_existing"] = bool(news.get("adopt_existing", False))
        return UpdateResult(outputs)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Delete the rule; one already gone (or whose group is gone) counts as deleted.

        A rule that a create of this same command adopted (``adopt_existing``) now belongs
        to that new resource: the old resource that recorded it (renamed without an alias)
        is dropped from the stack, and the rule stays. So does a rule that a group's rule set
        of this command holds (the rule was moved into the group's ``rules``; see
        ownership.py): deleting it would delete a rule the set declares.
        """
        kept = self._rt().rule_sets.keeps(props.get("group_id"), id_, props)
        if kept is not None:
            log.warning(
                "gcore: rule %s is not deleted: %s now (it stays, managed by that set)",
                id_,
                kept,
            )
            return
        if self._rt().owned.adopted(id_):
            self._left_to_adopter("rule", id_)
            return
        spec = _spec(props, self._rt().defaults)
        gone = (
            not self._rt().client().delete_rule(spec.project_id, spec.region_id, spec.group_id, id_)
        )
        if gone:
            log.warning("gcore: rule %s was already gone; nothing to delete", id_)


def _spec(props: dict[str, Any], defaults: Defaults) -> RuleSpec:
    """Props (inputs or old outputs) as a RuleSpec; state written without project or region
    (by hand, or by an older version) falls back to config, as check would have."""
    from .models import RuleSpec

    return RuleSpec.from_props(require_place(props, defaults))
