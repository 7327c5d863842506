"""Writing and reading case notes. A note is never edited or deleted: a correction is a new note
that names the one it corrects, and both are read back."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app import clock
from app.audit.service import record_case_change
from app.common.enums import NoteKind, Role
from app.context import Principal, RequestContext
from app.errors import ValidationFailedError
from app.models.cases import Case
from app.models.notes import Note
from app.notes.schemas import NotePublic


async def write_note(
    session: AsyncSession,
    ctx: RequestContext,
    case: Case,
    *,
    text: str,
    kind: NoteKind = NoteKind.GENERAL,
    for_reps: bool | None = None,
    corrects: uuid.UUID | None = None,
) -> Note:
    """Add a note to the case (the caller holds the case row lock), audited with its text."""
    if corrects is not None:
        corrected = await session.get(Note, corrects)
        if corrected is None or corrected.case_id != case.id:
            raise ValidationFailedError(f"corrects: no note {corrects} on case {case.reference}")
        if for_reps is not None and for_reps != corrected.for_reps:
            raise ValidationFailedError(
                "forReps: a correction is shown to the same people as the note it corrects"
            )
        for_reps = corrected.for_reps
    note = Note(
        case_id=case.id,
        kind=kind.value,
        text=text,
        for_reps=bool(for_reps),
        corrects_id=corrects,
        written_by=ctx.principal.name,
        written_by_client_id=ctx.principal.client_id,
        written_by_role=ctx.principal.role.value,
        written_at=clock.now(),
    )
    session.add(note)
    record_case_change(
        session,
        ctx,
        case,
        action="note.written",
        entity_type="note",
        entity_id=note.id,
        after={"kind": note.kind, "text": text, "forReps": note.for_reps, "corrects": corrects},
    )
    return note


async def notes_of(session: AsyncSession, principal: Principal, case_id: uuid.UUID) -> list[NotePublic]:
    """The case's notes the caller may read, oldest first: a rep reads only those for reps."""
    stmt = select(Note).where(col(Note.case_id) == case_id)
    if principal.role == Role.REP:
        stmt = stmt.where(col(Note.for_reps))
    notes = list((await session.execute(stmt.order_by(col(Note.written_at), col(Note.id)))).scalars())
    corrected_by: dict[uuid.UUID, list[uuid.UUID]] = {}
    for note in notes:
        if note.corrects_id is not None:
            corrected_by.setdefault(note.corrects_id, []).append(note.id)
    return [present(n, corrected_by.get(n.id, [])) for n in notes]


def present(note: Note, corrected_by: list[uuid.UUID] | None = None) -> NotePublic:
    """A note as the API shows it."""
    return NotePublic(
        id=note.id,
        kind=NoteKind(note.kind),
        text=note.text,
        for_reps=note.for_reps,
        corrects=note.corrects_id,
        corrected_by=corrected_by or [],
        written_by=note.written_by,
        written_by_role=Role(note.written_by_role),
        written_at=note.written_at,
    )
