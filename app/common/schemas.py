"""Base shapes of the API: camelCase JSON, strict request bodies, pages."""

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from annotated_types import Interval
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Strict,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from app.common.patterns import PRISON_ID, PRISONER_NUMBER

T = TypeVar("T")

_RFC3339 = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def _rfc3339(value: Any) -> Any:
    # Pydantic alone would also take numbers as Unix times and times without seconds.
    if isinstance(value, datetime) or (isinstance(value, str) and _RFC3339.match(value)):
        return value
    raise ValueError("must be an RFC 3339 time with an offset, e.g. 2026-11-20T10:00:00+00:00")


def _iso_date(value: Any) -> Any:
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DATE.match(value)):
        return value
    raise ValueError("must be a date, YYYY-MM-DD")


# The times and dates the service takes. Python's own range (years 1 to 9999) less a year at each
# end: a time at its edge may not exist in UTC or in a prison's local time (0001-01-01T00:00+01:00
# is in year 0 in UTC), and the service works out days, weeks and months either side of what it is
# given (a day's end, a report's window). Out of range is a 422 naming the field, never an overflow.
FIRST_DAY, LAST_DAY = date(2, 1, 1), date(9998, 12, 31)
EARLIEST = datetime.combine(FIRST_DAY, datetime.min.time(), tzinfo=UTC)
LATEST = datetime.combine(LAST_DAY, datetime.max.time(), tzinfo=UTC)


def _time_in_range(value: datetime) -> datetime:
    try:
        # A time with no offset is local time in a prison: within a day of UTC, as the margin allows.
        utc = value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc <= LATEST:
        raise PydanticCustomError(
            "time_out_of_range",
            "must be a time between {earliest} and {latest}",
            {"earliest": EARLIEST.isoformat(), "latest": LATEST.isoformat()},
        )
    return value


def _day_in_range(value: date) -> date:
    if not FIRST_DAY <= value <= LAST_DAY:
        raise PydanticCustomError(
            "date_out_of_range",
            "must be a date between {first} and {last}",
            {"first": FIRST_DAY.isoformat(), "last": LAST_DAY.isoformat()},
        )
    return value


# Times are RFC 3339 with an offset and dates YYYY-MM-DD, nothing looser (the contract's conventions),
# and within the range above. Every time and date a request carries is one of these.
Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339), AfterValidator(_time_in_range)]
Day = Annotated[date, BeforeValidator(_iso_date), AfterValidator(_day_in_range)]
# A time as another system gives it: with an offset, or local time in a prison without one.
ForeignTime = Annotated[datetime, AfterValidator(_time_in_range)]

# The widest integer the databases hold (BIGINT): every integer a client sends that reaches a
# query is within it, so a larger one is a 422 naming it rather than an overflow in the driver.
BIGINT_MAX = 2**63 - 1
Cursor = Annotated[int, Interval(ge=0, le=BIGINT_MAX)]


def _json_integer(value: Any) -> Any:
    # JSON Schema counts 5.0 as an integer, but neither "5" nor true.
    if isinstance(value, str | bytes | bool):
        raise ValueError("must be a JSON integer")
    return value


# JSON numbers and booleans as sent: no "5" for 5, no 1 for true.
StrictInt = Annotated[int, BeforeValidator(_json_integer)]
StrictBool = Annotated[bool, Strict()]

# Fields many shapes share: who and where, by the prison's own identifiers, and free text.
PrisonerNumber = Annotated[str, StringConstraints(pattern=PRISONER_NUMBER)]
PrisonId = Annotated[str, StringConstraints(pattern=PRISON_ID)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=100)]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(max_length=10_000)]


def _storable(value: Any) -> bool:
    """Whether text can be stored: no NUL character, no lone UTF-16 surrogate."""
    if isinstance(value, str):
        if "\x00" in value:
            return False
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, list | tuple):
        return all(_storable(v) for v in value)
    # Objects are nested models, which check their own fields and so name the exact one.
    return True


