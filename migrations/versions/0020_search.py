"""trigram indexes for searching cases (PostgreSQL)

Revision ID: 0020_search
Revises: 0019_incidents
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020_search"
down_revision: str | Sequence[str] | None = "0019_incidents"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What a search (`GET /cases?q=`) looks in, each by a GIN trigram index, which serves
# ILIKE '%text%'. A party's name is indexed whole, as the search writes it. SQLite has none of
# them: it searches by LIKE over the rows.
INDEXES = (
    ("ix_case_search_reference", "rj_case", "reference gin_trgm_ops"),
    ("ix_case_search_source_reference", "rj_case", "source_reference gin_trgm_ops"),
    ("ix_case_search_summary", "rj_case", "summary gin_trgm_ops"),
    ("ix_party_search_name", "party", "(first_name || ' ' || last_name) gin_trgm_ops"),
    ("ix_party_search_prisoner_number", "party", "prisoner_number gin_trgm_ops"),
)


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    # Built CONCURRENTLY, outside a transaction, so that cases and parties can still be written
    # while they are built; a build cut short is dropped and built again (see 0007).
    with op.get_context().autocommit_block():
        for name, table, expression in INDEXES:
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
            op.execute(f"CREATE INDEX CONCURRENTLY {name} ON {table} USING gin ({expression})")


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    for name, _table, _expression in reversed(INDEXES):
        op.execute(f"DROP INDEX IF EXISTS {name}")
    # The extension stays: other objects may have come to use it.
