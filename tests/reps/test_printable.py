"""The printable task list, rendered by headless Chromium from the real server to PDF: one A4 page
with every task on it and nothing a rep must not see."""

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from app import clock
from app.api.app import create_app
from app.config import Settings
from tests.mediation import case_with_rep, rep_key, tasks_of
from tests.standins.server import serve
from tests.support import Api, Key

NOW = datetime(2026, 3, 9, 7, 30, tzinfo=UTC)  # 07:30 on Monday 9 March in London: printing time
A4_POINTS = (595.28, 841.89)
RISK_NOTE = "Carries a blade in his left sock"


def _tool(name: str) -> str:
    """A command the test needs; CI must have it (`.ci/run` installs it), elsewhere the test skips."""
    found = shutil.which(name)
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail(f"{name} is not installed; .ci/run installs it")
    pytest.skip(f"{name} is not installed (apt-get install -y chromium poppler-utils)")


def _with_key(app: Any, key: Key) -> Any:
    """The app as a practitioner's browser reaches it: with their bearer key on every request."""

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = [(k, v) for k, v in scope["headers"] if k != b"authorization"]
            scope = {**scope, "headers": [*headers, (b"authorization", f"Bearer {key.token}".encode())]}
        await app(scope, receive, send)

    return wrapped


