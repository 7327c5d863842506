"""The pairing rule and the parties it counts, as functions; and the table of work each move ends."""

from dataclasses import dataclass
from typing import Any

import pytest

from app.common.enums import CaseState, ConsentScope, TaskKind
from app.workflows import case_workflow as wf
from app.workflows import ended_work
from app.workflows.pairing import pairing_holds, participating, stage_contact


@dataclass
class _Party:
    id: str
    participating: bool = True


def holds(roles: dict[str, str], willing: set[str] | None = None) -> bool:
    return pairing_holds(roles, lambda pid: willing is None or pid in willing)


class TestPairingHolds:
    def test_one_harmed_and_one_harmer(self) -> None:
        assert holds({"a": "harmed", "b": "harmer"})

    def test_two_harmers_alone_do_not_pair(self) -> None:
        # Co-assailants cannot carry on between themselves once the person they harmed has left.
        assert not holds({"b": "harmer", "c": "harmer"})

    def test_two_harmed_alone_do_not_pair(self) -> None:
        assert not holds({"a": "harmed", "d": "harmed"})

    def test_one_person_on_both_sides_is_not_a_pair(self) -> None:
        assert not holds({"a": "both"})

    def test_two_people_in_a_mutual_fight_pair(self) -> None:
        assert holds({"a": "both", "b": "both"})

    def test_a_both_party_pairs_with_either_side(self) -> None:
        assert holds({"a": "both", "b": "harmer"})
        assert holds({"a": "both", "b": "harmed"})

    def test_each_of_the_pair_must_consent(self) -> None:
        roles = {"a": "harmed", "b": "harmer", "c": "harmer"}
        assert holds(roles, {"a", "c"})
        assert not holds(roles, {"b", "c"})
        assert not holds(roles, {"a"})

    def test_nobody(self) -> None:
        assert not holds({})


class TestWhoCounts:
    def test_only_parties_still_taking_part(self) -> None:
        a, b, c = _Party("a"), _Party("b", participating=False), _Party("c")
        assert participating([a, b, c]) == [a, c]


class TestStageContact:
    @pytest.mark.parametrize(
        ("state", "paused_from", "scope"),
        [
            (CaseState.ASSESSMENT, None, None),
            (CaseState.SHUTTLE_MEDIATION, None, ConsentScope.INDIRECT),
            (CaseState.LETTER_EXCHANGE, None, ConsentScope.INDIRECT),
            (CaseState.CONFERENCE, None, ConsentScope.DIRECT),
            (CaseState.ON_HOLD, CaseState.CONFERENCE, ConsentScope.DIRECT),
            (CaseState.ON_HOLD, CaseState.ASSESSMENT, None),
            (CaseState.ON_HOLD, CaseState.SHUTTLE_MEDIATION, ConsentScope.INDIRECT),
        ],
    )
    def test_the_contact_of_the_stage(
        self, state: CaseState, paused_from: CaseState | None, scope: ConsentScope | None
    ) -> None:
        assert stage_contact(state, paused_from) == scope


LEAVER = ended_work.INTERVENTION | {TaskKind.OUTCOME_FEEDBACK}


class TestEndedWorkTable:
    def test_never_a_safeguarding_check(self) -> None:
        for row in ended_work.ENDED_WORK:
            assert TaskKind.SAFEGUARDING_CHECK not in row.kinds, row
        with pytest.raises(ValueError, match="safeguarding_check"):
            ended_work.EndedWork("call_off", frozenset({TaskKind.SAFEGUARDING_CHECK}), "no")

    def test_wellbeing_checks_still_apply(self) -> None:
        for row in ended_work.ENDED_WORK:
            assert TaskKind.WELLBEING_CHECK not in row.kinds, row

    @pytest.mark.parametrize(
        ("trigger", "moved", "expected"),
        [
            ("decline", True, [("case", ended_work.EVERYTHING_ELSE)]),
            ("close", True, [("case", ended_work.EVERYTHING_ELSE - ended_work.MONITORING)]),
            ("conclude", True, [("case", ended_work.INTERVENTION)]),
            ("withdraw", False, [("party", LEAVER)]),
            ("withdraw", True, [("party", LEAVER), ("case", ended_work.INTERVENTION)]),
            ("accept", True, []),
            ("pause", True, []),
        ],
    )
    def test_which_rows_each_move_takes(self, trigger: str, moved: bool, expected: list[Any]) -> None:
        assert [(row.whose.value, row.kinds) for row in ended_work.ended_by(trigger, moved=moved)] == expected

    def test_leaving_a_conference_by_shuttle_or_pause_ends_its_preparation_alone(self) -> None:
        for trigger in ("start_shuttle", "pause"):
            [row] = ended_work.ended_leaving(trigger, CaseState.CONFERENCE)
            assert row.kinds == frozenset({TaskKind.CONFERENCE_PREPARATION})
            assert ended_work.ended_leaving(trigger, CaseState.ASSESSMENT) == []
            # Judged on the case as loaded: the move keeps the short path of a move of the case alone.
            assert not ended_work.ends_work(trigger, wf.BY_TRIGGER[trigger].dest)
        [pause] = ended_work.ended_leaving("pause", CaseState.CONFERENCE)
        assert pause.if_pause_outlasts_meeting

    def test_call_off_ends_the_conference_preparation(self) -> None:
        rows = ended_work.ended_by("call_off", moved=True)
        assert [(row.whose.value, row.kinds) for row in rows] == [
            ("case", frozenset({TaskKind.CONFERENCE_PREPARATION}))
        ]
        assert ended_work.ends_work("call_off", CaseState.ASSESSMENT)
