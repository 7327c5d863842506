"""Changing a party, and the work that follows the change, in the same transaction: how the party
wants to be checked on decides who does their open wellbeing checks; a party who no longer wants
to hear what became of the agreement is not told."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.cases import parties
from app.cases.repository import CaseBundle
from app.cases.schemas import PartyPatch
from app.common.enums import TaskKind
from app.context import RequestContext
from app.tasks import service as tasks


async def change_party(
    session: AsyncSession,
    ctx: RequestContext,
    bundle: CaseBundle,
    party_id: uuid.UUID,
    patch: PartyPatch,
    *,
    expected_version: int,
) -> None:
    """Change the party's fields (the caller holds the case's lock), then what depends on them;
    one audit record for the party, then one for each task changed."""
    party = await parties.patch_party(
        session, ctx, bundle, party_id, patch, expected_version=expected_version
    )
    if patch.follow_up is not None:
        await tasks.follow_preference(session, ctx, bundle.case, party, bundle.rep_ids)
    if patch.outcome_updates is False:
        await tasks.cancel_with_audit(
            session,
            ctx,
            bundle.case,
            await tasks.open_tasks(session, bundle.case.id, [TaskKind.OUTCOME_FEEDBACK], party_id=party.id),
            reason="The party asked not to be told what became of the agreement.",
        )
