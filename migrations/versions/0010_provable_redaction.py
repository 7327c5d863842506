"""provable redaction: only the retention purge's function may blank audit records

Revision ID: 0010_provable_redaction
Revises: 0009_client_lifecycle
"""

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy import text

import app.db
from app.audit.chain import content_hash, link_hash

revision: str = "0010_provable_redaction"
down_revision: str | Sequence[str] | None = "0009_client_lifecycle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Redacted records, and the purge records that name them: what verification reads of the trail
# beyond its walk, kept small (most records are neither).
INDEXES = (
    ("ix_audit_record_redacted", ["chain", "seq"], "redacted"),
    ("ix_audit_record_purges", ["id"], "action = 'retention.purged'"),
)

# The role that owns `audit_redact`, and the only one the audit table's trigger lets blank a
# record. It cannot log in and nobody is made a member: the application reaches it only by
# calling the function, which redacts nothing but what a lawful purge record names. Roles belong
# to the whole PostgreSQL cluster, so every database of the service shares it.
REDACTOR = "rj_audit_redactor"

CREATE_REDACTOR = f"""
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{REDACTOR}') THEN
    CREATE ROLE {REDACTOR} NOLOGIN;
  END IF;
EXCEPTION
  WHEN duplicate_object OR unique_violation THEN NULL;  -- made meanwhile by another database's migration
  WHEN insufficient_privilege THEN
    RAISE EXCEPTION 'the migration needs a role {REDACTOR} (NOLOGIN) and may not create it'
      USING HINT = 'as a superuser: CREATE ROLE {REDACTOR} NOLOGIN; then run the migration again '
                   'as a user with CREATEROLE, or as a superuser';
END $$
"""

# Blanking is allowed only to the function's owner, and only of content: never a record's place,
# hashes or what is kept of it, never unmarking, never a delete or truncate.
GUARD = f"""
CREATE OR REPLACE FUNCTION audit_record_refuse_change() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND current_user = '{REDACTOR}'
     AND NOT OLD.redacted AND NEW.redacted
     AND NEW.before IS NULL AND NEW.after IS NULL
     AND NEW.actor::jsonb = OLD.actor::jsonb || '{{"name": null}}'::jsonb
     AND (NEW.id, NEW.chain, NEW.seq, NEW.case_id, NEW.occurred_at, NEW.request_id, NEW.action,
          NEW.entity_type, NEW.entity_id, NEW.content_hash, NEW.prev_hash, NEW.hash)
         IS NOT DISTINCT FROM
         (OLD.id, OLD.chain, OLD.seq, OLD.case_id, OLD.occurred_at, OLD.request_id, OLD.action,
          OLD.entity_type, OLD.entity_id, OLD.content_hash, OLD.prev_hash, OLD.hash) THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'audit records cannot be changed or removed (%)', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql
"""

