"""A move of the case alone made straight on PostgreSQL's driver: the locking read of the case
bundle and the one statement writing the case, its audit record and its event, in a transaction
of the caller's asyncpg connection (`app.db.Database.driver`), without a session.

The checks and the move itself are `app.flows.transitions`' own (`plan_case_move`), so a move
made here is the move `fire_transition` makes: same refusals, same audit record, same event.
"""

from collections.abc import Callable

from app.cases import moves
from app.cases import repository as repo
from app.cases.repository import CaseBundle
from app.cases.schemas import TransitionRequest
from app.context import RequestContext
from app.db import DriverConnection, driver_transaction
from app.errors import NotFoundError
from app.flows import transitions


async def fire_transition(
    driver: DriverConnection,
    ctx: RequestContext,
    key: str,
    body: TransitionRequest,
    *,
    expected_version: int | None,
    may_see: Callable[[CaseBundle], bool],
) -> CaseBundle:
    """Fire `body`'s trigger (a move of the case alone) on the case `key` (id or reference), if
    it is in the caller's scope and `may_see` it (404 otherwise); the case as it now is."""
    async with driver_transaction(driver):
        bundle = await repo.bundle_on_driver(driver, key, lock=True, principal=ctx.principal)
        if bundle is None or not may_see(bundle):
            raise NotFoundError(f"no case {key}")
        planned = transitions.plan_case_move(ctx, bundle, body, expected_version=expected_version)
        for record, event in planned:
            await moves.write_move(driver, bundle.case, record, event)
    return bundle
