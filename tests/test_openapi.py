"""The committed OpenAPI document is the one the code generates."""

from pathlib import Path

from app.openapi import render

COMMITTED = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"


class TestCommittedDocument:
    def test_matches_the_code(self) -> None:
        assert COMMITTED.read_text() == render(), (
            "openapi/openapi.json is stale: run `rj-casework openapi` and commit the result"
        )
