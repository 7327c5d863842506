"""JSON numbers, booleans, times and dates are taken only in their exact form, in every request body
and date query, and an Idempotency-Key only in the form the OpenAPI document states: what the
document refuses the service refuses with 422, never a 2xx or a 500 (what `make test-fuzz` checks)."""

import base64
import datetime
import re
import typing
from typing import Any

import httpx
import pytest
from pydantic import AwareDatetime, BeforeValidator, Strict

from app.common import schemas
from app.common.schemas import RequestModel
from app.idempotency.service import KEY_PATTERN, valid_key
from app.openapi import openapi_document
from app.webhooks.schemas import SECRET_PATTERN
from tests.api.test_bad_input import assert_invalid
from tests.support import Api, referral_body

# Importing the document imports every route, so every request model is defined.
DOCUMENT = openapi_document()


def _request_models() -> list[type[RequestModel]]:
    found: list[type[RequestModel]] = []
    todo = list(RequestModel.__subclasses__())
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return sorted(found, key=lambda c: f"{c.__module__}.{c.__qualname__}")


def _validators(metadata: list[Any]) -> set[Any]:
    return {m.func for m in metadata if isinstance(m, BeforeValidator)}


def _loose(annotation: Any, metadata: list[Any]) -> list[str]:
    """The scalar types in `annotation` taken without their strict validator."""
    if typing.get_origin(annotation) is typing.Annotated:
        base, *more = typing.get_args(annotation)
        return _loose(base, [*metadata, *more])
    if typing.get_args(annotation):
        return [name for arg in typing.get_args(annotation) for name in _loose(arg, [])]
    if annotation is bool and not any(isinstance(m, Strict) for m in metadata):
        return ["bool (use StrictBool)"]
    if annotation is int and schemas._json_integer not in _validators(metadata):
        return ["int (use StrictInt)"]
    if annotation in (datetime.datetime, AwareDatetime) and schemas._rfc3339 not in _validators(metadata):
        return ["datetime (use Timestamp)"]
    if annotation is datetime.date and schemas._iso_date not in _validators(metadata):
        return ["date (use Day)"]
    return []


class TestEveryRequestModel:
    def test_the_request_models_are_found(self) -> None:
        names = {cls.__name__ for cls in _request_models()}
        assert {"ContactCreate", "ConferenceOutcome", "LetterDeliver", "LegalHoldSet", "TaskCreate"} <= names

    @pytest.mark.parametrize("model", _request_models(), ids=lambda c: c.__name__)
    def test_scalars_are_strict(self, model: type[RequestModel]) -> None:
        loose = {
            name: kinds
            for name, field in model.model_fields.items()
            if (kinds := _loose(field.annotation, list(field.metadata)))
        }
        assert loose == {}


class TestStrictBodies:
    async def test_a_contact_duration_given_as_text_is_422(self, api: Api) -> None:
        case = await api.to_state("assessment")
        body = {
            "kind": "assessment",
            "partyId": case["parties"][0]["id"],
            "occurredAt": "2026-11-20T10:00:00+00:00",
            "durationMinutes": "30",
            "summary": "Talked it through.",
        }
        r = await api.client.post(
            f"/cases/{case['id']}/contacts", json=body, headers=api.keys.practitioner.headers
        )
        assert_invalid(r, "durationMinutes")

    async def test_a_contact_time_given_as_a_number_is_422(self, api: Api) -> None:
        case = await api.to_state("assessment")
        body = {
            "kind": "assessment",
            "partyId": case["parties"][0]["id"],
            "occurredAt": 1795000000,
            "durationMinutes": 30,
            "summary": "Talked it through.",
        }
        r = await api.client.post(
            f"/cases/{case['id']}/contacts", json=body, headers=api.keys.practitioner.headers
        )
        assert_invalid(r, "occurredAt")

    async def test_a_legal_hold_given_as_a_number_is_422_and_sets_nothing(self, api: Api) -> None:
        case = await api.refer()
        url = f"/cases/{case['id']}/legal-hold"
        r = await api.client.put(url, json={"hold": 1, "reason": "claim"}, headers=api.keys.admin.headers)
        assert_invalid(r, "hold")
        again = await api.client.get(f"/cases/{case['id']}", headers=api.keys.admin.headers)
        assert again.json().get("legalHold") in (None, False)


class TestDateQueries:
    @pytest.mark.parametrize("bad", ["0", "20261123", "2026-11-31", "2026-11-23T00:00:00Z"])
    async def test_a_rep_task_list_day_must_be_a_date(self, api: Api, bad: str) -> None:
        rep = await api.rep()
        r = await api.client.get(f"/reps/{rep['id']}/tasks?date={bad}", headers=api.keys.practitioner.headers)
        assert_invalid(r, "date")

    @pytest.mark.parametrize("field", ["from", "to"])
    async def test_a_rep_activity_range_must_be_dates(self, api: Api, field: str) -> None:
        rep = await api.rep()
        url = f"/reps/{rep['id']}/activity?{field}=0"
        assert_invalid(await api.client.get(url, headers=api.keys.practitioner.headers), field)

    @pytest.mark.parametrize("field", ["from", "to"])
    async def test_a_report_period_must_be_dates(self, api: Api, field: str) -> None:
        for report in ("summary", "outcomes"):
            r = await api.client.get(f"/reports/{report}?{field}=0", headers=api.keys.manager.headers)
            assert_invalid(r, field)

    @pytest.mark.parametrize("field", ["fromDate", "toDate"])
    async def test_a_subject_access_period_must_be_dates(self, api: Api, field: str) -> None:
        r = await api.client.get(
            f"/subject-access-request?prn=A1234BC&{field}=0", headers=api.keys.admin.headers
        )
        assert_invalid(r, field)

    async def test_a_date_in_its_exact_form_is_taken(self, api: Api) -> None:
        rep = await api.rep()
        r = await api.client.get(
            f"/reps/{rep['id']}/tasks?date=2026-11-23", headers=api.keys.practitioner.headers
        )
        assert r.status_code == 200, r.text
        assert r.json()["date"] == "2026-11-23"


