"""The cheap ways of making a row (`app.db.new_row`, `read_row`, `plain_row`) keep their promises:
a new row inserts like one made by its model's constructor, with the column defaults it was not
given; a row read for an answer reads as usual and refuses to be changed or saved; a plain row reads
and changes as a row does but cannot be saved through a session."""

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm.exc import UnmappedInstanceError
from sqlmodel import col

from app import clock
from app.db import Database, new_id, new_row, plain_row, read_row
from app.models.audit import AuditRecord
from app.models.cases import Case, Party
from app.models.events import OutboxEvent
from tests import stamp_guard

REFERENCE = "MDI-RJ-990001"


async def _case(db: Database) -> Case:
    now = clock.now()
    case = Case(
        id=new_id(),
        reference=REFERENCE,
        prison_id="MDI",
        state="referred",
        version=1,
        category="assault",
        source_system="TEST",
        source_reference="rows-1",
        referred_by="test",
        created_at=now,
        updated_at=now,
    )
    async with db.transaction() as session:
        session.add(case)
    return case


async def test_a_new_row_inserts_with_its_column_defaults(db: Database) -> None:
    case = await _case(db)
    now = clock.now()
    party_id = new_id()
    async with db.transaction() as session:
        session.add(
            new_row(
                Party,
                {
                    "id": party_id,
                    "case_id": case.id,
                    "prisoner_number": "A1234BC",
                    "first_name": "Ann",
                    "last_name": "Smith",
                    "role": "harmed",
                    "location": "A-1-001",
                    "created_at": now,
                },
            )
        )
        await stamp_guard.touch_cases(session, [case.id])
        # No event id given: the column's default supplies one.
        session.add(
            new_row(
                OutboxEvent,
                {
                    "event_type": "test.row",
                    "case_id": case.id,
                    "prison_id": "MDI",
                    "payload": {},
                    "created_at": now,
                },
            )
        )
    async with db.reading() as session:
        party = (await session.execute(select(Party).where(col(Party.id) == party_id))).scalar_one()
        event = (
            await session.execute(select(OutboxEvent).where(col(OutboxEvent.event_type) == "test.row"))
        ).scalar_one()
    assert (party.first_name, party.location, party.created_at) == ("Ann", "A-1-001", now)
    assert event.event_id is not None
    assert event.position is not None


async def test_a_read_row_reads_but_cannot_be_changed_or_saved(db: Database) -> None:
    now = clock.now()
    values = {
        "id": new_id(),
        "case_id": new_id(),
        "prisoner_number": "A1234BC",
        "first_name": "Ann",
        "last_name": "Smith",
        "role": "harmed",
        "location": None,
        "created_at": now,
    }
    party = read_row(Party, values)
    assert (party.id, party.first_name, party.location, party.created_at) == (
        values["id"],
        "Ann",
        None,
        now,
    )
    with pytest.raises((AttributeError, UnmappedInstanceError)):
        party.first_name = "Bea"
    async with db.transaction() as session:
        with pytest.raises(UnmappedInstanceError):
            session.add(party)
    # An audit record read this way carries every column it was given, and no others.
    record = read_row(AuditRecord, {"chain": "c", "seq": 1, "occurred_at": now - timedelta(seconds=1)})
    assert record.seq == 1
    with pytest.raises((AttributeError, UnmappedInstanceError)):
        _ = record.hash


async def test_a_plain_row_reads_and_changes_but_cannot_be_saved(db: Database) -> None:
    now = clock.now()
    case = plain_row(Case, {"id": new_id(), "state": "assessment", "version": 3, "updated_at": now})
    assert (case.state, case.version, case.updated_at) == ("assessment", 3, now)
    case.state, case.version = "on_hold", 4
    assert (case.state, case.version) == ("on_hold", 4)
    async with db.transaction() as session:
        with pytest.raises(UnmappedInstanceError):
            session.add(case)
