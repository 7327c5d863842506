"""A contact recorded in error is voided with a reason, never deleted: it stays on the case,
shown as voided, and no longer counts as the rep's work."""

import uuid
from typing import Any

from tests.contacts.test_contacts import contact
from tests.mediation import audit_of, case_with_rep, rep_key
from tests.support import Api, Key


async def recorded(api: Api) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A case, its rep, and a contact the practitioner recorded for the rep."""
    case, [rep] = await case_with_rep(api)
    r = await api.client.post(
        f"/cases/{case['id']}/contacts",
        json=contact(case["parties"][0]["id"], repId=rep["id"]),
        headers=api.keys.practitioner.headers,
    )
    assert r.status_code == 201, r.text
    return case, rep, r.json()


async def void(
    api: Api, case_id: str, contact_id: str, key: Key | None = None, reason: str = "wrong party"
) -> Any:
    return await api.client.post(
        f"/cases/{case_id}/contacts/{contact_id}/void",
        json={"reason": reason},
        headers=(key or api.keys.practitioner).headers,
    )


async def minutes(api: Api, rep_id: str) -> int:
    r = await api.client.get(f"/reps/{rep_id}/activity", headers=api.keys.practitioner.headers)
    assert r.status_code == 200, r.text
    return int(r.json()["totalMinutes"])


class TestVoided:
    async def test_kept_and_shown_as_voided(self, api: Api) -> None:
        case, _rep, made = await recorded(api)
        r = await void(api, case["id"], made["id"])
        assert r.status_code == 200, r.text
        voided = r.json()["voided"]
        assert (voided["reason"], voided["by"]) == ("wrong party", "test practitioner")
        r = await api.client.get(f"/cases/{case['id']}/contacts", headers=api.keys.practitioner.headers)
        (listed,) = r.json()
        assert listed["id"] == made["id"] and listed["voided"] == voided
        (record,) = await audit_of(api, case["id"], "contact.voided")
        assert record.entity_id == made["id"] and record.after is not None
        assert record.after["reason"] == "wrong party"

    async def test_no_longer_counts_as_the_reps_work(self, api: Api) -> None:
        case, rep, made = await recorded(api)
        assert await minutes(api, rep["id"]) == 30
        await void(api, case["id"], made["id"])
        assert await minutes(api, rep["id"]) == 0

    async def test_in_the_timeline(self, api: Api) -> None:
        case, _rep, made = await recorded(api)
        await void(api, case["id"], made["id"])
        r = await api.client.get(f"/cases/{case['id']}/timeline", headers=api.keys.practitioner.headers)
        (entry,) = [e for e in r.json() if e["action"] == "contact.voided"]
        assert entry["text"] == "A contact (assessment) was voided as recorded in error: wrong party"


class TestRefused:
    async def test_twice(self, api: Api) -> None:
        case, _rep, made = await recorded(api)
        assert (await void(api, case["id"], made["id"])).status_code == 200
        r = await void(api, case["id"], made["id"])
        assert r.status_code == 409 and r.json()["errorCode"] == "INVALID_STATE"

    async def test_a_contact_of_another_case(self, api: Api) -> None:
        _case, _rep, made = await recorded(api)
        other = await api.refer()
        assert (await void(api, other["id"], made["id"])).status_code == 404
        assert (await void(api, other["id"], str(uuid.uuid4()))).status_code == 404

    async def test_without_a_reason(self, api: Api) -> None:
        case, _rep, made = await recorded(api)
        assert (await void(api, case["id"], made["id"], reason="")).status_code == 422

    async def test_by_a_rep(self, api: Api) -> None:
        case, rep, made = await recorded(api)
        assert (await void(api, case["id"], made["id"], key=await rep_key(api, rep))).status_code == 403
