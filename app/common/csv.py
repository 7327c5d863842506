"""CSV as the service writes it, made safe to open in a spreadsheet (OWASP: CSV Injection)."""

import csv
import io
from collections.abc import Iterable
from typing import Any

# What makes a spreadsheet take a cell as a formula or a command: =, +, -, @, tab and carriage
# return (OWASP), and the full-width =, +, - and @, which some spreadsheets fold to the ASCII ones.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def cell(value: Any) -> Any:
    """A value as a cell: text a spreadsheet would run gets a leading single quote, so it is shown
    as the text it is; numbers the service wrote stay numbers, negative ones included."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return "" if value is None else value


def write(rows: Iterable[Iterable[Any]]) -> str:
    """Rows as CSV text: every text cell quoted (so a separator inside it cannot start a new cell
    in a spreadsheet that splits on another character) and neutralised; numbers bare."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_NONNUMERIC)
    for row in rows:
        writer.writerow([cell(value) for value in row])
    return out.getvalue()
