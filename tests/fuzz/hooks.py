"""schemathesis hooks for `make test-fuzz`: rules of the API that JSON Schema cannot state."""

import re
import uuid
from datetime import date
from typing import Any

import schemathesis

from app.idempotency.service import valid_key
from app.reps.service import MAX_ACTIVITY_DAYS


@schemathesis.hook.apply_to(path="/referrals", method="POST")
def filter_body(_context: Any, body: Any) -> bool:
    """A referral names each prisoner once (uniqueness by one property has no JSON Schema form);
    the service refuses a prisoner named twice with 422, which tests/api cover."""
    if not isinstance(body, dict) or not isinstance(body.get("parties"), list):
        return True
    numbers = [p.get("prisonerNumber") for p in body["parties"] if isinstance(p, dict)]
    return len(numbers) == len(set(numbers))


def _day(value: Any) -> date | None:
    if isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


# Date ranges in a query: (path, first, last, longest span in days). That the first date comes
# no later than the last (and, for a rep's activity, within MAX_ACTIVITY_DAYS) has no JSON Schema
# form; the service's 422 for a range out of order or too long is covered by tests/reps and tests/reports.
RANGES = {
    "/reps/{rep_id}/activity": ("from", "to", MAX_ACTIVITY_DAYS),
    "/reports/summary": ("from", "to", None),
    "/subject-access-request": ("fromDate", "toDate", None),
}


@schemathesis.hook
def before_call(_context: Any, case: Any, _kwargs: Any) -> None:
    """Rules of a well-formed request that JSON Schema cannot state, applied to every phase's requests.

    - An Idempotency-Key names one request: a client never sends the same key with another body
      (that is 422 IDEMPOTENCY_KEY_REUSED, covered by tests/api). A valid generated key is made
      unique per request; an invalid one is left for the negative checks.
    - A date range's first date is on or before its last (see RANGES): when the first is a valid
      date, the last is brought within range.
    """
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