def not_null(schema: dict[str, Any]) -> None:
    """The JSON schema of a field that may be left out but, when sent, is never null."""
    options = [o for o in schema.pop("anyOf", []) if o != {"type": "null"}]
    if len(options) == 1:
        schema.update(options[0])
    elif options:
        schema["anyOf"] = options
    schema.pop("default", None)


class ApiModel(BaseModel):
    """A response body: camelCase on the wire."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)


# What `_storable` allows, for the JSON schema of free-text fields.
STORABLE_TEXT = "^[^\\u0000]*$"


_BOUNDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}


def _describe_request(schema: dict[str, Any], cls: Any) -> None:
    """Say in the JSON schema what the validators enforce: free text holds no NUL, and a change
    names at least `min_fields` fields."""
    if getattr(cls, "min_fields", 0):
        schema["minProperties"] = cls.min_fields
    for name in getattr(cls, "never_null", ()):
        not_null(schema["properties"][to_camel(name)])

    def visit(node: dict[str, Any]) -> None:
        for option in node.get("anyOf", []):
            visit(option)
        # Bounds pydantic cannot place inside a wrapped type (StrictInt in a union) come out under
        # their Python names, which JSON Schema ignores.
        for python, json_schema in _BOUNDS.items():
            if python in node:
                node[json_schema] = node.pop(python)
        if isinstance(node.get("items"), dict):
            visit(node["items"])
        if node.get("type") == "string" and not {"pattern", "format", "enum", "const"} & node.keys():
            node["pattern"] = STORABLE_TEXT

    for prop in schema.get("properties", {}).values():
        visit(prop)


class RequestModel(ApiModel):
    """A request body: unknown fields are refused, so nothing can be set by mass assignment."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        json_schema_extra=lambda schema, cls: _describe_request(schema, cls),
    )
    # A change with nothing in it is refused: PATCH bodies set this to 1.
    min_fields: ClassVar[int] = 0
    # Fields a change may leave out (unchanged) but never set to null: what every record has.
    never_null: ClassVar[tuple[str, ...]] = ()

    @field_validator("*", mode="before")
    @classmethod
    def _text_is_storable(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name in cls.never_null:
            raise ValueError("must not be null; leave it out to keep the current value")
        # Neither database stores these; refused here, they are a 422 naming the field, not a 500.
        if not _storable(value):
            raise ValueError("text must not contain NUL characters or unpaired surrogates")
        return value

    @model_validator(mode="after")
    def _names_enough_fields(self) -> "RequestModel":
        # Judged with the body, before the change is looked at: an empty change is a 422 whatever
        # the case's version, as the document's minProperties says.
        if self.min_fields and len(self.model_fields_set) < self.min_fields:
            raise ValueError("nothing to change: give at least one field")
        return self


def _describe_foreign(schema: dict[str, Any]) -> None:
    """Say in the JSON schema that text is taken with surrounding whitespace stripped: text that
    must not be empty needs a character other than whitespace."""
    for prop in schema.get("properties", {}).values():
        for node in [prop, *prop.get("anyOf", [])]:
            if node.get("type") == "string" and node.get("minLength", 0) >= 1 and "pattern" not in node:
                node["pattern"] = "\\S"


class ForeignModel(BaseModel):
    """A record in another system's format: only the fields used are named, the rest accepted."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="allow",
        str_strip_whitespace=True,
        json_schema_extra=lambda schema, _cls: _describe_foreign(schema),
    )


class Page(ApiModel, Generic[T]):
    """One page of a list."""

    content: list[T]
    number: int
    size: int
    total_elements: int
    total_pages: int

    @classmethod
    def of(cls, content: list[T], *, number: int, size: int, total: int) -> "Page[T]":
        """Build a page from its items and the total count."""
        return cls(
            content=content,
            number=number,
            size=size,
            total_elements=total,
            total_pages=(total + size - 1) // size if size else 0,
        )
