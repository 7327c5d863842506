"""The benchmark's own arithmetic: which wrk latency figures can describe their point."""

from typing import Any

from bench.runner import latency_consistent


def _point(mean_ms: float, requests: int, clients: int, seconds: float) -> dict[str, Any]:
    return {
        "latency_us": {"mean": mean_ms * 1000},
        "requests": requests,
        "concurrency": clients,
        "duration_us": seconds * 1e6,
    }


def test_figures_a_real_point_can_have() -> None:
    # 8 clients busy all along: 16,000 requests of 5 ms each in 10 s.
    assert latency_consistent(_point(5.0, 16_000, 8, 10.0))
    # fewer requests, or shorter ones, only leave the clients idle part of the time
    assert latency_consistent(_point(2.0, 16_000, 8, 10.0))
    # wrk's own figures run a little over the bound in ordinary points (a rep's day list at one
    # client in the 21:50 run: 1.36 times)
    assert latency_consistent(_point(1.36, 10_000, 1, 10.0))


def test_figures_no_point_can_have() -> None:
    # The 21:50 run's point at 8 clients: 16,211 requests averaging 199.6 ms in 12.4 s would
    # have kept 8 clients waiting 3,235 s.
    assert not latency_consistent(_point(199.553, 16_211, 8, 12.439))
    # the same run's point at 32 clients: 620 s of waiting in 339
    assert not latency_consistent(_point(36.8415, 16_850, 32, 10.6))
