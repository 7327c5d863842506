"""Case notes: written by practitioners, never edited or deleted (a correction is a new note),
shown to reps only when written for them; conference notes and decline explanations read back
among them, and every note in the case's timeline."""

import uuid
from typing import Any

from tests.mediation import case_with_rep, rep_key
from tests.support import Api, Key


async def write(api: Api, case_id: str, key: Key | None = None, **body: Any) -> Any:
    return await api.client.post(
        f"/cases/{case_id}/notes", json=body, headers=(key or api.keys.practitioner).headers
    )


async def read(api: Api, case_id: str, key: Key | None = None) -> list[dict[str, Any]]:
    r = await api.client.get(f"/cases/{case_id}/notes", headers=(key or api.keys.practitioner).headers)
    assert r.status_code == 200, r.text
    return list(r.json())


class TestWritten:
    async def test_a_note_is_kept_and_read_back(self, api: Api) -> None:
        case = await api.refer()
        r = await write(api, case["id"], text="Spoke to the wing officer: both men keen to talk.")
        assert r.status_code == 201, r.text
        note = r.json()
        assert (note["kind"], note["forReps"], note["corrects"], note["correctedBy"]) == (
            "general",
            False,
            None,
            [],
        )
        assert (note["writtenBy"], note["writtenByRole"]) == ("test practitioner", "practitioner")
        assert await read(api, case["id"]) == [note]

    async def test_oldest_first(self, api: Api) -> None:
        case = await api.refer()
        for text in ("first", "second", "third"):
            assert (await write(api, case["id"], text=text)).status_code == 201
        assert [n["text"] for n in await read(api, case["id"])] == ["first", "second", "third"]

    async def test_a_correction_is_a_new_note_and_both_stay(self, api: Api) -> None:
        case = await api.refer()
        wrong = (await write(api, case["id"], text="Met Ryan on B wing.", forReps=True)).json()
        r = await write(api, case["id"], text="It was C wing, not B.", corrects=wrong["id"])
        assert r.status_code == 201, r.text
        correction = r.json()
        assert (correction["corrects"], correction["forReps"]) == (wrong["id"], True)
        notes = await read(api, case["id"])
        assert [n["text"] for n in notes] == ["Met Ryan on B wing.", "It was C wing, not B."]
        assert notes[0]["correctedBy"] == [correction["id"]]

    async def test_no_way_to_change_or_delete_one(self, api: Api) -> None:
        case = await api.refer()
        note = (await write(api, case["id"], text="kept")).json()
        for method in ("PUT", "PATCH", "DELETE"):
            r = await api.client.request(
                method, f"/cases/{case['id']}/notes/{note['id']}", headers=api.keys.practitioner.headers
            )
            assert r.status_code in (404, 405)
        assert [n["text"] for n in await read(api, case["id"])] == ["kept"]

    async def test_in_the_timeline(self, api: Api) -> None:
        case = await api.refer()
        await write(api, case["id"], text="Both want to meet.", forReps=True)
        r = await api.client.get(f"/cases/{case['id']}/timeline", headers=api.keys.practitioner.headers)
        (entry,) = [e for e in r.json() if e["action"] == "note.written"]
        assert entry["text"] == "Note for reps: Both want to meet."


class TestRefused:
    async def test_a_correction_of_a_note_on_another_case(self, api: Api) -> None:
        one, other = await api.refer(), await api.refer()
        note = (await write(api, one["id"], text="about one")).json()
        r = await write(api, other["id"], text="fix", corrects=note["id"])
        assert r.status_code == 422
        assert "corrects" in r.json()["detail"]
        r = await write(api, other["id"], text="fix", corrects=str(uuid.uuid4()))
        assert r.status_code == 422

    async def test_a_correction_shown_to_other_people(self, api: Api) -> None:
        case = await api.refer()
        note = (await write(api, case["id"], text="staff only")).json()
        r = await write(api, case["id"], text="now for reps", corrects=note["id"], forReps=True)
        assert r.status_code == 422
        assert "forReps" in r.json()["detail"]

    async def test_empty_or_too_long(self, api: Api) -> None:
        case = await api.refer()
        assert (await write(api, case["id"], text="")).status_code == 422
        assert (await write(api, case["id"], text="x" * 10_001)).status_code == 422
        assert (await write(api, case["id"], text="x" * 10_000)).status_code == 201

    async def test_reps_do_not_write_notes(self, api: Api) -> None:
        case, (rep,) = await case_with_rep(api, state="assessment")
        assert (await write(api, case["id"], key=await rep_key(api, rep), text="x")).status_code == 403


class TestWhoReads:
    async def test_a_rep_reads_only_notes_for_reps(self, api: Api) -> None:
        case, (rep,) = await case_with_rep(api, state="assessment")
        await write(api, case["id"], text="Risk: he carries a blade.")
        await write(api, case["id"], text="Visit after lunch, not before.", forReps=True)
        notes = await read(api, case["id"], key=await rep_key(api, rep))
        assert [n["text"] for n in notes] == ["Visit after lunch, not before."]

    async def test_a_referrer_reads_none(self, api: Api) -> None:
        case = await api.refer(key=api.keys.referrer)
        r = await api.client.get(f"/cases/{case['id']}/notes", headers=api.keys.referrer.headers)
        assert r.status_code == 403


class TestReadBackFromTheWork:
    async def test_why_a_case_was_declined(self, api: Api) -> None:
        case = await api.refer()
        r = await api.fire(
            case["id"], "decline", reason="unsuitable", note="He is due for release on Friday."
        )
        assert r.status_code == 200, r.text
        (note,) = await read(api, case["id"])
        assert (note["kind"], note["text"]) == ("decline", "He is due for release on Friday.")

    async def test_only_a_decline_takes_a_note(self, api: Api) -> None:
        case = await api.refer()
        r = await api.fire(case["id"], "accept", note="why")
        assert r.status_code == 422
        assert "note" in r.json()["detail"]
        assert (await api.case(case["id"]))["state"] == "referred"

    async def test_a_conferences_notes(self, api: Api) -> None:
        case = await api.to_state("conference")
        r = await api.client.post(
            f"/cases/{case['id']}/conference/outcome",
            json={"held": True, "attendees": ["both parties"], "notes": "Apologies given both ways."},
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 200, r.text
        (note,) = await read(api, case["id"])
        assert (note["kind"], note["text"]) == ("conference", "Apologies given both ways.")
