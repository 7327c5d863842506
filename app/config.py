"""Service configuration, read from `RJ_*` environment variables (or `.env`)."""

import json
import os
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# The levels `RJ_LOG_LEVEL` takes (`app/logs.py`), the quietest last.
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def log_level(value: str) -> str:
    """A log level by name, in any case, in capitals; ValueError for any other name."""
    if value.upper() not in LOG_LEVELS:
        raise ValueError(f"{value!r} is not a log level: {', '.join(LOG_LEVELS)}")
    return value.upper()


class Settings(BaseSettings):
    """Every setting the service reads; docs/operations.md has the table."""

    model_config = SettingsConfigDict(env_prefix="RJ_", env_file=".env", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./rj.db"
    log_level: str = "INFO"
    base_url: str = "http://127.0.0.1:8000"
    wellbeing_check_offsets_hours: list[float] = Field(default=[4, 24, 168, 672])
    rep_max_pause_hours: int = 72
    # The prisons' local time: reps' daily lists run from midnight to midnight here.
    local_timezone: str = "Europe/London"
    max_body_bytes: int = 1_048_576
    docs_enabled: bool = True
    # Browser origins allowed to call the API (CORS); empty keeps CORS closed.
    # Comma-separated or a JSON list.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # JWT bearer tokens from an identity provider (see app/auth/jwt.py); off unless a key source is set.
    jwt_public_key_file: str | None = None
    jwt_jwks_file: str | None = None
    jwt_jwks_url: str | None = None
    jwt_jwks_cache_seconds: float = 300.0
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_algorithms: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["RS256", "ES256"])
    jwt_leeway_seconds: int = 30
    jwt_roles_claim: str = "authorities"
    # Authority -> role, as JSON; the first authority in this order that a token holds decides its role.
    jwt_role_mapping: dict[str, str] = Field(
        default_factory=lambda: {
            f"ROLE_RESTORATIVE_JUSTICE__{role.upper()}": role
            for role in ("practitioner", "rep", "referrer", "manager", "auditor", "admin")
        }
    )
    jwt_caseload_claim: str = "caseloads"
    # A header naming the active caseload (e.g. Caseload-Id), trusted only when set here.
    jwt_caseload_header: str | None = None
    jwt_rep_claim: str = "rep_id"
    host: str = "127.0.0.1"
    port: int = 8000
    # Server processes `rj-casework serve` runs (RJ_WORKERS, uvicorn's word for them); unset: one
    # per core on PostgreSQL (at most 8), one on SQLite.
    workers: int | None = None
    # Where the timed work runs (cases resumed after cooling off, overdue tasks and concerns
    # announced, events published and delivered to webhooks, inbound events retried):
    # `in-server` inside `rj-casework serve` (in one of its server processes), `separate` only in
    # an `rj-casework worker` run beside it, `auto` in the server on SQLite (one command runs the
    # whole service) and separately on PostgreSQL (the runner is scaled and restarted on its own).
    timed_work: Literal["auto", "in-server", "separate"] = "auto"
    # How long the timed-work runner waits between passes, wherever it runs.
    timed_work_poll_seconds: float = Field(default=5.0, gt=0)
    # Connections each server process keeps open. Overflow beyond them (up to half as many again) is
    # opened and closed per burst, which costs a connection set-up per request at the peak.
    db_pool_size: int = 20
    # Requests each server process works on at once (0: no limit); more wait their turn in arrival
    # order, before any of their work. A few per process keep PostgreSQL's backends at the concurrency it
    # serves best when they share the machine's cores; raise it for a database on a machine of its
    # own with more cores, or far away (a request then holds its place while it waits on the network).
    max_in_flight: int = Field(default=8, ge=0)
    # How long a request may wait for its turn before it is answered 503 (Retry-After: 1).
    admission_wait_seconds: float = Field(default=10.0, gt=0)
    # Open those connections when a server process starts, rather than one by one under the first burst
    # (each costs the requests that wait on it a connection set-up and the driver's type lookups).
    db_pool_warm: bool = True
    # A ping before each use of a pooled connection costs a round trip per request; without it
    # a connection broken by a database restart fails one request and is then replaced.
    db_pool_pre_ping: bool = False
    # How long a process remembers a bearer key it has already looked up (0: look it up on every
    # request). A remembered key costs a request the read of one counter instead of the lookup;
    # revoking or rotating a key (`rj-casework clients`, `/clients`) moves the counter, so it takes
    # effect at once in every process. A key changed by hand in the database is only seen within
    # this many seconds.
    auth_cache_seconds: float = 5.0
    # Views of cases each server process keeps for pages of cases on PostgreSQL (0: none), each checked
    # against its case's row version on every read: a page of cases kept at their versions costs
    # the database its ids alone. Least recently used go first.
    case_view_cache: int = Field(default=8192, ge=0)
    sqlite_busy_timeout_ms: int = 30_000
    non_associations_url: str | None = None
    non_associations_token: str | None = None
    incident_reporting_url: str | None = None
    # Which incident reports become referrals: incident types (`ASSAULT_5`) or type families
    # (`ASSAULT`), `*` for every report. The others are only recorded, for the outcomes report.
    # Comma-separated or a JSON list.
    referral_incident_types: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["*"])
    # Lists that replace that one for the prisons named, as JSON: {"MDI": ["ASSAULT", "FIGHT"]}.
    referral_incident_types_by_prison: dict[str, list[str]] = Field(default_factory=dict)
    incident_reporting_token: str | None = None
    concern_ack_minutes: int = Field(default=60, ge=1)
    concern_check_hours: float = Field(default=4, gt=0)
    retention_years: int = Field(default=6, ge=1)
    pseudonym_key: str | None = None
    audit_checkpoint_key: str | None = Field(
        default=None,
        description="The secret audit checkpoints are signed with (HMAC-SHA256). Keep it out of the "
        "database, its backups and the database's hosts: whoever holds it can sign a rewritten trail.",
    )
    audit_checkpoint_dir: str | None = Field(
        default=None,
        description="Where the timed work writes a signed checkpoint of every audit chain's head, and where "
        "`rj-casework audit verify` finds the newest; ship the files somewhere the database's users "
        "cannot write. Unset: checkpoints only from `rj-casework audit checkpoint --out FILE`.",
    )
    audit_checkpoint_interval_minutes: float = Field(
        default=60.0,
        gt=0,
        description="How often the timed work writes a checkpoint into RJ_AUDIT_CHECKPOINT_DIR.",
    )
    incident_reporting_timeout_seconds: float = Field(default=5.0, gt=0)
    incident_reporting_tries: int = Field(default=3, ge=1, le=10)
    incident_reporting_backoff_seconds: float = Field(default=0.5, ge=0)
    inbound_max_attempts: int = Field(default=10, ge=1)
    inbound_retry_base_seconds: float = Field(default=60.0, ge=0)
    inbound_retry_max_seconds: float = Field(default=6 * 3600.0, ge=0)
    inbound_lease_seconds: int = Field(default=300, ge=1)
    idempotency_ttl_hours: int = Field(default=24, ge=24)
    idempotency_lock_seconds: int = Field(default=300, ge=1)
    webhook_allow_private_targets: bool = False
    webhook_max_attempts: int = Field(default=8, ge=1)
    webhook_backoff_base_seconds: float = Field(default=10.0, ge=0)
    webhook_backoff_max_seconds: float = Field(default=3600.0, ge=0)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    webhook_lease_seconds: int = Field(default=60, ge=1)
    webhook_batch_size: int = Field(default=100, ge=1, le=1000)
    webhook_concurrency: int = Field(default=10, ge=1, le=100)

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        return log_level(value)

    @field_validator("audit_checkpoint_dir")
    @classmethod
    def _checkpoints_signed(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value and not info.data.get("audit_checkpoint_key"):
            raise ValueError("checkpoints are signed: set RJ_AUDIT_CHECKPOINT_KEY too")
        return value

    @field_validator("cors_origins", "jwt_algorithms", "referral_incident_types", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value


def server_processes(settings: Settings) -> int:
    """How many server processes `serve` runs."""
    if settings.workers:
        return settings.workers
    if settings.database_url.startswith("sqlite"):
        return 1
    return max(1, min(os.cpu_count() or 1, 8))


def timed_work_in_server(settings: Settings) -> bool:
    """Whether `serve` runs the timed work itself (see `Settings.timed_work`)."""
    if settings.timed_work == "auto":
        return settings.database_url.startswith("sqlite")
    return settings.timed_work == "in-server"


@lru_cache
def get_settings() -> Settings:
    """The one settings instance of the process."""
    return Settings()
