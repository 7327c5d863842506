"""Service configuration, read from `RJ_*` environment variables (or `.env`)."""

import os
from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting the service reads; see the README for the table."""

    model_config = SettingsConfigDict(env_prefix="RJ_", env_file=".env", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./rj.db"
    log_level: str = "INFO"
    base_url: str = "http://127.0.0.1:8000"
    wellbeing_check_offsets_hours: list[float] = Field(default=[4, 24, 168, 672])
    rep_max_pause_hours: int = 72
    page_size_default: int = 20
    page_size_max: int = 100
    max_body_bytes: int = 1_048_576
    docs_enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8000
    # uvicorn worker processes; unset: one per core on PostgreSQL (at most 8), one on SQLite.
    workers: int | None = None
    db_pool_size: int = 10
    # A ping before each use of a pooled connection costs a round trip per request; without it
    # a connection broken by a database restart fails one request and is then replaced.
    db_pool_pre_ping: bool = False
    # How long a process trusts a bearer key it has already looked up (0: look it up on every
    # request). A deactivated key stops working everywhere within this many seconds.
    auth_cache_seconds: float = 5.0
    sqlite_busy_timeout_ms: int = 30_000
    non_associations_url: str | None = None
    non_associations_token: str | None = None
    incident_reporting_url: str | None = None
    incident_reporting_token: str | None = None


def server_workers(settings: Settings) -> int:
    """How many worker processes `serve` runs."""
    if settings.workers:
        return settings.workers
    if settings.database_url.startswith("sqlite"):
        return 1
    return max(1, min(os.cpu_count() or 1, 8))


@lru_cache
def get_settings() -> Settings:
    """The one settings instance of the process."""
    return Settings()
