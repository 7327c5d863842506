"""Who is asking, and under which request id: passed to every service that changes data."""

import uuid
from dataclasses import dataclass, field
from typing import Any

from app.common.enums import Role


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: role, caseload (None means every prison) and rep binding."""

    client_id: uuid.UUID | None
    name: str
    role: Role
    prisons: frozenset[str] | None
    rep_id: uuid.UUID | None = None
    # The identity provider's username of a JWT caller; None for an API key.
    subject: str | None = None

    def covers(self, prison_id: str) -> bool:
        """Whether `prison_id` is in this caller's caseload."""
        return self.prisons is None or prison_id in self.prisons

    def actor(self) -> dict[str, Any]:
        """How the caller appears in the audit trail."""
        return {
            "clientId": str(self.client_id) if self.client_id else None,
            "name": self.name,
            "role": self.role.value,
            "repId": str(self.rep_id) if self.rep_id else None,
        }


SYSTEM = Principal(client_id=None, name="rj-casework", role=Role.ADMIN, prisons=None)


@dataclass(frozen=True, slots=True)
class RequestContext:
    """The caller and the request id of one unit of work."""

    principal: Principal
    request_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


SYSTEM_CONTEXT = RequestContext(principal=SYSTEM, request_id=None)
