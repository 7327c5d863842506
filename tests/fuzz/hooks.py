"""schemathesis hooks for `make test-fuzz`: rules of the API that JSON Schema cannot state."""

from typing import Any

import schemathesis


@schemathesis.hook.apply_to(path="/referrals", method="POST")
def filter_body(_context: Any, body: Any) -> bool:
    """A referral names each prisoner once (uniqueness by one property has no JSON Schema form);
    the service refuses a prisoner named twice with 422, which tests/api cover."""
    if not isinstance(body, dict) or not isinstance(body.get("parties"), list):
        return True
    numbers = [p.get("prisonerNumber") for p in body["parties"] if isinstance(p, dict)]
    return len(numbers) == len(set(numbers))
