"""One history again: the four revisions written side by side on 0001 meet here

Revision ID: 0006_one_history
Revises: 0002_mediation, 0003_integration, 0004_safeguarding, 0005_performance
"""

from collections.abc import Sequence

revision: str = "0006_one_history"
down_revision: str | Sequence[str] | None = (
    "0002_mediation",
    "0003_integration",
    "0004_safeguarding",
    "0005_performance",
)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to change: the branches touch separate tables and columns."""


def downgrade() -> None:
    """Nothing to undo."""
