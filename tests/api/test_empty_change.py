"""A change with nothing in it is refused as the request it is (422), before the record's version
is looked at: the document's `minProperties` says so, and a client learns it sent nothing, not
that someone else changed the record."""

from tests.support import Api


async def test_an_empty_change_to_a_case_or_a_party_is_422_whatever_the_version(api: Api) -> None:
    case = await api.refer()
    stale = {**api.keys.practitioner.headers, "If-Match": f'"{case["version"] + 5}"'}
    party = case["parties"][0]["id"]
    for path in (f"/cases/{case['id']}", f"/cases/{case['id']}/parties/{party}"):
        r = await api.client.patch(path, json={}, headers=stale)
        assert r.status_code == 422, (path, r.text)
        assert "at least one field" in r.text


async def test_an_empty_change_to_a_rep_is_422(api: Api) -> None:
    rep = await api.rep()
    r = await api.client.patch(f"/reps/{rep['id']}", json={}, headers=api.keys.manager.headers)
    assert r.status_code == 422
    assert "at least one field" in r.text
