"""Letters between parties: drafted, submitted, approved or returned, delivered."""

import uuid

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
from app.common.enums import LetterStatus
from app.flows.transitions import refuse_unmet_gates
from app.letters import service
from app.letters.schemas import LetterCreate, LetterDeliver, LetterEdit, LetterPublic, LetterReturn
from app.workflows.case_workflow import Action

router = APIRouter(prefix="/cases", tags=["letters"])


def _allowed(action: str) -> Permission:
    allowed = service.MOVES[action].permission
    assert allowed is not None  # noqa: S101 - only the service itself withholds
    return allowed


@router.post(
    "/{case_id}/letters",
    status_code=201,
    response_model=LetterPublic,
    responses=errors(404, 409, 422),
    dependencies=[permission(Permission.LETTER_WRITE)],
)
async def create_letter(
    body: LetterCreate, bundle: CaseForUpdate, session: SessionDep, ctx: ContextDep
) -> LetterPublic:
    """A draft letter from one party to another (while the case is in letter exchange)."""
    letter = await service.create_letter(
        session,
        ctx,
        bundle,
        author_party_id=body.author_party_id,
        recipient_party_id=body.recipient_party_id,
        body=body.body,
        in_reply_to=body.in_reply_to,
    )
    return (await service.present_letters(session, ctx.principal, bundle.case, [letter]))[0]


@router.get(
    "/{case_id}/letters",
    response_model=list[LetterPublic],
    responses=errors(404),
    dependencies=[permission(Permission.LETTER_READ), KNOWN_QUERY],
)
async def list_letters(
    bundle: CaseForRead, session: SessionDep, principal: PrincipalDep
) -> list[LetterPublic]:
    """The case's letters the caller may see (a rep: only approved and delivered ones)."""
    letters = await service.list_letters(session, principal, bundle.case)
    return await service.present_letters(session, principal, bundle.case, letters)


@router.get(
    "/{case_id}/letters/{letter_id}",
    response_model=LetterPublic,
    responses=errors(404),
    dependencies=[permission(Permission.LETTER_READ)],
)
async def get_letter(
    letter_id: uuid.UUID, bundle: CaseForRead, session: SessionDep, principal: PrincipalDep
) -> LetterPublic:
    """One letter."""
    letter = await service.get_letter(session, principal, bundle.case, letter_id)
    return (await service.present_letters(session, principal, bundle.case, [letter]))[0]


@router.patch(
    "/{case_id}/letters/{letter_id}",
    response_model=LetterPublic,
    responses=errors(404, 409, 422),
    dependencies=[permission(Permission.LETTER_WRITE)],
)
async def edit_letter(
    letter_id: uuid.UUID, body: LetterEdit, bundle: CaseForUpdate, session: SessionDep, ctx: ContextDep
) -> LetterPublic:
    """Rewrite a draft or a returned letter."""
    letter = await service.get_letter(session, ctx.principal, bundle.case, letter_id, lock=True)
    await service.edit_letter(session, ctx, bundle, letter, body=body.body)
    return (await service.present_letters(session, ctx.principal, bundle.case, [letter]))[0]


async def _move(
    session: SessionDep,
    ctx: ContextDep,
    bundle: CaseForUpdate,
    letter_id: uuid.UUID,
    action: str,
    *,
    comments: str | None = None,
    duration_minutes: int = 0,
    notes: str | None = None,
) -> LetterPublic:
    letter = await service.get_letter(session, ctx.principal, bundle.case, letter_id, lock=True)
    if action == "deliver" and letter.status == LetterStatus.APPROVED:
        refuse_unmet_gates(Action.LETTER_DELIVERED, ctx, bundle, letter.recipient_party_id)
    await service.move(
        session,
        ctx,
        bundle,
        letter,
        action,
        comments=comments,
        duration_minutes=duration_minutes,
        notes=notes,
    )
    return (await service.present_letters(session, ctx.principal, bundle.case, [letter]))[0]


@router.post(
    "/{case_id}/letters/{letter_id}/submit",
    response_model=LetterPublic,
    responses=errors(404, 409),
    dependencies=[permission(_allowed("submit"))],
)
async def submit_letter(
    letter_id: uuid.UUID, bundle: CaseForUpdate, session: SessionDep, ctx: ContextDep
) -> LetterPublic:
    """Hand a draft (or a reworked returned letter) to a practitioner to read."""
    return await _move(session, ctx, bundle, letter_id, "submit")


@router.post(
    "/{case_id}/letters/{letter_id}/approve",
    response_model=LetterPublic,
    responses=errors(404, 409),
    dependencies=[permission(_allowed("approve"))],
)
async def approve_letter(
    letter_id: uuid.UUID, bundle: CaseForUpdate, session: SessionDep, ctx: ContextDep
) -> LetterPublic:
    """A practitioner approves a submitted letter; a delivery task goes to the assigned rep."""
    return await _move(session, ctx, bundle, letter_id, "approve")


@router.post(
    "/{case_id}/letters/{letter_id}/return",
    response_model=LetterPublic,
    responses=errors(404, 409, 422),
    dependencies=[permission(_allowed("return"))],
)
async def return_letter(
    letter_id: uuid.UUID, body: LetterReturn, bundle: CaseForUpdate, session: SessionDep, ctx: ContextDep
) -> LetterPublic:
    """A practitioner sends a submitted letter back to its author with comments."""
    return await _move(session, ctx, bundle, letter_id, "return", comments=body.comments)


@router.post(
    "/{case_id}/letters/{letter_id}/deliver",
    response_model=LetterPublic,
    responses=errors(404, 409, 422),
    dependencies=[permission(_allowed("deliver"))],
)
async def deliver_letter(
    letter_id: uuid.UUID,
    bundle: CaseForUpdate,
    session: SessionDep,
    ctx: ContextDep,
    body: LetterDeliver | None = None,
) -> LetterPublic:
    """The assigned rep (or a practitioner) hands over an approved letter; completes the delivery task."""
    body = body or LetterDeliver()
    return await _move(
        session,
        ctx,
        bundle,
        letter_id,
        "deliver",
        duration_minutes=body.duration_minutes,
        notes=body.notes,
    )
