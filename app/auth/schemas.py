"""Request and response shapes of API clients: never a key's hash, and a key only once."""

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import Field

from app.auth.practitioners import Practitioner
from app.auth.service import DEFAULT_OVERLAP_HOURS, MAX_OVERLAP_HOURS, ClientStatus, status_of
from app.common.enums import Role
from app.common.schemas import ApiModel, RequestModel, StrictInt
from app.context import Principal
from app.models.auth import ApiClient


class AuthType(StrEnum):
    """How a caller proves who they are."""

    API_KEY = "api_key"
    JWT = "jwt"


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


class Me(ApiModel):
    """The caller, as the service knows them."""

    client_id: str = Field(
        description="The API client's id; for a JWT caller, the token's subject (their username)."
    )
    name: str
    role: Role
    prisons: list[str] = Field(description="The caller's caseload; empty when `allPrisons`.")
    all_prisons: bool
    rep_id: uuid.UUID | None = None
    practitioner_id: uuid.UUID | None = Field(
        default=None, description="A practitioner's id, as `practitionerId` and `facilitatorId` take it."
    )
    auth_type: AuthType

    @classmethod
    def of(cls, principal: Principal) -> "Me":
        return cls(
            client_id=principal.subject if principal.subject is not None else str(principal.client_id),
            name=principal.name,
            role=principal.role,
            prisons=sorted(principal.prisons or ()),
            all_prisons=principal.prisons is None,
            rep_id=principal.rep_id,
            practitioner_id=principal.client_id if principal.role == Role.PRACTITIONER else None,
            auth_type=AuthType.JWT if principal.subject is not None else AuthType.API_KEY,
        )


class PractitionerPublic(ApiModel):
    """Someone who can be named as a case's practitioner or a conference's facilitator."""

    id: uuid.UUID
    name: str
    prisons: list[str]
    all_prisons: bool
    active: bool = Field(description="False once their API key is revoked.")
    auth_type: AuthType

    @classmethod
    def of(cls, p: Practitioner) -> "PractitionerPublic":
        return cls(
            id=p.id,
            name=p.name,
            prisons=list(p.prisons),
            all_prisons=p.all_prisons,
            active=p.active,
            auth_type=AuthType(p.auth_type),
        )
