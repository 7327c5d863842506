"""Every (state, trigger) pair of the workflow table, through POST /cases/{id}/transitions.

The pairs come from the table itself: change the table and these tests change with it.
"""

from typing import Any

import pytest

from app.common.enums import CaseState
from app.workflows.case_workflow import TABLE, Transition, allowed_from
from tests.records import (
    audit_records,
    complete_wellbeing_checks,
    events,
    mark_conference_held,
)
from tests.support import Api, until

PAIRS = [(state, t) for state in CaseState for t in TABLE]
ALLOWED = [(s, t) for s, t in PAIRS if s in t.sources]
REFUSED = [(s, t) for s, t in PAIRS if s not in t.sources]

# Where `Api.to_state("on_hold")` paused the case from.
ON_HOLD_PAUSED_FROM = CaseState.ASSESSMENT


def pair_id(pair: tuple[CaseState, Transition]) -> str:
    state, transition = pair
    return f"{state.value}-{transition.trigger}"


async def minimum_body(api: Api, case: dict[str, Any], state: CaseState, trigger: str) -> dict[str, Any]:
    """The least a client must send (and arrange) for `trigger` to pass its guards from `state`."""
    party = case["parties"][0]["id"]
    if trigger == "conclude" and state == CaseState.CONFERENCE:
        await mark_conference_held(api.db, case["id"])
    if trigger == "close" and state == CaseState.FOLLOW_UP:
        await complete_wellbeing_checks(api.client, api.db, api.keys.practitioner, case["id"])
    bodies: dict[str, dict[str, Any]] = {
        "decline": {"reason": "unsuitable"},
        "start_letters": {"partyId": party},
        "schedule_conference": {"conference": api.conference()},
        "conclude": {"outcome": "resolved"},
        "withdraw": {"partyId": party},
        "pause": {"until": until(hours=24), "reason": "cooling off after a row on the wing"},
        "reopen": {"reason": "the harmed party asked to try again"},
        "call_off": {"reason": "security intelligence about the meeting"},
    }
    return bodies.get(trigger, {})


@pytest.mark.parametrize("pair", ALLOWED, ids=pair_id)
class TestAllowedPair:
    async def test_moves_to_the_tables_destination(
        self, api: Api, pair: tuple[CaseState, Transition]
    ) -> None:
        state, transition = pair
        case = await api.to_state(state)
        assert case["state"] == state
        body = await minimum_body(api, case, state, transition.trigger)
        records_before = await audit_records(api.db, case["id"])
        events_before = await events(api.db, case["id"])

        r = await api.fire(case["id"], transition.trigger, **body)

        assert r.status_code == 200, r.text
        expected = transition.dest or ON_HOLD_PAUSED_FROM
        if transition.instead is not None and state == transition.instead[0]:
            # The usual path's case can go on in shuttle mediation: the other way out.
            expected = transition.instead[1]
        moved = r.json()
        assert moved["state"] == expected
        assert r.headers["ETag"] == f'"{moved["version"]}"'
        assert (await api.case(case["id"]))["state"] == expected
        # One audit record and one outbound event, written with the move.
        records = await audit_records(api.db, case["id"])
        assert len(records) == len(records_before) + 1
        assert records[-1].action == f"case.{transition.trigger}"
        assert records[-1].before is not None and records[-1].before["state"] == state
        assert records[-1].after is not None and records[-1].after["state"] == expected
        new_events = (await events(api.db, case["id"]))[len(events_before) :]
        assert len(new_events) == 1
        assert new_events[0].payload["additionalInformation"]["previousState"] == state
        assert new_events[0].payload["additionalInformation"]["state"] == expected


@pytest.mark.parametrize("state", list(CaseState), ids=str)
class TestRefusedPairs:
    async def test_every_trigger_the_table_does_not_allow_is_409(
        self, api: Api, state: CaseState, subtests: pytest.Subtests
    ) -> None:
        # One case per state serves every refused trigger: a refusal changes nothing.
        case = await api.to_state(state)
        records = len(await audit_records(api.db, case["id"]))
        refused = [t for s, t in REFUSED if s == state]
        assert refused
        for transition in refused:
            with subtests.test(pair=f"{state.value}-{transition.trigger}"):
                # A body that would satisfy the guards: the state alone refuses.
                body = await minimum_body(api, case, state, transition.trigger)

                r = await api.fire(case["id"], transition.trigger, **body)

                assert r.status_code == 409, r.text
                assert r.headers["content-type"] == "application/problem+json"
                problem = r.json()
                assert problem["errorCode"] == "TRANSITION_NOT_ALLOWED"
                assert problem["state"] == state
                assert problem["allowedTriggers"] == allowed_from(state)
                assert problem["allowedTriggers"] == [t.trigger for t in TABLE if state in t.sources]
        unchanged = await api.case(case["id"])
        assert (unchanged["state"], unchanged["version"]) == (state, case["version"])
        assert len(await audit_records(api.db, case["id"])) == records


class TestTableCoverage:
    def test_every_state_and_trigger_is_in_exactly_one_group(self) -> None:
        assert len(ALLOWED) + len(REFUSED) == len(CaseState) * len(TABLE)
        assert {s for s, _ in ALLOWED} == set(CaseState)
        assert {t.trigger for _, t in ALLOWED} == {t.trigger for t in TABLE}
