"""How the service's processes log: `RJ_LOG_LEVEL` for their own messages, in the server and in
the timed-work runner. The workflow library (`transitions`) notes every move it makes, three lines
at INFO per move, and the migration library (`alembic`) its set-up each time the schema is checked
at start-up; those are kept only when debugging."""

import logging

from app.config import log_level

# Libraries whose notes below WARNING are about their own workings, not the service's.
_QUIET_BELOW_DEBUG = ("transitions", "alembic")


def configure(level: str) -> None:
    """Log at `level` (a name such as INFO, in any case) to standard error."""
    try:
        name = log_level(level)
    except ValueError as refused:
        raise ValueError(f"RJ_LOG_LEVEL {refused}") from None
    numeric = logging.getLevelNamesMapping()[name]
    logging.basicConfig(level=numeric)
    quiet = numeric if numeric <= logging.DEBUG else max(numeric, logging.WARNING)
    for library in _QUIET_BELOW_DEBUG:
        logging.getLogger(library).setLevel(quiet)
