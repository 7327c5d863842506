"""schemathesis hooks for `make test-fuzz`: rules of the API that JSON Schema cannot state."""

import re
import uuid
from datetime import date
from typing import Any

import schemathesis
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app.idempotency.service import valid_key
from app.reports.service import MAX_REPORT_DAYS
from app.reps.service import MAX_ACTIVITY_DAYS


@schemathesis.hook.apply_to(path="/referrals", method="POST")
def filter_body(_context: Any, body: Any) -> bool:
    """A referral names each prisoner once (uniqueness by one property has no JSON Schema form);
    the service refuses a prisoner named twice with 422, which tests/api cover."""
    if not isinstance(body, dict) or not isinstance(body.get("parties"), list):
        return True
    numbers = [
        p["prisonerNumber"]
        for p in body["parties"]
        if isinstance(p, dict) and isinstance(p.get("prisonerNumber"), str)
    ]
    return len(numbers) == len(set(numbers))


def _day(value: Any) -> date | None:
    if isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


# Date ranges in a query: (path, first, last, longest span in days). That the first date comes
# no later than the last (and, for a rep's activity and the summary, within the longest span) has
# no JSON Schema form; the service's 422 for a range out of order or too long is covered by
# tests/reps and tests/reports.
RANGES = {
    "/cases": ("createdFrom", "createdTo", None),
    "/reps/{rep_id}/activity": ("from", "to", MAX_ACTIVITY_DAYS),
    "/reports/summary": ("from", "to", MAX_REPORT_DAYS),
    "/reports/outcomes": ("from", "to", MAX_REPORT_DAYS),
    "/subject-access-request": ("fromDate", "toDate", None),
}


@schemathesis.hook
def before_call(_context: Any, case: Any, _kwargs: Any) -> None:
    """Rules of a well-formed request that JSON Schema cannot state, applied to every phase's requests.

    Only well-formed (positive) cases are changed.
    - An Idempotency-Key names one request: a client never sends the same key with another body
      (that is 422 IDEMPOTENCY_KEY_REUSED, covered by tests/api). A valid generated key is made
      unique per request; an invalid one is left for the negative checks.
    - A date range's first date is on or before its last (see RANGES): when the first is a valid
      date, the last is brought within range.
    """
    if case.meta is None or not case.meta.generation.mode.is_positive:
        # A negative case is refused whatever its key or range; changing it would make it look
        # positive to schemathesis, which then sends the credentials a missing-header case leaves out.
        return
    headers = case.headers or {}
    for name in list(headers):
        if name.lower() == "idempotency-key" and isinstance(headers[name], str) and valid_key(headers[name]):
            headers[name] = f"fuzz-{uuid.uuid4()}"
    span = RANGES.get(case.path)
    if span is None or not isinstance(case.query, dict):
        return
    first_name, last_name, longest = span
    first = _day(case.query.get(first_name))
    if first is None or (last_name in case.query and _day(case.query[last_name]) is None):
        return
    last = _day(case.query.get(last_name))
    if last is None or last < first or (longest is not None and (last - first).days >= longest):
        case.query[last_name] = first.isoformat()


# Times and dates at the edges of what the service takes (years 2 to 9998, app.common.schemas):
# one value in five is drawn from them, so that every phase sends them to every time and date input
# and whatever the service works out from them (a day's end, a window of weeks) is tried at the
# edge. The ordinary values span years 1 to 9999, so those outside are sent too, less often (the
# suite's tests/api/test_boundaries.py sends each of them to every input). Integers need nothing of
# this: the document bounds them, and the coverage phase sends each bound and one past it.
EDGE_TIMES = (
    "0002-01-01T00:00:00Z",
    "0002-01-01T10:00:00+10:00",
    "9998-12-31T23:59:59.999999Z",
    "9998-12-31T10:00:00-13:59",
)
EDGE_DATES = ("0002-01-01", "9998-12-31")


def _with_edges(edges: tuple[str, ...], ordinary: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.integers(0, 4).flatmap(lambda n: st.sampled_from(edges) if n == 0 else ordinary)


_OFFSETS = st.sampled_from(["Z", "+00:00", "+01:00", "-05:30", "+14:00", "-12:00"])
_TIMES = st.builds("{}{}".format, st.datetimes().map(lambda d: d.isoformat(timespec="seconds")), _OFFSETS)
schemathesis.openapi.format("date-time", _with_edges(EDGE_TIMES, _TIMES))
schemathesis.openapi.format("date", _with_edges(EDGE_DATES, st.dates().map(date.isoformat)))


# Refusals of well-formed data for a rule of the service rather than of the request's form: a
# problem with errorCode VALIDATION_FAILED and no field `errors` (what a service raises, e.g. a party
# not of this case, a rep not on it, a time in the future), an event the service will not take, a
# webhook address it will not call, and a time or date outside the years the service takes (these
# two name the field in `errors`, with a type of their own: JSON Schema has no form for either).
RULE_CODES = {"VALIDATION_FAILED", "EVENT_REJECTED", "TARGET_NOT_ALLOWED"}
RULE_ERROR_TYPES = {"time_out_of_range", "date_out_of_range", "target_not_allowed", "filter_not_in_view"}


def _broke_a_rule(response: Any) -> bool:
    if response.status_code != 422:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    if not isinstance(body, dict) or body.get("errorCode") not in RULE_CODES:
        return False
    errors = body.get("errors") or []
    return all(isinstance(e, dict) and e.get("type") in RULE_ERROR_TYPES for e in errors)


@schemathesis.check
def well_formed_data_passes_validation(ctx: Any, response: Any, case: Any) -> bool | None:
    """schemathesis's positive_data_acceptance (which the runner excludes), except that a 422 for a
    rule JSON Schema cannot state is an answer, not a mismatch between the document and the validators."""
    if _broke_a_rule(response):
        return None
    result: bool | None = positive_data_acceptance(ctx, response, case)
    return result
