"""indexes that cover what a list of tasks reads of each task's case and party

Revision ID: 0007_task_list_indexes
Revises: 0006_one_history
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007_task_list_indexes"
down_revision: str | Sequence[str] | None = "0006_one_history"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A rep's day list names each task's case by reference, and the party to see by name and
    # place: read from these indexes alone, the list does not visit a row of either table.
    op.create_index("ix_case_id_reference", "rj_case", ["id", "reference"], unique=False)
    op.create_index("ix_party_id_names", "party", ["id", "first_name", "last_name", "location"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_party_id_names", table_name="party")
    op.drop_index("ix_case_id_reference", table_name="rj_case")
