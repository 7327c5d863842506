"""Who still takes part in a case, and the pairing rule: the one test of whether there is anyone
left to do restorative work between.

Every guard counts only the parties still taking part (`participating`), and every decision
about whether the work can go on asks `pairing_holds`.
"""

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, TypeVar

from app.common.enums import CaseState, ConsentScope, PartyRole

# The two sides of a conflict; a party in a mutual fight (`both`) stands on either.
HARMED_SIDE = frozenset({PartyRole.HARMED.value, PartyRole.BOTH.value})
HARMER_SIDE = frozenset({PartyRole.HARMER.value, PartyRole.BOTH.value})

# The contact each stage needs the pair to consent to. In assessment consents are still being
# asked for: taking part is enough. A paused case is judged by the stage it will resume.
STAGE_CONTACT: dict[CaseState, ConsentScope | None] = {
    CaseState.ASSESSMENT: None,
    CaseState.SHUTTLE_MEDIATION: ConsentScope.INDIRECT,
    CaseState.LETTER_EXCHANGE: ConsentScope.INDIRECT,
    CaseState.CONFERENCE: ConsentScope.DIRECT,
}


class Taking(Protocol):
    """A party as the rule reads it."""

    @property
    def participating(self) -> bool: ...


P = TypeVar("P", bound=Taking)


def participating(parties: Iterable[P]) -> list[P]:
    """The parties still taking part, in their order: the only ones any guard counts."""
    return [p for p in parties if p.participating]


def pairing_holds(roles: Mapping[Any, str], consents: Callable[[Any], bool]) -> bool:
    """The pairing rule: among the parties in `roles` (id to role, those taking part), at least
    one on the harmed side and one on the harmer side, two different people, each consenting to
    the contact in question (`consents`)."""
    willing = [pid for pid in roles if consents(pid)]
    harmed = [pid for pid in willing if roles[pid] in HARMED_SIDE]
    harmers = [pid for pid in willing if roles[pid] in HARMER_SIDE]
    return any(a != b for a in harmed for b in harmers)


def stage_contact(state: CaseState, paused_from: CaseState | None) -> ConsentScope | None:
    """The contact the case's current stage needs the pair to consent to (None: none yet)."""
    stage = paused_from if state == CaseState.ON_HOLD and paused_from is not None else state
    return STAGE_CONTACT.get(stage)


PAIRING_WORDS = (
    "at least one party on the harmed side (harmed or both) and one on the harmer side (harmer or "
    "both), two different people, still taking part and each consenting to the contact of the "
    "stage (indirect contact in shuttle mediation and letter exchange, meeting face to face in a "
    "conference, none yet in assessment; a paused case by the stage it will resume)"
)
