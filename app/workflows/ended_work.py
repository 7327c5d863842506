"""Which open tasks each move ends: the work that can no longer happen once the move is made.

Read with the workflow table beside it (`case_workflow.TABLE`): a move that ends work cancels,
in its own transaction, every open task the rows for its trigger name, and records why on each.
A trigger that ends work is added here by one row.

A row with a `source` applies only when the move leaves that state, and is judged on the case as
the move loads it, on either handle: a move that otherwise needs only the case (a pause, say)
keeps its short path, and does this work only when it leaves that state.
"""

from dataclasses import dataclass
from enum import StrEnum

from app.common.enums import CaseState, TaskKind

K = TaskKind


class Whose(StrEnum):
    """Whose tasks a row ends: the whole case's, or the withdrawing party's alone."""

    CASE = "case"
    PARTY = "party"


# Never ended by a move: a safeguarding check closes only when its concern is acknowledged.
NEVER_ENDED = frozenset({K.SAFEGUARDING_CHECK})
# Wellbeing checks still apply after the work ends: they are how the parties are looked after.
STILL_APPLY = frozenset({K.WELLBEING_CHECK})
EVERYTHING_ELSE = frozenset(TaskKind) - NEVER_ENDED - STILL_APPLY
# A practitioner's monitoring of an agreement, and telling the person harmed what became of it,
# outlive the case's closing (a close with pending items says `monitoring: "continue"`).
MONITORING = frozenset({K.AGREEMENT_CHECK, K.OUTCOME_FEEDBACK})
# The work of an intervention: visits, letters carried, a conference prepared.
INTERVENTION = frozenset({K.ASSESSMENT_VISIT, K.SHUTTLE_VISIT, K.LETTER_DELIVERY, K.CONFERENCE_PREPARATION})
PREPARATION = frozenset({K.CONFERENCE_PREPARATION})


@dataclass(frozen=True, slots=True)
class EndedWork:
    """One row: the open tasks of these kinds that `trigger` cancels, and the reason each keeps.
    `if_moved`: only when the move changes the case's state (a withdrawal the others go on after
    ends only the withdrawing party's work)."""

    trigger: str
    kinds: frozenset[TaskKind]
    reason: str
    whose: Whose = Whose.CASE
    if_moved: bool = False
    # Only when the move leaves this state (from any state when None).
    source: CaseState | None = None
    # Only when the pause's `until` is at or after the conference's `scheduledAt`: the case
    # would still be on hold when the meeting was to start.
    if_pause_outlasts_meeting: bool = False

    def __post_init__(self) -> None:
        if self.kinds & NEVER_ENDED:
            raise ValueError(f"{self.trigger} may not end {sorted(self.kinds & NEVER_ENDED)}")


ENDED_WORK: tuple[EndedWork, ...] = (
    EndedWork("decline", EVERYTHING_ELSE, "The case was declined."),
    # The leaver is no longer told what became of the agreement; the items they own stay monitored.
    EndedWork(
        "withdraw", INTERVENTION | {K.OUTCOME_FEEDBACK}, "The person withdrew from the case.", Whose.PARTY
    ),
    EndedWork("withdraw", INTERVENTION, "The case ended when a party withdrew.", if_moved=True),
    EndedWork("conclude", INTERVENTION, "The intervention was concluded."),
    EndedWork("close", EVERYTHING_ELSE - MONITORING, "The case was closed."),
    EndedWork("call_off", PREPARATION, "The conference was called off."),
    EndedWork(
        "start_shuttle",
        PREPARATION,
        "The conference gave way to shuttle mediation.",
        source=CaseState.CONFERENCE,
    ),
    EndedWork(
        "pause",
        PREPARATION,
        "The case was paused past the conference's date.",
        source=CaseState.CONFERENCE,
        if_pause_outlasts_meeting=True,
    ),
)

# Once a case is in one of these states no rep works on it: the tasks that outlive the move
# (a wellbeing or safeguarding check, say) go to the case's practitioner.
NO_REP_WORK = frozenset({CaseState.CLOSED})


def ends_work(trigger: str, dest: CaseState | None) -> bool:
    """Whether a move by `trigger` to `dest` may end or hand over any task from whatever state
    (the rows that apply only on leaving a state aside: `ended_leaving`)."""
    return any(row.trigger == trigger and row.source is None for row in ENDED_WORK) or dest in NO_REP_WORK


def ended_by(trigger: str, *, moved: bool) -> list[EndedWork]:
    """The rows that apply to a move by `trigger` from any state (`moved`: its state changed)."""
    return [
        row
        for row in ENDED_WORK
        if row.trigger == trigger and row.source is None and (moved or not row.if_moved)
    ]


def ended_leaving(trigger: str, state: CaseState) -> list[EndedWork]:
    """The rows that apply to a move by `trigger` only because it leaves `state`."""
    return [row for row in ENDED_WORK if row.trigger == trigger and row.source == state]
