"""indexes for the case lists; audit chains ordered by code point

Revision ID: 0005_performance
Revises: 0001
Create Date: 2026-11-23 13:15:57.268158
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0005_performance'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The case lists filter by state (and prison) and show the most recently changed first:
    # these indexes serve both the filter and the order, so a page reads only its own rows.
    with op.batch_alter_table('rj_case', schema=None) as batch_op:
        batch_op.drop_index('ix_case_prison_state')
        batch_op.drop_index('ix_rj_case_state')
        batch_op.create_index('ix_case_prison_state_updated', ['prison_id', 'state', 'updated_at', 'id'], unique=False)
        batch_op.create_index('ix_case_prison_updated', ['prison_id', 'updated_at', 'id'], unique=False)
        batch_op.create_index('ix_case_state_updated', ['state', 'updated_at', 'id'], unique=False)
    # Audit verification merges the records, in (chain, seq) order, with the chains' heads in
    # code-point order; the chain column sorts that way whatever the database's collation.
    if op.get_bind().dialect.name == "postgresql":
        op.execute('ALTER TABLE audit_record ALTER COLUMN chain TYPE VARCHAR(40) COLLATE "C"')
        op.execute('ALTER TABLE audit_chain_head ALTER COLUMN chain TYPE VARCHAR(40) COLLATE "C"')
        # The (chain, seq) index also carries each record's links, so walking the chains in
        # order reads the index alone, never the scattered rows of a chain.
        op.execute(
            "ALTER TABLE audit_record DROP CONSTRAINT uq_audit_chain_seq, "
            "ADD CONSTRAINT uq_audit_chain_seq UNIQUE (chain, seq) INCLUDE (prev_hash, hash)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE audit_record DROP CONSTRAINT uq_audit_chain_seq, "
            "ADD CONSTRAINT uq_audit_chain_seq UNIQUE (chain, seq)"
        )
        op.execute('ALTER TABLE audit_chain_head ALTER COLUMN chain TYPE VARCHAR(40) COLLATE "default"')
        op.execute('ALTER TABLE audit_record ALTER COLUMN chain TYPE VARCHAR(40) COLLATE "default"')
    with op.batch_alter_table('rj_case', schema=None) as batch_op:
        batch_op.drop_index('ix_case_state_updated')
        batch_op.drop_index('ix_case_prison_updated')
        batch_op.drop_index('ix_case_prison_state_updated')
        batch_op.create_index('ix_rj_case_state', ['state'], unique=False)
        batch_op.create_index('ix_case_prison_state', ['prison_id', 'state'], unique=False)
