"""The database layer every domain stands on.

- `rows`: column types and rows made outside the ORM;
- `driver`: PostgreSQL's own driver connection and the statements built for it;
- `handles`: `Conn`, what code written for both backends works on, and statements for either;
- `database`: the engine, sessions, driver connections and each request's unit of work.
"""

from app.db.database import READ_ONLY_OPTION, BeforeCommit, Database, Unit, is_sqlite, make_engine
from app.db.driver import (
    DriverConnection,
    DriverCursor,
    DriverCursorFactory,
    DriverRow,
    DriverStatement,
    driver_statement,
    driver_transaction,
    on_driver,
)
from app.db.handles import (
    INSERTS,
    Conn,
    changed,
    column,
    dialect_insert,
    dialect_name,
    fetch_page,
    on_postgres,
    on_sqlite,
    per_dialect,
    rowcount,
    scalar,
)
from app.db.rows import UTCDateTime, new_id, new_row, plain_row, read_row

__all__ = [
    "INSERTS",
    "READ_ONLY_OPTION",
    "BeforeCommit",
    "Conn",
    "Database",
    "DriverConnection",
    "DriverCursor",
    "DriverCursorFactory",
    "DriverRow",
    "DriverStatement",
    "UTCDateTime",
    "Unit",
    "changed",
    "column",
    "dialect_insert",
    "dialect_name",
    "driver_statement",
    "driver_transaction",
    "fetch_page",
    "is_sqlite",
    "make_engine",
    "new_id",
    "new_row",
    "on_driver",
    "on_postgres",
    "on_sqlite",
    "per_dialect",
    "plain_row",
    "read_row",
    "rowcount",
    "scalar",
]
