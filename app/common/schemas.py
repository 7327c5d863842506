"""Base shapes of the API: camelCase JSON, strict request bodies, pages."""

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

T = TypeVar("T")


class ApiModel(BaseModel):
    """A response body: camelCase on the wire."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)


class RequestModel(ApiModel):
    """A request body: unknown fields are refused, so nothing can be set by mass assignment."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", str_strip_whitespace=True
    )


class ForeignModel(BaseModel):
    """A record in another system's format: only the fields used are named, the rest accepted."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="allow", str_strip_whitespace=True
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
