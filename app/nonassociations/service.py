"""Asking the prison's non-associations service who must be kept apart."""

import logging

import httpx

from app.config import get_settings
from app.workflows.case_workflow import KeepApart

log = logging.getLogger(__name__)


async def keep_apart_between(group_a: list[str], group_b: list[str]) -> KeepApart:
    """Whether an open non-association links anyone in `group_a` with anyone in `group_b`.

    `unknown` when the service is not configured or cannot be reached: the practitioner
    must then check by hand and say so.
    """
    settings = get_settings()
    numbers = sorted(set(group_a) | set(group_b))
    if not settings.non_associations_url:
        return KeepApart(status="unknown", detail="the non-associations service is not configured")
    if len(numbers) < 2:
        return KeepApart(status="clear")
    headers = {"Accept": "application/json"}
    if settings.non_associations_token:
        headers["Authorization"] = f"Bearer {settings.non_associations_token}"
    url = settings.non_associations_url.rstrip("/") + "/non-associations/between"
    try:
        async with httpx.AsyncClient(timeout=httpx.Timeout(5.0)) as client:
            response = await client.post(
                url,
                json=numbers,
                params={"includeOpen": "true", "includeClosed": "false"},
                headers=headers,
            )
            response.raise_for_status()
            items = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("non-associations service unavailable: %s", exc)
        return KeepApart(status="unknown", detail="the non-associations service could not be reached")
    a, b = set(group_a), set(group_b)
    for item in items if isinstance(items, list) else []:
        first, second = item.get("firstPrisonerNumber"), item.get("secondPrisonerNumber")
        if item.get("isClosed") or first == second:
            continue
        if (first in a and second in b) or (first in b and second in a):
            reason = item.get("reason") or "unspecified reason"
            return KeepApart(status="conflict", detail=f"{first} and {second}: {reason}")
    return KeepApart(status="clear")
