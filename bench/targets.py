"""The performance targets, judged on one run's results: each with what the run measured and
whether it is met (None where the run did not measure it, e.g. no point at 32 clients, or a
data set smaller than the national one)."""

from typing import Any

# The endpoints whose p99 at 32 clients must be under 50 ms (the pages as served, with views kept;
# the moves and case reads with API keys and with JWTs).
P99_ENDPOINTS = (
    "transitions",
    "transitions_jwt",
    "referrals",
    "case_read",
    "case_read_jwt",
    "rep_tasks",
    "case_list",
)
P99_CLIENTS = 32
P99_LIMIT_MS = 50.0
# A search of cases by a name that matches a handful in the caller's caseload: p99 under 100 ms at
# 8 clients, on the national data set (not judged on a smaller one).
SEARCH_ENDPOINT = "case_search"
SEARCH_CLIENTS = 8
SEARCH_P99_MS = 100.0
NATIONAL_CASES = 300_000
# A rep's day list: p50 under 10 ms at every concurrency up to 32 clients.
DAY_LIST_P50_MS = 10.0
# The moves' best throughput, with API keys and with JWTs: at least this share of L and of the
# bare reference's best (each the results' figure named here; None where not measured).
RATIO_TO_LIMIT = 0.38
RATIO_TO_BARE = 0.90
MOVES = {"transition_best_rps": "with API keys", "jwt_transition_best_rps": "with JWTs"}
# The reports, for one prison and for the whole estate over a year: p95 under this at every
# concurrency measured.
REPORT_ENDPOINTS = (
    "report_summary_prison",
    "report_summary_estate",
    "report_outcomes_prison",
    "report_outcomes_estate",
)
REPORT_P95_MS = 2000.0
VERIFY_RECORDS = 3_000_000
VERIFY_SECONDS = 30.0
MEMORY_MB = 200


def _points(results: dict[str, Any], name: str) -> dict[int, dict[str, Any]]:
    """An endpoint's points by concurrency (none if it was not measured)."""
    for endpoint in results["endpoints"]:
        if endpoint["name"] == name:
            return {r["concurrency"]: r for r in endpoint["results"]}
    return {}


def _label(results: dict[str, Any], name: str) -> str:
    """The endpoint's label, or its name when the run left it out (`bench/run --only`)."""
    return str(next((e["label"] for e in results["endpoints"] if e["name"] == name), name))


def _ms(point: dict[str, Any], figure: str) -> float:
    return float(point["latency_us"][figure]) / 1000


def _target(target: str, value: str, met: bool | None) -> dict[str, Any]:
    return {"target": target, "value": value, "met": met}


def judge(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with this run's figure for it and whether it is met."""
    judged = []
    limit, bare = results["limit"]["tps"], results["bare_best_rps"]
    for figure, how in MOVES.items():
        best = results.get(figure)
        judged += [
            _target(
                f"transition throughput at least {RATIO_TO_LIMIT:.0%} of L, {how}",
                "not measured"
                if best is None
                else f"{best:,.0f} req/s against L = {limit:,.0f} tps: {best / limit:.1%}",
                None if best is None else best / limit >= RATIO_TO_LIMIT,
            ),
            _target(
                f"transitions at least {RATIO_TO_BARE:.0%} of the bare FastAPI + asyncpg reference, "
                f"at best, {how}",
                "not measured"
                if best is None
                else f"{best:,.0f} against {bare:,.0f} req/s: {best / bare:.1%}",
                None if best is None else best / bare >= RATIO_TO_BARE,
            ),
        ]
    for name in P99_ENDPOINTS:
        point = _points(results, name).get(P99_CLIENTS)
        judged.append(
            _target(
                f"p99 under {P99_LIMIT_MS:.0f} ms at {P99_CLIENTS} clients: {_label(results, name)}",
                "not measured" if point is None else f"{_ms(point, 'p99'):.1f} ms",
                None if point is None else _ms(point, "p99") < P99_LIMIT_MS,
            )
        )
    point = _points(results, SEARCH_ENDPOINT).get(SEARCH_CLIENTS)
    if results.get("dataset", {}).get("rj_case", 0) < NATIONAL_CASES:
        point = None
    search = _label(results, SEARCH_ENDPOINT)
    judged.append(
        _target(
            f"p99 under {SEARCH_P99_MS:.0f} ms at {SEARCH_CLIENTS} clients, national data set: {search}",
            "not measured" if point is None else f"{_ms(point, 'p99'):.1f} ms",
            None if point is None else _ms(point, "p99") < SEARCH_P99_MS,
        )
    )
    day_list = {c: p for c, p in sorted(_points(results, "rep_tasks").items()) if c <= P99_CLIENTS}
    judged.append(
        _target(
            f"a rep's task list under {DAY_LIST_P50_MS:.0f} ms p50, up to {P99_CLIENTS} clients",
            " / ".join(f"{_ms(p, 'p50'):.1f}" for p in day_list.values())
            + f" ms at {' / '.join(str(c) for c in day_list)} clients"
            if day_list
            else "not measured",
            all(_ms(p, "p50") < DAY_LIST_P50_MS for p in day_list.values()) if day_list else None,
        )
    )
    for name in REPORT_ENDPOINTS:
        points = _points(results, name)
        judged.append(
            _target(
                f"p95 under {REPORT_P95_MS / 1000:.0f} s: {_label(results, name)}",
                " / ".join(f"{_ms(p, 'p95'):.0f}" for p in points.values())
                + f" ms at {' / '.join(str(c) for c in points)} clients"
                if points
                else "not measured",
                all(_ms(p, "p95") < REPORT_P95_MS for p in points.values()) if points else None,
            )
        )
    verify = results["verify"]
    judged.append(
        _target(
            f"audit verification of {VERIFY_RECORDS:,} records under {VERIFY_SECONDS:.0f} s",
            f"{verify['checked']:,} records in {verify['seconds']:.1f} s, valid: {verify['valid']}",
            None
            if verify["checked"] < VERIFY_RECORDS
            else bool(verify["valid"]) and verify["seconds"] < VERIFY_SECONDS,
        )
    )
    rss = [m["rssMB"] for m in results["memory"] + results.get("memory_after_verify", [])]
    judged.append(
        _target(
            f"memory under {MEMORY_MB} MB per worker after the run",
            f"at most {max(rss)} MB" if rss else "not measured",
            max(rss) < MEMORY_MB if rss else None,
        )
    )
    points = [r for e in results["endpoints"] for r in e["results"]]
    failed = sum(r["other"] + sum(r["errors"].values()) for r in points)
    audits = [r["audit"] for r in points if r.get("audit")]
    unaudited = sum(a["ok"] - a["audited"] for a in audits)
    judged.append(
        _target(
            "no error responses, and every 2xx write audited",
            f"{failed:,} non-2xx; {unaudited:,} 2xx writes without their audit record",
            failed == 0 and unaudited == 0,
        )
    )
    return judged


def markdown(judged: list[dict[str, Any]]) -> list[str]:
    """The targets as a Markdown table."""
    verdict = {True: "met", False: "**not met**", None: "not measured"}
    return [
        "| target | this run | |",
        "| --- | --- | --- |",
        *(f"| {t['target']} | {t['value']} | {verdict[t['met']]} |" for t in judged),
    ]
