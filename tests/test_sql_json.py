"""JSON written by PostgreSQL (`app.common.sql_json`) is the JSON the service's models write:
the texts joined by `json_text_object` and `json_text_agg` parse as the values they were made
of, and are written as pydantic writes them, byte for byte (PostgreSQL only)."""

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel
from sqlalchemy import text

from app.common.sql_json import json_flag, json_quoted, json_text_agg, json_text_object, json_time, json_value
from app.db import Database

TEXTS = ['Say "sorry" \\ then / wait', "Café — ✓ 🙂", "one\ntwo\tthree\r", "\u0001\u001f\u007f", "", None]


class Row(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    n: int
    some_text: str | None
    ok: bool | None
    at: datetime | None
    ident: str


@pytest.fixture
def on_postgres(is_postgres: bool) -> None:
    if not is_postgres:
        pytest.skip("the JSON is PostgreSQL's")


async def _one(db: Database, sql: str, **values: Any) -> str:
    async with db.engine.connect() as conn:
        return str((await conn.execute(text(sql), values)).scalar_one())


ROWS = [
    {
        "n": i,
        "some_text": t,
        "ok": (True, False, None)[i % 3],
        "at": at,
        "ident": f"{i:08d}-0000-4000-8000-000000000000",
    }
    for i, (t, at) in enumerate(
        zip(
            TEXTS,
            [
                datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
                datetime(2026, 3, 2, 9, 0, 1, 120000, tzinfo=UTC),
                datetime(2026, 3, 2, 9, 0, 1, 5, tzinfo=UTC),
                None,
                datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
                datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
            ],
            strict=True,
        )
    )
]
# The rows as a VALUES list of typed parameters.
VALUES = ", ".join(
    f"(CAST(:n{i} AS INTEGER), CAST(:t{i} AS TEXT), CAST(:ok{i} AS BOOLEAN), CAST(:at{i} AS TIMESTAMPTZ), "
    f"CAST(:id{i} AS TEXT))"
    for i in range(len(ROWS))
)
PARAMS = {
    f"{k}{i}": row[name]
    for i, row in enumerate(ROWS)
    for k, name in (("n", "n"), ("t", "some_text"), ("ok", "ok"), ("at", "at"), ("id", "ident"))
}
SOURCE = f"(VALUES {VALUES}) AS r(n, t, ok, at, id)"
ELEMENT = json_text_object(
    n=json_value("r.n"),
    some_text=json_value("r.t"),
    ok=json_flag("r.ok"),
    at=json_quoted(json_time("r.at")),
    ident=json_quoted("r.id"),
)


class TestTextsJoined:
    async def test_a_list_is_written_as_pydantic_writes_its_models(
        self, db: Database, on_postgres: None
    ) -> None:
        written = await _one(db, f"SELECT {json_text_agg(ELEMENT, 'r.n')} FROM {SOURCE}", **PARAMS)  # noqa: S608
        expected = "[" + ",".join(Row(**row).model_dump_json(by_alias=True) for row in ROWS) + "]"
        assert written == expected
        assert json.loads(written)[1]["someText"] == TEXTS[1]

    async def test_the_order_is_the_aggregates(self, db: Database, on_postgres: None) -> None:
        written = await _one(db, f"SELECT {json_text_agg(ELEMENT, 'r.n DESC')} FROM {SOURCE}", **PARAMS)  # noqa: S608
        assert [row["n"] for row in json.loads(written)] == [row["n"] for row in reversed(ROWS)]

    async def test_no_rows_is_an_empty_list(self, db: Database, on_postgres: None) -> None:
        written = await _one(
            db, f"SELECT {json_text_agg(ELEMENT, 'r.n')} FROM {SOURCE} WHERE false", **PARAMS
        )  # noqa: S608
        assert written == "[]"

    def test_an_object_has_members(self) -> None:
        with pytest.raises(ValueError, match="needs a member"):
            json_text_object()
