"""a party may leave a case; a cancelled task says why; day lists see the case's state

Revision ID: 0012_ending_work
Revises: 0011_responsibility
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import app.db

revision: str = "0012_ending_work"
down_revision: str | Sequence[str] | None = "0011_responsibility"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A rep's day list leaves out the tasks of closed cases: it reads each task's case reference and
# state from this index alone, as it read the reference from the one it replaces.
NEW_INDEX = ("ix_case_id_reference_state", ["id", "reference", "state"])
OLD_INDEX = ("ix_case_id_reference", ["id", "reference"])


def upgrade() -> None:
    _replace_index(OLD_INDEX, NEW_INDEX)
    op.add_column("party", sa.Column("participating", sa.Boolean(), server_default=sa.true(), nullable=False))
    op.add_column("task", sa.Column("cancel_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    op.add_column("task", sa.Column("cancelled_at", app.db.UTCDateTime(), nullable=True))


def downgrade() -> None:
    # Dropped in place (SQLite has ALTER TABLE ... DROP COLUMN): a table rebuilt by batch mode
    # would be dropped first, which the rows referring to a party or task forbid.
    op.drop_column("task", "cancelled_at")
    op.drop_column("task", "cancel_reason")
    op.drop_column("party", "participating")
    _replace_index(NEW_INDEX, OLD_INDEX)


def _replace_index(old: tuple[str, list[str]], new: tuple[str, list[str]]) -> None:
    if op.get_context().dialect.name != "postgresql":
        op.drop_index(old[0], table_name="rj_case")
        op.create_index(new[0], "rj_case", new[1], unique=False)
        return
    # Built CONCURRENTLY, outside a transaction and before anything else, so that cases can still
    # be written meanwhile and a build cut short leaves nothing recorded: run again, the
    # migration drops what it left and builds it again (as 0007's indexes are).
    with op.get_context().autocommit_block():
        op.drop_index(new[0], table_name="rj_case", if_exists=True, postgresql_concurrently=True)
        op.create_index(new[0], "rj_case", new[1], unique=False, postgresql_concurrently=True)
        op.drop_index(old[0], table_name="rj_case", if_exists=True, postgresql_concurrently=True)
