"""Fetching reports from the prison incident-reporting system: only from its configured address."""

import asyncio
import logging
from typing import Any

import httpx

from app.common.backoff import backoff_seconds
from app.config import get_settings

log = logging.getLogger(__name__)

MAX_WAIT_SECONDS = 30.0


class IncidentSystemError(Exception):
    """The report could not be had; `retryable` when trying later may work."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


def is_under(base: str, url: str) -> bool:
    """Whether `url` lies under the configured base URL (same origin, path below the base path)."""
    try:
        root, target = httpx.URL(base), httpx.URL(url)
    except httpx.InvalidURL:
        return False
    if target.userinfo or (target.scheme, target.host, target.port) != (root.scheme, root.host, root.port):
        return False
    if ".." in target.path.split("/"):
        return False
    prefix = root.path.rstrip("/") + "/"
    return target.path.startswith(prefix)


async def fetch_report(detail_url: str) -> dict[str, Any]:
    """The report at `detail_url`, retried with back-off while the system is down or slow."""
    settings = get_settings()
    base = settings.incident_reporting_url
    if not base:
        raise IncidentSystemError(
            "the incident-reporting system is not configured (RJ_INCIDENT_REPORTING_URL)", retryable=True
        )
    if not is_under(base, detail_url):
        raise IncidentSystemError(
            f"detailUrl {detail_url} is not under the incident-reporting system's address {base}; "
            "it was not fetched",
            retryable=False,
        )
    headers = {"Accept": "application/json"}
    if settings.incident_reporting_token:
        headers["Authorization"] = f"Bearer {settings.incident_reporting_token}"
    problem = "the incident-reporting system could not be reached"
    timeout = httpx.Timeout(settings.incident_reporting_timeout_seconds)
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
        for attempt in range(1, settings.incident_reporting_tries + 1):
            if attempt > 1:
                await asyncio.sleep(
                    backoff_seconds(
                        attempt - 1, base=settings.incident_reporting_backoff_seconds, cap=MAX_WAIT_SECONDS
                    )
                )
            try:
                response = await client.get(detail_url, headers=headers)
            except httpx.HTTPError as exc:
                problem = f"the incident-reporting system could not be reached ({type(exc).__name__})"
                log.warning("fetching %s, try %d: %s", detail_url, attempt, problem)
                continue
            if response.status_code == 200:
                return _json_object(response)
            problem = f"the incident-reporting system answered {response.status_code}"
            if response.status_code in (404, 410):
                raise IncidentSystemError(f"{problem}: it has no report at {detail_url}", retryable=False)
            if response.status_code in (401, 403):
                raise IncidentSystemError(f"{problem}: check RJ_INCIDENT_REPORTING_TOKEN", retryable=True)
            if response.status_code not in (408, 429) and response.status_code < 500:
                raise IncidentSystemError(problem, retryable=False)
            log.warning("fetching %s, try %d: %s", detail_url, attempt, problem)
    raise IncidentSystemError(f"{problem} (after {settings.incident_reporting_tries} tries)", retryable=True)


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise IncidentSystemError(
            "the incident-reporting system did not return a JSON report", retryable=False
        )
    return data
