"""Changing a party, and the work that follows the change: how the party wants to be checked on
decides who does their open wellbeing checks, in the same transaction."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.cases import parties
from app.cases.repository import CaseBundle
from app.cases.schemas import PartyPatch
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