@contextmanager
def _printed(settings: Settings, key: Key, path: str) -> Iterator[tuple[Path, str]]:
    """Chromium prints `path` from the real server to PDF; yields the PDF and its text."""
    chromium, pdftotext = _tool("chromium"), _tool("pdftotext")
    with (
        tempfile.TemporaryDirectory() as tmp,
        serve(_with_key(create_app(settings), key), lifespan="on") as url,
    ):
        pdf = Path(tmp) / "list.pdf"
        subprocess.run(  # noqa: S603 - fixed arguments
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={tmp}/profile",
                f"--print-to-pdf={pdf}",
                "--no-pdf-header-footer",
                f"{url}{path}",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        text = subprocess.run(  # noqa: S603
            [pdftotext, "-raw", str(pdf), "-"], check=True, capture_output=True, text=True, timeout=60
        ).stdout
        keep = os.environ.get("RJ_KEEP_PRINTED_PDF")
        if keep:
            shutil.copy(pdf, keep)
        yield pdf, " ".join(text.split())


def _pages(pdf: Path) -> tuple[int, list[tuple[float, float]]]:
    """The page count and each page's /MediaBox size in points, read from the PDF itself."""
    data = pdf.read_bytes()
    counts = [int(m) for m in re.findall(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)", data, re.S)]
    counts += [int(m) for m in re.findall(rb"/Count\s+(\d+)[^>]*?/Type\s*/Pages\b", data, re.S)]
    boxes = [
        (float(x1) - float(x0), float(y1) - float(y0))
        for x0, y0, x1, y1 in re.findall(
            rb"/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*\]", data
        )
    ]
    assert counts, "no page tree in the PDF"
    return max(counts), boxes


def _assert_one_a4_page(pdf: Path) -> None:
    count, boxes = _pages(pdf)
    assert count == 1, f"{count} pages"
    assert boxes, "no MediaBox"
    for width, height in boxes:
        assert abs(width - A4_POINTS[0]) < 2 and abs(height - A4_POINTS[1]) < 2, (width, height)
    pdfinfo = shutil.which("pdfinfo")
    if pdfinfo:
        info = subprocess.run([pdfinfo, str(pdf)], check=True, capture_output=True, text=True).stdout  # noqa: S603
        assert re.search(r"^Pages:\s+1$", info, re.M), info


def _words(text: str) -> str:
    return " ".join(text.split())


class TestPrintableList:
    async def test_one_a4_page_with_every_task_and_no_risk_note(self, api: Api, settings: Settings) -> None:
        clock.freeze(NOW - timedelta(days=7))
        case, [rep] = await case_with_rep(api, state="shuttle_mediation")
        await api.patch(case["id"], riskNotes=RISK_NOTE)
        await api.must_fire(case["id"], "conclude", outcome="resolved")
        other, [other_rep] = await case_with_rep(
            api,
            state="follow_up",
            parties=[("C3456DE", "Ian", "Moss", "harmed"), ("D4567EF", "Joe", "Bell", "harmer")],
        )
        clock.freeze(NOW)
        r = await api.client.post(
            "/tasks",
            json={
                "caseId": case["id"],
                "kind": "shuttle_visit",
                "dueAt": (NOW + timedelta(hours=3)).isoformat(),
                "assignee": {"type": "rep", "id": rep["id"]},
                "partyId": case["parties"][1]["id"],
                "instructions": "Ask Marcus whether he will accept a letter from Dean.",
            },
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 201, r.text
        listed = await api.client.get(
            f"/reps/{rep['id']}/tasks?date=2026-03-09", headers=api.keys.practitioner.headers
        )
        items = listed.json()["tasks"]
        assert len(items) == 7  # two parties' checks of day 0, 1 and 7, and the shuttle visit
        with _printed(settings, api.keys.practitioner, f"/reps/{rep['id']}/tasks?date=2026-03-09") as (
            pdf,
            text,
        ):
            _assert_one_a4_page(pdf)
            assert f"Tasks for {rep['firstName']} {rep['lastName']}" in text
            assert "Monday 9 March 2026" in text
            for item in items:
                assert item["caseReference"] in text
                assert _words(item["whom"]) in text and item["where"] in text
                assert _words(item["what"])[:60] in text, item["what"]
            assert "OVERDUE" in text
            assert "Printed 09 Mar 2026 07:30." in text
            assert RISK_NOTE not in text and "blade" not in text
            for party in case["parties"] + other["parties"]:
                assert party["prisonerNumber"] not in text
            assert other["reference"] not in text and "Ian Moss" not in text
        assert (await tasks_of(api, other["id"], "wellbeing_check"))[0].assignee_id is not None
        assert other_rep["id"] != rep["id"]

    async def test_a_long_day_still_fits_one_page_and_says_what_is_left_off(
        self, api: Api, settings: Settings
    ) -> None:
        clock.freeze(NOW)
        long_name = ("Christopher-Alexander", "Montgomery-Fitzwilliam-Hargreaves")
        case, [rep] = await case_with_rep(
            api,
            state="referred",
            parties=[("C3456DE", *long_name, "harmed"), ("D4567EF", *long_name, "harmer")],
        )
        long_words = (
            "Go back to the second landing and sit with him for as long as he needs; listen first, then read "
            "out the answer from the other party slowly, twice, and write down exactly what he says in reply "
            "so that nothing is lost on the way back."
        )
        for n in range(15):
            r = await api.client.post(
                "/tasks",
                json={
                    "caseId": case["id"],
                    "kind": "shuttle_visit",
                    "dueAt": (NOW + timedelta(minutes=30 * n)).isoformat(),
                    "assignee": {"type": "rep", "id": rep["id"]},
                    "partyId": case["parties"][n % 2]["id"],
                    "instructions": f"Round {n + 1}. {long_words}",
                },
                headers=api.keys.practitioner.headers,
            )
            assert r.status_code == 201, r.text
        key = await rep_key(api, rep)
        with _printed(settings, key, "/reps/me/tasks?date=2026-03-09") as (pdf, text):
            _assert_one_a4_page(pdf)
            for n in range(12):
                assert f"Round {n + 1}." in text
            assert "Round 13." not in text
            assert "3 more tasks not on this sheet" in text
            assert "Christopher-" in text and "Fitzwi\u2026" in text  # the longest names, shortened
            assert "Printed 09 Mar 2026 07:30." in text  # the footer made it onto the page


class TestHtmlNegotiation:
    async def test_json_unless_html_is_preferred(self, api: Api) -> None:
        rep = await api.rep()
        h = api.keys.practitioner.headers
        r = await api.client.get(f"/reps/{rep['id']}/tasks", headers=h)
        assert r.headers["content-type"].startswith("application/json")
        r = await api.client.get(
            f"/reps/{rep['id']}/tasks", headers={**h, "Accept": "application/json, text/html;q=0.5"}
        )
        assert r.headers["content-type"].startswith("application/json")
        r = await api.client.get(
            f"/reps/{rep['id']}/tasks",
            headers={**h, "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
        )
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
        assert "@page { size: A4" in r.text
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "style-src 'sha256-" in csp and "unsafe-inline" not in csp