# The one way to redact: the purge appends its record first (`app.audit.redaction`), then calls
# this with the record's id. The same rules as `audit verify`, but for the period kept, which only
# the service's settings know (verification holds it to RJ_RETENTION_YEARS): anything else is
# refused and nothing changes.
REDACT = """
CREATE OR REPLACE FUNCTION audit_redact(purge_id bigint) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, {schema}, pg_temp
SET timezone = 'UTC'
AS $$
DECLARE
  p audit_record%ROWTYPE;
  c audit_record%ROWTYPE;
  target text;
  closings text[];
  years integer;
  closure_seq integer;
  listed integer;
  changed integer;
BEGIN
  SELECT * INTO p FROM audit_record WHERE id = purge_id;
  IF NOT FOUND OR p.action <> 'retention.purged' OR p.redacted OR p.chain <> 'global' THEN
    RAISE EXCEPTION 'audit record % is not a retention purge record', purge_id
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF p.entity_type = 'case' THEN
    target := p.entity_id;
    closings := ARRAY['case.close', 'case.decline'];
    IF NOT EXISTS (
      SELECT 1 FROM rj_case
      WHERE id = CASE WHEN p.entity_id ~ '^[0-9a-f-]{{36}}$' THEN p.entity_id::uuid END
        AND state = 'closed' AND NOT legal_hold) THEN
      RAISE EXCEPTION 'case % is not closed, or is held', p.entity_id USING ERRCODE = 'insufficient_privilege';
    END IF;
  ELSIF p.entity_type = 'concern' THEN
    target := 'global';
    closings := ARRAY['concern.acknowledged'];
  ELSE
    RAISE EXCEPTION 'the retention purge never redacts a %', p.entity_type
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  years := CASE WHEN p.after ->> 'retentionYears' ~ '^[0-9]{{1,4}}$'
                THEN (p.after ->> 'retentionYears')::int END;
  IF years IS NULL OR years < 1 THEN
    RAISE EXCEPTION 'purge record % gives no retention period', purge_id USING ERRCODE = 'insufficient_privilege';
  END IF;
  closure_seq := CASE WHEN p.after -> 'closure' ->> 0 ~ '^[0-9]{{1,9}}$'
                      THEN (p.after -> 'closure' ->> 0)::int END;
  SELECT * INTO c FROM audit_record WHERE chain = target AND seq = closure_seq;
  IF NOT FOUND OR NOT (c.action = ANY (closings))
     OR c.content_hash IS DISTINCT FROM p.after -> 'closure' ->> 1
     OR (p.entity_type = 'concern' AND c.entity_id IS DISTINCT FROM p.entity_id) THEN
    RAISE EXCEPTION 'purge record % names no closing record of the %', purge_id, p.entity_type
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF p.entity_type = 'case' AND EXISTS (
    SELECT 1 FROM audit_record WHERE chain = target AND seq > c.seq AND action = 'case.reopen') THEN
    RAISE EXCEPTION 'case % was reopened after the closing purge record % names', target, purge_id
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF c.occurred_at > p.occurred_at - make_interval(years => years) THEN
    RAISE EXCEPTION 'the % of purge record % is within retention', p.entity_type, purge_id
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF json_typeof(p.after -> 'redacted') IS DISTINCT FROM 'array' THEN
    RAISE EXCEPTION 'purge record % names no records', purge_id USING ERRCODE = 'insufficient_privilege';
  END IF;
  listed := json_array_length(p.after -> 'redacted');
  UPDATE audit_record r
     SET actor = (r.actor::jsonb || '{{"name": null}}'::jsonb)::json, before = NULL, after = NULL,
         redacted = true
    FROM json_array_elements(p.after -> 'redacted') AS e(value)
   WHERE r.chain = target AND r.seq = (e.value ->> 0)::int AND r.content_hash = e.value ->> 1
     AND NOT r.redacted
     AND (p.entity_type = 'case' OR (r.entity_type = 'concern' AND r.entity_id = p.entity_id));
  GET DIAGNOSTICS changed = ROW_COUNT;
  IF changed <> listed THEN
    RAISE EXCEPTION 'purge record % names % records, of which % can be redacted', purge_id, listed, changed
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN changed;
END;
$$
"""

# Ownership passes to the role only through membership; a migrating user who is not a superuser
# is a member just for that, and no longer once it is done.
OWN = f"""
DO $$
DECLARE
  lent boolean := NOT pg_has_role(current_user, '{REDACTOR}', 'MEMBER');
BEGIN
  IF lent THEN
    GRANT {REDACTOR} TO CURRENT_USER;
  END IF;
  ALTER FUNCTION audit_redact(bigint) OWNER TO {REDACTOR};
  IF lent THEN
    REVOKE {REDACTOR} FROM CURRENT_USER;
  END IF;
END $$
"""

GRANTS = (
    f"GRANT SELECT ON audit_record, rj_case TO {REDACTOR}",
    f"GRANT UPDATE (actor, before, after, redacted) ON audit_record TO {REDACTOR}",
)

# What the guard allowed before: blanking in any transaction that set rj.audit_redaction.
OLD_GUARD = """
CREATE OR REPLACE FUNCTION audit_record_refuse_change() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND current_setting('rj.audit_redaction', true) = 'on'
     AND NEW.id = OLD.id AND NEW.chain = OLD.chain AND NEW.seq = OLD.seq
     AND NEW.content_hash = OLD.content_hash AND NEW.prev_hash = OLD.prev_hash
     AND NEW.hash = OLD.hash AND NEW.redacted THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'audit records cannot be changed or removed (%)', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql
"""


# Purges made before this revision blanked records without naming them. Each is restated: a
# purge record in today's form, naming the records its case (or concern) has redacted and its
# closing record, appended now, with `restates` giving the original's id. A redaction no purge
# record accounts for is not restated, and fails verification as it should.
AUDIT = sa.table(
    "audit_record",
    sa.column("chain", sa.String),
    sa.column("seq", sa.Integer),
    sa.column("case_id", sa.Uuid),
    sa.column("occurred_at", app.db.UTCDateTime),
    sa.column("request_id", sa.String),
    sa.column("actor", sa.JSON),
    sa.column("action", sa.String),
    sa.column("entity_type", sa.String),
    sa.column("entity_id", sa.String),
    sa.column("before", sa.JSON),
    sa.column("after", sa.JSON),
    sa.column("content_hash", sa.String),
    sa.column("prev_hash", sa.String),
    sa.column("hash", sa.String),
    sa.column("redacted", sa.Boolean),
)
CLOSINGS = {"case": ("case.close", "case.decline"), "concern": ("concern.acknowledged",)}
SYSTEM_ACTOR = {"clientId": None, "name": "rj-casework", "role": "admin", "repId": None}


