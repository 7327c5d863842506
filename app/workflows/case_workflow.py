"""The case workflow: the transition table of the contract, its guards, and the machine.

The table below is the single source for the machine, `GET /workflow`, the Mermaid diagram
and the table-driven tests.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from transitions import Machine
from transitions.extensions import GraphMachine

from app.common.enums import (
    CONCLUDE_OUTCOMES,
    CaseState,
    ConsentMethod,
    ConsentScope,
    DeclineReason,
    Facilitator,
    Monitoring,
    RiskLevel,
    Role,
    TaskKind,
    Trigger,
)
from app.workflows.pairing import PAIRING_WORDS, pairing_holds, stage_contact

S = CaseState
PRACTITIONER = frozenset({Role.PRACTITIONER})
PRACTITIONER_OR_REP = frozenset({Role.PRACTITIONER, Role.REP})
PAUSABLE = (S.ASSESSMENT, S.SHUTTLE_MEDIATION, S.LETTER_EXCHANGE, S.CONFERENCE, S.FOLLOW_UP)


@dataclass(frozen=True, slots=True)
class Transition:
    """One row of the workflow table. `dest=None` means back to the state paused from.
    `stays_while` names a condition under which the trigger leaves the state as it is (and does
    only its other work) instead of moving to `dest`."""

    trigger: str
    sources: tuple[CaseState, ...]
    dest: CaseState | None
    who: frozenset[Role]
    guards: tuple[str, ...] = ()
    automatic: bool = False
    stays_while: str | None = None
    # Fired by the service itself when a change breaks the stage (as well as by hand).
    by_system: bool = False
    # From the first state, the move goes to the second instead of `dest` while the named
    # condition holds.
    instead: tuple[CaseState, CaseState, str] | None = None


TABLE: tuple[Transition, ...] = (
    Transition("accept", (S.REFERRED,), S.ASSESSMENT, PRACTITIONER),
    Transition("decline", (S.REFERRED, S.ASSESSMENT), S.CLOSED, PRACTITIONER, ("decline_reason_valid",)),
    Transition(
        "start_shuttle",
        (S.ASSESSMENT, S.LETTER_EXCHANGE, S.CONFERENCE),
        S.SHUTTLE_MEDIATION,
        PRACTITIONER,
        (
            "risk_assessed",
            "two_parties_consent_indirect",
            "responsibility_acknowledged",
            "facilitator_set",
            "rep_facilitates_low_risk_only",
        ),
    ),
    Transition(
        "start_letters",
        (S.ASSESSMENT, S.SHUTTLE_MEDIATION),
        S.LETTER_EXCHANGE,
        PRACTITIONER,
        ("risk_assessed", "letter_writer_and_recipient_consent", "responsibility_acknowledged"),
    ),
    Transition(
        "schedule_conference",
        (S.ASSESSMENT, S.SHUTTLE_MEDIATION, S.LETTER_EXCHANGE),
        S.CONFERENCE,
        PRACTITIONER,
        (
            "risk_assessed",
            "risk_not_high",
            "every_party_consents_direct",
            "responsibility_acknowledged",
            "conference_details_given",
            "no_open_non_association",
        ),
    ),
    Transition(
        "conclude",
        (S.SHUTTLE_MEDIATION, S.LETTER_EXCHANGE, S.CONFERENCE),
        S.FOLLOW_UP,
        PRACTITIONER,
        ("conclude_outcome_valid", "conference_held_if_conference"),
    ),
    Transition(
        "withdraw",
        (S.ASSESSMENT, S.SHUTTLE_MEDIATION, S.LETTER_EXCHANGE, S.CONFERENCE, S.ON_HOLD),
        S.FOLLOW_UP,
        PRACTITIONER,
        ("withdrawing_party_named",),
        stays_while="others_go_on",
    ),
    Transition(
        "pause",
        PAUSABLE,
        S.ON_HOLD,
        PRACTITIONER_OR_REP,
        ("until_given", "reason_given", "rep_pause_within_limit"),
    ),
    Transition("resume", (S.ON_HOLD,), None, PRACTITIONER, automatic=True),
    Transition(
        "close",
        (S.FOLLOW_UP,),
        S.CLOSED,
        PRACTITIONER,
        ("no_open_wellbeing_check", "no_open_safeguarding_concern", "agreement_settled_or_monitored"),
    ),
    Transition("reopen", (S.CLOSED,), S.ASSESSMENT, PRACTITIONER, ("reason_given", "not_purged")),
    Transition(
        "call_off",
        (S.CONFERENCE, S.SHUTTLE_MEDIATION),
        S.ASSESSMENT,
        PRACTITIONER,
        ("reason_given",),
        by_system=True,
        instead=(S.CONFERENCE, S.SHUTTLE_MEDIATION, "shuttle_can_go_on"),
    ),
)

BY_TRIGGER: dict[str, Transition] = {t.trigger: t for t in TABLE}
TRIGGERS: tuple[str, ...] = tuple(BY_TRIGGER)

# What `resume` re-checks of the state it returns to: the guards of the move that leads there,
# those judged from the case alone (the conference's time, place and keep-apart were settled
# when it was arranged). Unmet, the case goes to assessment instead.
RESUME_GATES: dict[CaseState, tuple[str, ...]] = {
    S.SHUTTLE_MEDIATION: BY_TRIGGER["start_shuttle"].guards,
    S.LETTER_EXCHANGE: BY_TRIGGER["start_letters"].guards,
    S.CONFERENCE: tuple(
        g
        for g in BY_TRIGGER["schedule_conference"].guards
        if g not in ("conference_details_given", "no_open_non_association")
    ),
}


class Action(StrEnum):
    """Work on a case, other than a move, that depends on consent, risk or responsibility."""

    CONFERENCE_REARRANGED = "conference.rearranged"
    CONFERENCE_HELD = "conference.held"
    SHUTTLE_CONTACT = "contact.shuttle"
    LETTER_DELIVERED = "letter.delivered"
    REP_FACILITATES = "case.facilitator_rep"
    REPS_ASSIGNED = "case.reps_assigned"


# The gates each action depends on, judged like a move's guards whenever the action is taken
# (not only when the case entered its state): consents, risk and responsibility can change at
# any time. A refusal names the unmet gates as a move's does.
_MEETING = ("risk_not_high", "every_party_consents_direct", "responsibility_acknowledged")
ACTION_GATES: dict[Action, tuple[str, ...]] = {
    Action.CONFERENCE_REARRANGED: _MEETING,
    Action.CONFERENCE_HELD: _MEETING,
    Action.SHUTTLE_CONTACT: ("party_consents_indirect",),
    Action.LETTER_DELIVERED: ("recipient_consents_letters",),
    Action.REP_FACILITATES: ("rep_facilitates_low_risk_only",),
    Action.REPS_ASSIGNED: ("rep_facilitates_low_risk_only",),
}
# What the refusal says was refused.
ACTION_WORDS: dict[Action, str] = {
    Action.CONFERENCE_REARRANGED: "rearranging the conference is refused",
    Action.CONFERENCE_HELD: "recording the conference as held is refused",
    Action.SHUTTLE_CONTACT: "a shuttle contact is refused",
    Action.LETTER_DELIVERED: "delivering the letter is refused",
    Action.REP_FACILITATES: "a rep facilitating is refused",
    Action.REPS_ASSIGNED: "assigning reps is refused",
}
# Work on the wings recorded as done through its task: the task's party (the person seen, or the
# letter's recipient) is the party the action's gates are judged for.
TASK_GATES: dict[TaskKind, Action] = {
    TaskKind.SHUTTLE_VISIT: Action.SHUTTLE_CONTACT,
    TaskKind.LETTER_DELIVERY: Action.LETTER_DELIVERED,
}


@dataclass(slots=True)
class ConferenceInput:
    """The conference arrangements given with `schedule_conference`."""

    scheduled_at: datetime | None
    location: str | None
    facilitator_id: Any
    facilitator_is_practitioner: bool
    keep_apart_override_reason: str | None = None


@dataclass(slots=True)
class KeepApart:
    """What is known of non-associations between the parties."""

    status: str  # "clear", "conflict", "unknown"
    detail: str = ""
    checked_by_hand: bool = False


# How a face-to-face consent must be given to count: by the person, not passed on by a rep.
FACE_TO_FACE_METHODS = frozenset({ConsentMethod.IN_PERSON.value, ConsentMethod.WRITTEN.value})


def consent_counts(scope: str, given: bool, method: str, recorded_by_role: str | None) -> bool:
    """Whether a party's latest consent entry for `scope` lets the work go on: a grant, and for
    meeting face to face one given in person or in writing and recorded by a practitioner
    (judged from the recorder's role, not from the name they gave). A grant passed on by a rep
    counts for indirect contact and letters only."""
    if not given:
        return False
    if scope != ConsentScope.DIRECT:
        return True
    return method in FACE_TO_FACE_METHODS and recorded_by_role == Role.PRACTITIONER


@dataclass(slots=True)
class GuardContext:
    """Everything a guard may look at, gathered by the case service before firing."""

    state: CaseState
    role: Role
    now: datetime
    paused_from: CaseState | None = None
    risk_level: str | None = None
    facilitator: str | None = None
    reason: str | None = None
    outcome: str | None = None
    until: datetime | None = None
    party_id: Any = None
    # The parties still taking part (no guard counts the others), and their roles.
    party_ids: list[Any] = field(default_factory=list)
    roles: dict[Any, str] = field(default_factory=dict)
    # The latest consent of each (party, scope): whether it counts (`consent_counts`).
    consents: dict[tuple[Any, str], bool] = field(default_factory=dict)
    # The participating parties asked to acknowledge their part in the harm (role harmer or
    # both), and whether each party's latest responsibility entry acknowledges it.
    responsible_ids: list[Any] = field(default_factory=list)
    acknowledged: dict[Any, bool] = field(default_factory=dict)
    conference: ConferenceInput | None = None
    conference_held: bool = False
    keep_apart: KeepApart | None = None
    open_wellbeing_checks: int = 0
    open_safeguarding_concerns: int = 0
    # Agreement items still pending, and whether the close asks to keep monitoring them.
    pending_agreement_items: int = 0
    monitoring: str | None = None
    rep_max_pause: timedelta = timedelta(hours=72)
    purged: bool = False

    def consented(self, party_id: Any, scope: ConsentScope) -> bool:
        """The party's latest recorded consent for `scope` (no record means no)."""
        return self.consents.get((party_id, scope.value), False)


@dataclass(frozen=True, slots=True)
class Guard:
    """A named condition with the sentence a client sees when it is unmet."""

    name: str
    description: str
    check: Callable[[GuardContext], bool]


def _letters_pair(c: GuardContext) -> bool:
    writers = [c.party_id] if c.party_id is not None else c.party_ids
    return any(
        c.consented(w, ConsentScope.LETTERS_SEND) and c.consented(r, ConsentScope.LETTERS_RECEIVE)
        for w in writers
        if w in c.party_ids
        for r in c.party_ids
        if r != w
    )


def _conference_details(c: GuardContext) -> bool:
    conf = c.conference
    return bool(
        conf
        and conf.scheduled_at is not None
        and conf.location
        and conf.facilitator_id is not None
        and conf.facilitator_is_practitioner
    )


def keep_apart_allows(keep_apart: KeepApart | None, override_reason: str | None) -> bool:
    """Whether people may meet: no open non-association, a practitioner's override with a reason,
    or (the service not answering) a practitioner's record that they checked by hand."""
    if override_reason and override_reason.strip():
        return True
    if keep_apart is None:
        return False
    return keep_apart.status == "clear" or (keep_apart.status == "unknown" and keep_apart.checked_by_hand)


def _no_open_non_association(c: GuardContext) -> bool:
    return keep_apart_allows(c.keep_apart, c.conference.keep_apart_override_reason if c.conference else None)


def _shuttle_can_go_on(c: GuardContext) -> bool:
    return (
        c.risk_level is not None
        and c.risk_level != RiskLevel.HIGH
        and c.facilitator is not None
        and (c.facilitator != Facilitator.REP or c.risk_level == RiskLevel.LOW)
        and all(c.acknowledged.get(p, False) for p in c.responsible_ids)
        and pairing_holds(c.roles, lambda pid: c.consented(pid, ConsentScope.INDIRECT))
    )


def _stage_pairing(c: GuardContext) -> bool:
    scope = stage_contact(c.state, c.paused_from)
    return pairing_holds(c.roles, lambda pid: scope is None or c.consented(pid, scope))


def _others_go_on(c: GuardContext) -> bool:
    scope = stage_contact(c.state, c.paused_from)
    others = {pid: role for pid, role in c.roles.items() if pid != c.party_id}
    return pairing_holds(others, lambda pid: scope is None or c.consented(pid, scope))


GUARDS: dict[str, Guard] = {
    g.name: g
    for g in (
        Guard(
            "decline_reason_valid",
            "reason is one of " + ", ".join(r.value for r in DeclineReason),
            lambda c: c.reason in {r.value for r in DeclineReason},
        ),
        Guard("risk_assessed", "the risk level has been assessed", lambda c: c.risk_level is not None),
        Guard(
            "two_parties_consent_indirect",
            "a party on the harmed side and one on the harmer side, two different people taking "
            "part, each consented to indirect contact (the pairing rule)",
            lambda c: pairing_holds(c.roles, lambda pid: c.consented(pid, ConsentScope.INDIRECT)),
        ),
        Guard(
            "facilitator_set",
            "a facilitator (rep or practitioner) is set",
            lambda c: c.facilitator is not None,
        ),
        Guard(
            "rep_facilitates_low_risk_only",
            "a rep may facilitate only a low-risk case",
            lambda c: c.facilitator != Facilitator.REP or c.risk_level == RiskLevel.LOW,
        ),
        Guard(
            "letter_writer_and_recipient_consent",
            "the writing party consented to write and the receiving party to receive letters",
            _letters_pair,
        ),
        Guard("risk_not_high", "the risk level is not high", lambda c: c.risk_level != RiskLevel.HIGH),
        Guard(
            "every_party_consents_direct",
            "every party consented to meet face to face, in person or in writing, recorded by a practitioner",
            lambda c: bool(c.party_ids) and all(c.consented(p, ConsentScope.DIRECT) for p in c.party_ids),
        ),
        Guard(
            "responsibility_acknowledged",
            "every party whose role is harmer or both acknowledges their part in the harm",
            lambda c: all(c.acknowledged.get(p, False) for p in c.responsible_ids),
        ),
        Guard(
            "conference_details_given",
            "a time, a place and a practitioner facilitator are given",
            _conference_details,
        ),
        Guard(
            "no_open_non_association",
            "no open non-association between the parties, or a practitioner's override with a reason "
            "(when the non-associations service cannot be asked: a practitioner's record that it was "
            "checked by hand)",
            _no_open_non_association,
        ),
        Guard(
            "conclude_outcome_valid",
            "outcome is one of " + ", ".join(sorted(o.value for o in CONCLUDE_OUTCOMES)),
            lambda c: c.outcome in {o.value for o in CONCLUDE_OUTCOMES},
        ),
        Guard(
            "conference_held_if_conference",
            "from conference: the conference was recorded as held",
            lambda c: c.state != S.CONFERENCE or c.conference_held,
        ),
        Guard(
            "withdrawing_party_named",
            "partyId names the withdrawing party of this case, still taking part",
            lambda c: c.party_id is not None and c.party_id in c.party_ids,
        ),
        Guard(
            "others_go_on",
            "the other parties still taking part meet the pairing rule: " + PAIRING_WORDS,
            _others_go_on,
        ),
        Guard(
            "shuttle_can_go_on",
            "shuttle mediation can go on: the risk is assessed and not high, a facilitator who may "
            "lead it is set, every harmer acknowledges their part, and the pairing rule holds for "
            "indirect contact",
            _shuttle_can_go_on,
        ),
        Guard(
            "stage_pairing_holds",
            "the parties still taking part meet the pairing rule: " + PAIRING_WORDS,
            _stage_pairing,
        ),
        Guard(
            "party_consents_indirect",
            "the person to see still takes part and consents to indirect contact (messages through a rep)",
            lambda c: c.party_id in c.party_ids and c.consented(c.party_id, ConsentScope.INDIRECT),
        ),
        Guard(
            "recipient_consents_letters",
            "the recipient still takes part and consents to receive letters",
            lambda c: c.party_id in c.party_ids and c.consented(c.party_id, ConsentScope.LETTERS_RECEIVE),
        ),
        Guard(
            "until_given",
            "until is given and in the future",
            lambda c: c.until is not None and c.until > c.now,
        ),
        Guard("reason_given", "a reason is given", lambda c: bool(c.reason and c.reason.strip())),
        Guard(
            "not_purged",
            "the case has not been anonymised by the retention purge",
            lambda c: not c.purged,
        ),
        Guard(
            "rep_pause_within_limit",
            "a rep may pause for at most 72 hours",
            lambda c: c.role != Role.REP or (c.until is not None and c.until <= c.now + c.rep_max_pause),
        ),
        Guard(
            "no_open_wellbeing_check",
            "no wellbeing check is still open",
            lambda c: c.open_wellbeing_checks == 0,
        ),
        Guard(
            "no_open_safeguarding_concern",
            "no safeguarding concern on the case is still open",
            lambda c: c.open_safeguarding_concerns == 0,
        ),
        Guard(
            "agreement_settled_or_monitored",
            'no agreement item is still pending, or monitoring: "continue" keeps the pending items '
            "monitored after closure (practitioners' checks at their due dates)",
            lambda c: c.pending_agreement_items == 0 or c.monitoring == Monitoring.CONTINUE,
        ),
    )
}


def allowed_from(state: CaseState) -> list[str]:
    """Triggers the table allows from `state`, in table order."""
    return [t.trigger for t in TABLE if state in t.sources]


def unmet_guards(transition: Transition, ctx: GuardContext) -> list[Guard]:
    """The guards of `transition` that `ctx` does not satisfy."""
    return unmet(transition.guards, ctx)


def unmet(names: Iterable[str], ctx: GuardContext) -> list[Guard]:
    """The guards named that `ctx` does not satisfy."""
    return [GUARDS[name] for name in names if not GUARDS[name].check(ctx)]


def stays(transition: Transition, ctx: GuardContext) -> bool:
    """Whether firing `transition` leaves the state as it is (its `stays_while` holds)."""
    return transition.stays_while is not None and GUARDS[transition.stays_while].check(ctx)


def destination(
    transition: Transition, previous_state: str | None, g: GuardContext | None = None
) -> CaseState:
    """Where a transition leads: `resume` goes back to the state paused from; a transition with
    another way out (`instead`) takes it while its condition holds for `g`."""
    if transition.instead is not None and g is not None:
        source, other, condition = transition.instead
        if g.state == source and GUARDS[condition].check(g):
            return other
    if transition.dest is not None:
        return transition.dest
    if previous_state is None:
        raise ValueError("resume without a remembered state")
    back = CaseState(previous_state)
    if g is not None and unmet(RESUME_GATES.get(back, ()), g):
        return S.ASSESSMENT
    return back


def _machine_transitions() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for t in TABLE:
        if t.dest is None:
            for back in PAUSABLE:
                rows.append(
                    {
                        "trigger": t.trigger,
                        "source": [s.value for s in t.sources],
                        "dest": back.value,
                        "conditions": [_chosen(back)],
                    }
                )
        elif t.instead is not None:
            for source in t.sources:
                for dest in {t.dest, t.instead[1]} if source == t.instead[0] else {t.dest}:
                    rows.append(
                        {
                            "trigger": t.trigger,
                            "source": source.value,
                            "dest": dest.value,
                            "conditions": [_chosen(dest)],
                        }
                    )
        else:
            rows.append({"trigger": t.trigger, "source": [s.value for s in t.sources], "dest": t.dest.value})
    return rows


def _chosen(state: CaseState) -> Callable[..., bool]:
    def check(event: Any) -> bool:
        return bool(event.model.dest == state.value)

    check.__name__ = f"chosen_{state.value}"
    return check


class CaseFlow:
    """The machine's model: a case's state plus a hook called after every change."""

    def __init__(
        self,
        state: str,
        previous_state: str | None,
        on_change: Callable[[str, str, str], None],
        dest: str | None = None,
    ) -> None:
        self.state = state
        self.previous_state = previous_state
        self.dest = dest
        self._on_change = on_change

    def after_state_change(self, event: Any) -> None:
        """Called by the machine once the state has moved."""
        self._on_change(event.event.name, event.transition.source, event.transition.dest)


_MACHINE = Machine(
    model=None,
    states=[s.value for s in CaseState],
    transitions=_machine_transitions(),
    initial=None,
    auto_transitions=False,
    send_event=True,
    after_state_change="after_state_change",
)


class _Runner:
    """The one model bound to the shared machine: binding a model costs far more than a move,
    so each firing lends its case's state and hook to this model instead of binding its own.
    Firing is synchronous, so no two firings ever share it at once."""

    def __init__(self) -> None:
        self.state = S.REFERRED.value
        self.previous_state: str | None = None
        self.dest: str | None = None
        self.flow: CaseFlow | None = None

    def after_state_change(self, event: Any) -> None:
        """Hand the move to the flow being fired."""
        assert self.flow is not None  # noqa: S101 - set by fire() for the duration of the move
        self.flow.after_state_change(event)


_RUNNER = _Runner()
_MACHINE.add_model(_RUNNER, initial=S.REFERRED.value)


def fire(flow: CaseFlow, trigger: str) -> None:
    """Move `flow` by `trigger` through the shared machine (which re-checks the table)."""
    runner = _RUNNER
    _MACHINE.set_state(flow.state, model=runner)
    runner.previous_state = flow.previous_state
    runner.dest = flow.dest
    runner.flow = flow
    try:
        if not runner.trigger(trigger):  # type: ignore[attr-defined]
            raise RuntimeError(f"machine refused {trigger} from {flow.state}")
        flow.state = runner.state
    finally:
        runner.flow = None


UNCHANGED = "(unchanged)"


def describe() -> dict[str, Any]:
    """The workflow as JSON: states, triggers, who may fire each, and the guards."""
    return {
        "states": [s.value for s in CaseState],
        "initial": S.REFERRED.value,
        "transitions": [_described(t) for t in TABLE],
    }


def _described(t: Transition) -> dict[str, Any]:
    to: str | list[str] = t.dest.value if t.dest else "the state it was paused from"
    described: dict[str, Any] = {"trigger": t.trigger, "from": [s.value for s in t.sources], "to": to}
    if t.stays_while is not None:
        described["to"] = [UNCHANGED, to]
        described["condition"] = f"unchanged while {GUARDS[t.stays_while].description}; otherwise {to}"
    if t.instead is not None:
        source, other, condition = t.instead
        described["to"] = [other.value, to]
        described["condition"] = (
            f"from {source.value}: {other.value} while {GUARDS[condition].description}; otherwise {to}"
        )
    described["who"] = (
        sorted(r.value for r in t.who)
        + (["automatic"] if t.automatic else [])
        + (["system"] if t.by_system else [])
    )
    described["guards"] = [{"name": g, "description": GUARDS[g].description} for g in t.guards]
    return described


def edges(t: Transition) -> list[tuple[CaseState, CaseState, tuple[str, ...]]]:
    """Each arrow a diagram draws for `t`: source, destination, and the conditions on it (the
    guards, then the stay condition, met on a self-loop and unmet, `!`, on the way out)."""
    drawn = []
    for source in t.sources:
        if t.dest is None:
            drawn += [(source, back, t.guards) for back in PAUSABLE]
            continue
        if t.instead is not None and source == t.instead[0]:
            drawn.append((source, t.instead[1], (*t.guards, t.instead[2])))
            drawn.append((source, t.dest, (*t.guards, f"!{t.instead[2]}")))
            continue
        if t.stays_while is None:
            drawn.append((source, t.dest, t.guards))
            continue
        drawn.append((source, source, (*t.guards, t.stays_while)))
        drawn.append((source, t.dest, (*t.guards, f"!{t.stays_while}")))
    return drawn


def mermaid() -> str:
    """The workflow as a Mermaid state diagram."""
    return _graph().draw(None)  # type: ignore[no-any-return]


def _graph() -> Any:
    class _Model:
        state = S.REFERRED.value

    model = _Model()
    rows = []
    for t in TABLE:
        for source, dest, conditions in edges(t):
            row: dict[str, Any] = {"trigger": t.trigger, "source": source.value, "dest": dest.value}
            met = [c for c in conditions if not c.startswith("!")]
            if met:
                row["conditions"] = met
            if len(met) < len(conditions):
                row["unless"] = [c[1:] for c in conditions if c.startswith("!")]
            rows.append(row)
    GraphMachine(
        model=model,
        states=[s.value for s in CaseState],
        transitions=rows,
        initial=S.REFERRED.value,
        auto_transitions=False,
        graph_engine="mermaid",
        show_conditions=True,
        title="rj-casework case workflow",
    )
    return model.get_graph()  # type: ignore[attr-defined]


if {t.trigger for t in TABLE} != {t.value for t in Trigger}:  # pragma: no cover - import-time check
    raise RuntimeError("the workflow table and the Trigger vocabulary disagree")


def graphviz() -> str:
    """The workflow in Graphviz dot, for the SVG diagram."""
    lines = ["digraph workflow {", "  rankdir=LR;", "  node [shape=box, style=rounded];"]
    for t in TABLE:
        for source, dest, conditions in edges(t):
            label = t.trigger + (f"\\n[{', '.join(conditions)}]" if conditions else "")
            lines.append(f'  "{source.value}" -> "{dest.value}" [label="{label}"];')
    lines.append("}")
    return "\n".join(lines)


def mermaid_compact() -> str:
    """A plain Mermaid state diagram of the table (the one in docs/workflow.md)."""
    lines = ["stateDiagram-v2", f"  [*] --> {S.REFERRED.value}"]
    for t in TABLE:
        for source, dest, conditions in edges(t):
            mark = " *" if conditions else ""
            lines.append(f"  {source.value} --> {dest.value}: {t.trigger}{mark}")
    lines.append(f"  {S.CLOSED.value} --> [*]")
    return "\n".join(lines)