class TestIdempotencyKeyForm:
    def test_the_document_states_the_form_the_service_takes(self) -> None:
        for item in DOCUMENT["paths"].values():
            if "post" in item:
                (key,) = [p for p in item["post"]["parameters"] if p["name"] == "Idempotency-Key"]
                assert key["schema"]["pattern"] == KEY_PATTERN

    @pytest.mark.parametrize("key", ["a", "retry 1", "k" * 255, "~!#"])
    def test_visible_ascii_is_a_key(self, key: str) -> None:
        assert valid_key(key)

    @pytest.mark.parametrize("key", ["", " a", "a ", "clé", "a\tb", "k" * 256])
    def test_anything_else_is_not(self, key: str) -> None:
        assert not valid_key(key)

    async def test_a_key_outside_ascii_is_422(self, client: httpx.AsyncClient, api: Api) -> None:
        headers: dict[str, str | bytes] = {
            **api.keys.practitioner.headers,
            "Idempotency-Key": "cl\u00e9".encode("latin-1"),
        }
        r = await client.post("/referrals", json=referral_body(), headers=headers)
        assert r.status_code == 422
        assert r.json()["errorCode"] == "VALIDATION_FAILED"


class TestCaseCategory:
    async def test_a_null_category_is_422_and_the_case_keeps_its_own(self, api: Api) -> None:
        case = await api.refer()
        r = await api.client.patch(
            f"/cases/{case['id']}",
            json={"category": None, "riskNotes": "none known"},
            headers={**api.keys.practitioner.headers, "If-Match": f'"{case["version"]}"'},
        )
        assert_invalid(r, "category")
        after = await api.case(case["id"])
        assert (after["category"], after["version"]) == (case["category"], case["version"])

    async def test_a_patch_without_the_category_keeps_it(self, api: Api) -> None:
        case = await api.refer()
        after = await api.patch(case["id"], riskNotes="none known")
        assert after["category"] == case["category"]
        assert after["riskNotes"] == "none known"

    def test_the_document_does_not_offer_null(self) -> None:
        category = DOCUMENT["components"]["schemas"]["CasePatch"]["properties"]["category"]
        assert category == {"$ref": "#/components/schemas/Category"}


class TestIncidentReportText:
    def test_required_text_must_hold_more_than_whitespace(self) -> None:
        name = DOCUMENT["components"]["schemas"]["PrisonerInvolved"]["properties"]["lastName"]
        assert name["pattern"] == "\\S"


class TestNeverNull:
    async def test_a_rep_status_or_limit_of_null_is_422(self, api: Api) -> None:
        rep = await api.rep()
        for field in ("status", "maxActiveCases", "prisonId"):
            r = await api.client.patch(
                f"/reps/{rep['id']}", json={field: None}, headers=api.keys.manager.headers
            )
            assert_invalid(r, field)
        again = await api.client.get(f"/reps/{rep['id']}", headers=api.keys.manager.headers)
        assert (again.json()["status"], again.json()["maxActiveCases"]) == (
            rep["status"],
            rep["maxActiveCases"],
        )

    def test_bounds_of_an_optional_integer_are_json_schema_bounds(self) -> None:
        limit = DOCUMENT["components"]["schemas"]["RepPatch"]["properties"]["maxActiveCases"]
        assert (limit["minimum"], limit["maximum"]) == (0, 50)
        assert "le" not in limit


class TestForeignTimes:
    async def test_an_inbound_event_time_given_as_a_number_is_422(self, api: Api) -> None:
        event = {"eventType": "x.y.z", "version": 1, "occurredAt": 0}
        r = await api.client.post("/events/inbound", json=event, headers=api.keys.admin.headers)
        assert r.status_code == 422, r.text


class TestFeedCursor:
    async def test_a_cursor_beyond_a_64_bit_integer_is_422(self, api: Api) -> None:
        r = await api.client.get(f"/events?after={2**63}", headers=api.keys.admin.headers)
        assert_invalid(r, "after")


class TestWebhookSecretForm:
    @pytest.mark.parametrize(
        ("size", "valid"), [(23, False), (24, True), (32, True), (64, True), (65, False)]
    )
    def test_the_documented_pattern_is_the_secrets_the_service_takes(self, size: int, valid: bool) -> None:
        secret = "whsec_" + base64.b64encode(bytes(range(size))).decode()
        assert (re.fullmatch(SECRET_PATTERN, secret) is not None) == valid
        pattern = DOCUMENT["components"]["schemas"]["SubscriptionCreate"]["properties"]["secret"]["pattern"]
        assert pattern == SECRET_PATTERN
