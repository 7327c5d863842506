"""The error responses routes declare, so that the OpenAPI document lists them."""

from typing import Any

from app.common.schemas import ApiModel


class Problem(ApiModel):
    """An RFC 9457 problem with the prison systems' members."""

    type: str
    title: str
    status: int
    detail: str
    error_code: str
    user_message: str
    developer_message: str


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for the given problem statuses (401 and 403 always included)."""
    wanted = sorted({401, 403, *statuses})
    return {
        s: {
            "model": Problem,
            "content": {"application/problem+json": {}},
            "description": DESCRIPTIONS[s],
        }
        for s in wanted
    }


DESCRIPTIONS = {
    400: "Bad request",
    401: "No valid bearer token",
    403: "The caller's role or caseload does not allow this",
    404: "Not found, or outside the caller's scope",
    409: "Conflict with the current state",
    412: "If-Match does not match the current version",
    413: "Request body too large",
    422: "Validation failed",
    428: "If-Match is required",
    502: "An upstream prison system failed",
    503: "The database is not available",
}
