"""Which fields of a concern each role sees (the rule itself is `VIEWS` in app/auth/access.py)."""

from app import clock
from app.auth.access import View, view_of
from app.common.enums import ConcernCategory, ConcernStatus
from app.context import Principal
from app.errors import NotFoundError
from app.models.safeguarding import SafeguardingConcern
from app.safeguarding.schemas import ConcernDetail, ConcernReceipt, ConcernView
from app.safeguarding.service import is_overdue


def present_concern(
    principal: Principal, concern: SafeguardingConcern, case_reference: str | None
) -> ConcernView:
    """The view of a concern fit for the caller's role."""
    view = view_of(principal, "concern")
    if view == View.NONE:
        raise NotFoundError(f"no safeguarding concern {concern.id}")
    if view == View.NARROW:
        return ConcernReceipt(
            id=concern.id,
            case_id=concern.case_id,
            category=ConcernCategory(concern.category),
            status=ConcernStatus(concern.status),
            raised_at=concern.raised_at,
            acknowledged_at=concern.acknowledged_at,
        )
    return ConcernDetail(
        id=concern.id,
        prisoner_number=concern.prisoner_number,
        prison_id=concern.prison_id,
        case_id=concern.case_id,
        case_reference=case_reference,
        category=ConcernCategory(concern.category),
        detail=concern.detail,
        status=ConcernStatus(concern.status),
        raised_at=concern.raised_at,
        raised_by_client_id=concern.raised_by_client_id,
        acknowledged_by=concern.acknowledged_by,
        acknowledged_at=concern.acknowledged_at,
        external_reference=concern.external_reference,
        overdue=is_overdue(concern, clock.now()),
        task_id=concern.task_id,
        check_task_id=concern.check_task_id,
    )
