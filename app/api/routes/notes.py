"""Case notes: written by practitioners, never edited or deleted."""

from fastapi import APIRouter

from app.api.deps import (
    KNOWN_QUERY,
    CaseForRead,
    CaseForUpdate,
    ContextDep,
    PrincipalDep,
    SessionDep,
    permission,
)
from app.api.responses import errors
from app.auth.access import Permission
from app.notes import service
from app.notes.schemas import NoteCreate, NotePublic

router = APIRouter(prefix="/cases", tags=["notes"])


@router.post(
    "/{case_id}/notes",
    status_code=201,
    response_model=NotePublic,
    responses=errors(404, 422),
    dependencies=[permission(Permission.NOTE_WRITE)],
)
async def write_note(
    body: NoteCreate, bundle: CaseForUpdate, session: SessionDep, ctx: ContextDep
) -> NotePublic:
    """Write a note on the case. To put a note right, write another that `corrects` it."""
    note = await service.write_note(
        session, ctx, bundle.case, text=body.text, for_reps=body.for_reps, corrects=body.corrects
    )
    return service.present(note)


@router.get(
    "/{case_id}/notes",
    response_model=list[NotePublic],
    responses=errors(404),
    dependencies=[permission(Permission.NOTE_READ), KNOWN_QUERY],
)
async def list_notes(bundle: CaseForRead, session: SessionDep, principal: PrincipalDep) -> list[NotePublic]:
    """The case's notes, oldest first, conference notes and decline explanations among them. A
    rep reads only the notes written for reps."""
    return await service.notes_of(session, principal, bundle.case.id)
