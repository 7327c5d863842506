"""Request counters in Prometheus text format (per process)."""

from collections import defaultdict
from threading import Lock

_lock = Lock()
_requests: dict[tuple[str, str, int], int] = defaultdict(int)
_seconds: dict[tuple[str, str], float] = defaultdict(float)
_counts: dict[tuple[str, str], int] = defaultdict(int)
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_histogram: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * (len(_BUCKETS) + 1))


def observe(method: str, route: str, status: int, seconds: float) -> None:
    """Count one finished request."""
    with _lock:
        _requests[(method, route, status)] += 1
        _seconds[(method, route)] += seconds
        _counts[(method, route)] += 1
        buckets = _histogram[(method, route)]
        for i, bound in enumerate(_BUCKETS):
            if seconds <= bound:
                buckets[i] += 1
                break
        else:
            buckets[-1] += 1


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def render() -> str:
    """The metrics as Prometheus exposition text."""
    lines = [
        "# HELP rj_http_requests_total HTTP requests handled, by method, route and status.",
        "# TYPE rj_http_requests_total counter",
    ]
    with _lock:
        for (method, route, status), n in sorted(_requests.items()):
            lines.append(
                f'rj_http_requests_total{{method="{method}",route="{_label(route)}",status="{status}"}} {n}'
            )
        lines += [
            "# HELP rj_http_request_duration_seconds Time to handle a request.",
            "# TYPE rj_http_request_duration_seconds histogram",
        ]
        for (method, route), buckets in sorted(_histogram.items()):
            labels = f'method="{method}",route="{_label(route)}"'
            running = 0
            for bound, n in zip(_BUCKETS, buckets, strict=False):
                running += n
                lines.append(f'rj_http_request_duration_seconds_bucket{{{labels},le="{bound}"}} {running}')
            running += buckets[-1]
            lines.append(f'rj_http_request_duration_seconds_bucket{{{labels},le="+Inf"}} {running}')
            lines.append(f"rj_http_request_duration_seconds_sum{{{labels}}} {_seconds[(method, route)]:.6f}")
            lines.append(f"rj_http_request_duration_seconds_count{{{labels}}} {_counts[(method, route)]}")
    return "\n".join(lines) + "\n"
