"""`app.db.driver.driver_statement`: a statement built per request, compiled once per shape, must send
each request's own values, in the order its SQL numbers them; pages' statements kept by what
decides them are built once each."""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Select, select
from sqlmodel import col

from app.cases.repository import _PageStatements
from app.db import driver as db
from app.models.cases import Case


def _statement(prisons: list[str], state: str, since: datetime | None = None) -> Select[uuid.UUID]:
    conditions = [col(Case.prison_id).in_(prisons), col(Case.state) == state]
    if since is not None:
        conditions.append(col(Case.updated_at) >= since)
    return select(col(Case.id)).where(*conditions).order_by(col(Case.id)).limit(20)


def test_same_shape_compiled_once_with_each_statements_values() -> None:
    db._SHAPES.clear()
    first_sql, first_args = db.driver_statement(_statement(["MDI"], "assessment"))
    second_sql, second_args = db.driver_statement(_statement(["LEI"], "closed"))
    assert len(db._SHAPES) == 1
    assert first_sql == second_sql
    assert first_args == ["assessment", 20, "MDI"]
    assert second_args == ["closed", 20, "LEI"]
    assert "$3" in first_sql and "$4" not in first_sql


def test_an_in_list_is_written_out_for_its_values() -> None:
    sql, args = db.driver_statement(_statement(["MDI", "LEI", "BXI"], "referred"))
    assert args == ["referred", 20, "MDI", "LEI", "BXI"]
    assert "$5" in sql and "$6" not in sql


def test_another_shape_is_compiled_apart_and_values_are_sent_as_the_engine_sends_them() -> None:
    db._SHAPES.clear()
    since = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    sql, args = db.driver_statement(_statement(["MDI"], "referred", since))
    assert len(db._SHAPES) == 1
    assert args == ["referred", since, 20, "MDI"]
    db.driver_statement(_statement(["MDI"], "referred"))
    assert len(db._SHAPES) == 2


def test_the_shapes_kept_are_bounded() -> None:
    db._SHAPES.clear()
    for n in range(db._MOST_SHAPES + 5):
        # Each label is a shape of its own.
        statement: Select[uuid.UUID] = select(col(Case.id).label(f"c{n}")).where(col(Case.id) == uuid.uuid4())
        db.driver_statement(statement)
    assert len(db._SHAPES) <= db._MOST_SHAPES


def test_pages_statements_are_kept_by_their_key_least_recently_used_out_first() -> None:
    kept = _PageStatements(2)
    built: list[str] = []

    def build(prison: str) -> Callable[[], Select[uuid.UUID]]:
        def make() -> Select[uuid.UUID]:
            built.append(prison)
            return _statement([prison], "assessment")

        return make

    assert kept.get("mdi", build("MDI"))[1] == ["assessment", 20, "MDI"]
    assert kept.get("lei", build("LEI"))[1] == ["assessment", 20, "LEI"]
    assert kept.get("mdi", build("not built"))[1] == ["assessment", 20, "MDI"]
    assert kept.get("wti", build("WTI"))[1] == ["assessment", 20, "WTI"]  # LEI goes
    assert kept.get("mdi", build("not built"))[1] == ["assessment", 20, "MDI"]
    assert kept.get("lei", build("LEI"))[1] == ["assessment", 20, "LEI"]
    assert built == ["MDI", "LEI", "WTI", "LEI"]
