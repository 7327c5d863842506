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

# A rep's day list names each task's case by reference, and the party to see by name and place:
# read from these indexes alone, the list does not visit a row of either table.
INDEXES = (
    ("ix_case_id_reference", "rj_case", ["id", "reference"]),
    ("ix_party_id_names", "party", ["id", "first_name", "last_name", "location"]),
)


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        for name, table, columns in INDEXES:
            op.create_index(name, table, columns, unique=False)
        return
    # Built CONCURRENTLY, outside a transaction, so that cases and parties can still be written
    # while the indexes are built. A build cut short leaves an invalid index of the same name, and
    # the migration unrecorded: it is dropped and built again when the migration runs again.
    with op.get_context().autocommit_block():
        for name, table, columns in INDEXES:
            op.drop_index(name, table_name=table, if_exists=True, postgresql_concurrently=True)
            op.create_index(name, table, columns, unique=False, postgresql_concurrently=True)


def downgrade() -> None:
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
