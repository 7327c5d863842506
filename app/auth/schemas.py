"""Request and response shapes of API clients: never a key's hash, and a key only once."""

import uuid
from datetime import datetime

from pydantic import Field

from app.auth.service import DEFAULT_OVERLAP_HOURS, MAX_OVERLAP_HOURS, ClientStatus, status_of
from app.common.schemas import ApiModel, RequestModel, StrictInt
from app.models.auth import ApiClient


class ClientPublic(ApiModel):
    """An API client: who it is, its role and caseload, and whether its key works."""

    id: uuid.UUID
    name: str
    role: str
    prisons: list[str]
    all_prisons: bool
    rep_id: uuid.UUID | None
    created_at: datetime
    status: ClientStatus
    revoked_at: datetime | None
    previous_key_expires_at: datetime | None = Field(
        description="While `rotating`: when the key before the last rotation stops working"
    )

    @classmethod
    def of(cls, client: ApiClient) -> "ClientPublic":
        """The client as the API shows it."""
        status, ends = status_of(client)
        return cls(
            id=client.id,
            name=client.name,
            role=client.role,
            prisons=client.prisons,
            all_prisons=client.all_prisons,
            rep_id=client.rep_id,
            created_at=client.created_at,
            status=status,
            revoked_at=client.revoked_at,
            previous_key_expires_at=ends,
        )


class RotationRequest(RequestModel):
    overlap_hours: StrictInt = Field(
        default=DEFAULT_OVERLAP_HOURS,
        ge=0,
        le=MAX_OVERLAP_HOURS,
        description="How long the current key keeps working beside the new one",
    )


class RotatedClient(ClientPublic):
    """A client just given a new key: the key is shown here, once, and never again."""

    key: str
