"""Rows and column types every table shares: UTC times, ids, and rows made outside the ORM."""

import uuid
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import DateTime, inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no offset of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def new_id() -> uuid.UUID:
    """A fresh random id."""
    return uuid.uuid4()


T = TypeVar("T")


def new_row(model: type[T], values: dict[str, Any]) -> T:
    """An instance of `model` holding `values`, outside any session: to read, or to `session.add`.
    Built the way the ORM's loader builds rows, without the model constructor's per-field work (a
    table model does not validate anyway). Added, the columns left out get their column defaults
    when the row is inserted, so give every value read before the flush (a Python-side id, say)."""
    obj = inspect(model).class_manager.new_instance()
    obj.__dict__.update(values)
    return obj  # type: ignore[no-any-return]


class _Unchangeable:
    """What `read_row`'s classes share: their rows refuse to be changed."""

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"a {type(self).__name__} was read for an answer and cannot be changed")


# The plain classes standing in for each table model, by model and whether rows may change.
_PLAIN: dict[tuple[type[Any], bool], type[Any]] = {}


def _plain_class(model: type[Any], *, changeable: bool) -> type[Any]:
    cls = _PLAIN.get((model, changeable))
    if cls is None:
        name = f"{model.__name__}{'' if changeable else 'Read'}Row"
        doc = f"A row of {model.__name__} as plain attributes, outside the ORM."
        bases = () if changeable else (_Unchangeable,)
        cls = _PLAIN[(model, changeable)] = type(name, bases, {"__doc__": doc, "__module__": __name__})
    return cls


def _plain(model: type[Any], values: dict[str, Any], *, changeable: bool) -> Any:
    obj = object.__new__(_plain_class(model, changeable=changeable))
    obj.__dict__.update(values)
    return obj


def read_row(model: type[T], values: dict[str, Any]) -> T:
    """A row of `model` holding `values`, for reading only: a plain object whose columns are
    plain attributes, read without the ORM's instrumentation (a seventh of `new_row`'s cost to
    make, a tenth of a table model's to read). It reads as the model's instances do, and can be
    neither changed nor added to a session (either raises)."""
    return cast(T, _plain(model, values, changeable=False))


def plain_row(model: type[T], values: dict[str, Any]) -> T:
    """A row of `model` holding `values` as plain attributes, outside the ORM: read and changed
    like the model's instances at a fraction of the cost, for code that writes the row with a
    statement of its own (`app.cases.moves.write_move`). It cannot be added to a session."""
    return cast(T, _plain(model, values, changeable=True))
