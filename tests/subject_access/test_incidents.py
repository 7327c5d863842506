"""Subject access covers the incidents kept about a prisoner for the outcomes report."""

from datetime import UTC, datetime

from app.db import Database
from app.models.incidents import IncidentRecord
from tests.support import Api

PRN = "Z9999ZZ"


async def test_a_prisoners_incidents_are_in_their_document(api: Api, db: Database) -> None:
    at = datetime(2026, 5, 1, 10, tzinfo=UTC)
    async with db.transaction() as session:
        session.add(
            IncidentRecord(
                report_key="MDI-123",
                prisoner_number=PRN,
                occurred_at=at,
                prison_id="MDI",
                family="violence",
                part="victim",
                received_at=at,
            )
        )
    r = await api.client.get(f"/subject-access-request?prn={PRN}", headers=api.keys.admin.headers)
    assert r.status_code == 200, r.text
    assert r.json()["content"]["incidents"] == [
        {
            "reportKey": "MDI-123",
            "occurredAt": "2026-05-01T10:00:00.000000+00:00",
            "prisonId": "MDI",
            "family": "violence",
            "part": "victim",
            "type": None,
        }
    ]