def _restatement(bind: Any, entity_type: str, entity_id: str, after: dict[str, Any]) -> dict[str, Any] | None:
    chain = entity_id if entity_type == "case" else "global"
    records = bind.execute(
        text(
            "SELECT seq, content_hash, action, redacted, entity_type, entity_id FROM audit_record "
            "WHERE chain = :chain ORDER BY seq"
        ),
        {"chain": chain},
    ).all()
    if entity_type != "case":
        records = [r for r in records if (r.entity_type, r.entity_id) == (entity_type, entity_id)]
    ends = [r for r in records if r.action in CLOSINGS[entity_type] or r.action == "case.reopen"]
    redacted = [[r.seq, r.content_hash] for r in records if r.redacted]
    if not redacted or not ends or ends[-1].action == "case.reopen":
        return None
    return {**after, "closure": [ends[-1].seq, ends[-1].content_hash], "redacted": redacted}


def _restate_legacy_purges() -> None:
    bind = op.get_bind()
    purges = bind.execute(
        text(
            "SELECT id, entity_type, entity_id, after FROM audit_record "
            "WHERE action = 'retention.purged' AND NOT redacted ORDER BY id"
        )
    ).all()
    legacy = []
    for purge in purges:
        after = json.loads(purge.after) if isinstance(purge.after, str) else purge.after
        if isinstance(after, dict) and "redacted" not in after and purge.entity_type in CLOSINGS:
            legacy.append((purge, after))
    if not legacy:
        return
    lock = " FOR UPDATE" if bind.dialect.name == "postgresql" else ""
    head = bind.execute(text(f"SELECT seq, hash FROM audit_chain_head WHERE chain = 'global'{lock}")).one()
    seq, prev = head.seq, head.hash
    for purge, after in legacy:
        restated = _restatement(bind, purge.entity_type, purge.entity_id, after)
        if restated is None:
            continue
        seq += 1
        values: dict[str, Any] = {
            "chain": "global",
            "seq": seq,
            "case_id": None,
            "occurred_at": datetime.now(UTC),
            "request_id": None,
            "actor": SYSTEM_ACTOR,
            "action": "retention.purged",
            "entity_type": purge.entity_type,
            "entity_id": purge.entity_id,
            "before": None,
            "after": {**restated, "restates": purge.id},
            "prev_hash": prev,
            "redacted": False,
        }
        values["content_hash"] = content_hash(values)
        values["hash"] = prev = link_hash("global", seq, prev, values["content_hash"])
        bind.execute(AUDIT.insert().values(**values))
    bind.execute(
        text("UPDATE audit_chain_head SET seq = :seq, hash = :hash WHERE chain = 'global'"),
        {"seq": seq, "hash": prev},
    )


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def upgrade() -> None:
    _restate_legacy_purges()
    if op.get_context().dialect.name != "postgresql":
        for name, columns, where in INDEXES:
            op.create_index(name, "audit_record", columns, unique=False, sqlite_where=text(where))
        return
    schema = op.get_bind().exec_driver_sql("SELECT current_schema()").scalar_one()
    op.execute(CREATE_REDACTOR)
    op.execute(GUARD)
    op.execute(REDACT.format(schema=_quoted(schema)))
    op.execute(OWN)
    for grant in GRANTS:
        op.execute(grant)
    # Built CONCURRENTLY, outside a transaction, so that the trail can still be written meanwhile
    # (as 0007's indexes are; a build cut short is dropped and built again).
    with op.get_context().autocommit_block():
        for name, columns, where in INDEXES:
            op.drop_index(name, table_name="audit_record", if_exists=True, postgresql_concurrently=True)
            op.create_index(
                name,
                "audit_record",
                columns,
                unique=False,
                postgresql_concurrently=True,
                postgresql_where=text(where),
            )


def downgrade() -> None:
    for name, _columns, _where in reversed(INDEXES):
        op.drop_index(name, table_name="audit_record")
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION IF EXISTS audit_redact(bigint)")
    op.execute(OLD_GUARD)
    op.execute(f"REVOKE ALL ON audit_record, rj_case FROM {REDACTOR}")
    # The role stays: other databases of the cluster may still use it.
