"""Exponential back-off with jitter, for every retry the service makes."""

import random


def backoff_seconds(attempt: int, *, base: float, cap: float) -> float:
    """How long to wait before retry number `attempt` (1 for the first retry).

    The delay doubles with each attempt up to `cap`; the wait is drawn between half the delay
    and the delay ("equal jitter"), so that many retries started together spread out.
    """
    delay = min(cap, base * (2 ** max(0, attempt - 1)))
    return random.uniform(delay / 2, delay)  # noqa: S311 - spreading retries, not secrecy
