"""Responses the routes share: a case as its caller may see it, a model serialised once, and the
error responses routes declare, so that the OpenAPI document lists them."""

from typing import Any

from pydantic import BaseModel
from starlette.responses import Response

from app.cases.repository import CaseBundle
from app.cases.views import present_case
from app.common.schemas import ApiModel, Page
from app.common.sql_json import with_member
from app.context import Principal

PROBLEM_JSON = "application/problem+json"


class FieldError(ApiModel):
    """One invalid field of a request."""

    field: str
    message: str
    type: str


class Problem(ApiModel):
    """An RFC 9457 problem with the prison systems' members; some problems carry more members."""

    type: str
    title: str
    status: int
    detail: str
    error_code: str
    user_message: str
    developer_message: str
    errors: list[FieldError] | None = None


def model_response(
    model: BaseModel, *, status_code: int = 200, etag: int | None = None, location: str | None = None
) -> Response:
    """`model` as JSON, serialised once by its own class: what FastAPI sends for a route's
    `response_model`, without validating the model it was just given a second time."""
    headers = {}
    if etag is not None:
        headers["ETag"] = f'"{etag}"'
    if location is not None:
        headers["Location"] = location
    body = model.__pydantic_serializer__.to_json(model, by_alias=True)
    return Response(body, status_code=status_code, headers=headers, media_type="application/json")


def page_response(items: list[str], *, number: int, size: int, total: int) -> Response:
    """A page of items already written as JSON text: the members of `Page` around them."""
    frame = Page[Any].of([], number=number, size=size, total=total).model_dump_json(by_alias=True)
    return json_text_response(with_member(frame, "content", "[" + ",".join(items) + "]"))


def json_text_response(text: str) -> Response:
    """A body already written as JSON text."""
    return Response(text, media_type="application/json")


def case_response(principal: Principal, bundle: CaseBundle, *, status_code: int = 200) -> Response:
    """The caller's view of the case, with its version as ETag."""
    return model_response(present_case(principal, bundle), status_code=status_code, etag=bundle.case.version)


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for the given problem statuses (401 and 403 always included)."""
    wanted = sorted({401, 403, *statuses})
    return {
        s: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": DESCRIPTIONS[s]} for s in wanted
    }


DESCRIPTIONS = {
    400: "The body could not be read as JSON",
    401: "No valid bearer token",
    403: "The caller's role or caseload does not allow this",
    404: "Not found, or outside the caller's scope",
    409: "Conflict with the current state",
    412: "If-Match does not match the current version",
    413: "Request body too large",
    422: "Validation failed",
    428: "If-Match is required",
    502: "An upstream prison system failed",
    503: "The database is not available, or the server process had more requests in hand than it "
    "takes on at once for longer than the admission wait (errorCode SERVICE_BUSY); nothing was done",
}

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
BEARER_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "An API key from `rj-casework clients create`",
}


def complete_openapi(document: dict[str, Any]) -> dict[str, Any]:
    """Make the generated document say what every route really answers.

    Applied to every operation, so routes added later are described the same way:
    - every error is an `application/problem+json` Problem (FastAPI's own 422 shape is never sent);
    - an operation with inputs may answer 422, one with a body 400 and 413;
    - an authenticated operation (one that may answer 401) needs the bearer key and may answer
      503 when the database is down or the server process is too busy to take it on in time;
    - an optional query or header parameter is left out when unset, never sent as null.
    """
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if isinstance(operation, dict) and "responses" in operation:
                _complete_operation(operation)
    document.setdefault("components", {}).setdefault("securitySchemes", {})["HTTPBearer"] = BEARER_SCHEME
    schemas = document.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document


def _is_problem(response: dict[str, Any]) -> bool:
    """An error response left undescribed, FastAPI's default 422, or one declared with `errors()`."""
    schemas = [c.get("schema", {}).get("$ref", "") for c in response.get("content", {}).values()]
    return not any(schemas) or any(s.endswith(("/Problem", "/HTTPValidationError")) for s in schemas)


def _complete_operation(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation["responses"]
    parameters: list[dict[str, Any]] = operation.get("parameters", [])
    wanted: set[int] = set()
    if parameters or "requestBody" in operation:
        wanted.add(422)
    if "requestBody" in operation:
        wanted |= {400, 413}
    if "401" in responses:
        # An operation that authenticates its caller: the bearer key, and the database behind it.
        operation["security"] = [{"HTTPBearer": []}]
        wanted.add(503)
    for status in wanted:
        responses.setdefault(str(status), {"description": DESCRIPTIONS[status]})
    for code, response in responses.items():
        if int(code) >= 400 and _is_problem(response):
            response["content"] = {PROBLEM_JSON: {"schema": _PROBLEM_REF}}
            if code == "422":
                response["description"] = DESCRIPTIONS[422]
    for parameter in parameters:
        schema = parameter.get("schema", {})
        options = schema.get("anyOf")
        if parameter.get("in") != "path" and options and {"type": "null"} in options:
            rest = [o for o in options if o != {"type": "null"}]
            if len(rest) == 1:
                parameter["schema"] = {**{k: v for k, v in schema.items() if k != "anyOf"}, **rest[0]}
            else:
                schema["anyOf"] = rest
