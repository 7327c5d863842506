"""JSON written by PostgreSQL as the service's models write it: for views read in bulk (pages of
cases, a rep's day list), sent as PostgreSQL wrote them without a model built per row in Python.
Each piece is SQL text over columns named by the caller.

Two ways of writing: `json_object` and `json_array` build JSON values, which nest and take any
SQL value; `json_text_object` and `json_text_agg` join JSON texts, for the rows of a long list,
where json_build_object, working out each value's type on every row, costs most of the
statement. Their members are JSON texts: `json_value`, `json_quoted` or `json_flag`."""

from pydantic.alias_generators import to_camel


def json_object(**members: str) -> str:
    """A JSON object of SQL expressions, its members camelCased in `members`' order."""
    return "json_build_object(" + ", ".join(f"'{to_camel(k)}', {v}" for k, v in members.items()) + ")"


def json_time(column: str) -> str:
    """A UTC time as pydantic writes it: seconds, then microseconds only if there are any, 'Z'."""
    return (
        f"to_char({column} AT TIME ZONE 'UTC', CASE WHEN date_trunc('second', {column}) = {column} "
        """THEN 'YYYY-MM-DD"T"HH24:MI:SS"Z"' ELSE 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"' END)"""
    )


def json_array(element: str, source: str, order: str) -> str:
    """A JSON array of `element` over the rows of `source`, in `order`; [] when there are none."""
    return f"coalesce((SELECT json_agg({element} ORDER BY {order}) FROM {source}), '[]'::json)"  # noqa: S608


def with_member(frame: str, member: str, text: str) -> str:
    """The JSON text of a model, `frame`, written with its member `member` empty ([]), with
    `text` (a JSON array written elsewhere) in its place. The member's name, quoted and followed
    by its empty value, cannot occur inside a string of the frame, where quotes are escaped."""
    empty = f'"{member}":[]'
    if frame.count(empty) != 1:
        raise ValueError(f"{member} is not an empty member of the frame")
    return frame.replace(empty, f'"{member}":{text}', 1)


def json_value(value: str) -> str:
    """The JSON text of an SQL value of any type, strings escaped as JSON escapes them; null for
    NULL."""
    return f"coalesce(to_json({value})::text, 'null')"


def json_quoted(text: str) -> str:
    """The JSON string of SQL text whose characters never need escaping (a uuid's text, a time
    from `json_time`); null for NULL."""
    return f"""coalesce('"' || {text} || '"', 'null')"""


def json_flag(value: str) -> str:
    """The JSON text of an SQL boolean; null for NULL."""
    return f"CASE WHEN {value} THEN 'true' WHEN NOT {value} THEN 'false' ELSE 'null' END"


def json_text_object(**members: str) -> str:
    """The JSON text of an object of JSON texts (each never NULL: `json_value`, `json_quoted`,
    `json_flag`), its members camelCased in `members`' order, written without spaces."""
    if not members:
        raise ValueError("an object of JSON texts needs a member")
    pieces = [
        f"""'{"," if i else "{"}"{to_camel(k)}":' || ({v})""" for i, (k, v) in enumerate(members.items())
    ]
    return "(" + " || ".join(pieces) + " || '}')"


def json_text_agg(element: str, order: str) -> str:
    """An aggregate: the JSON text of the array of `element` (a JSON text) over the group's rows,
    in `order`; [] when there are none."""
    return f"('[' || coalesce(string_agg({element}, ',' ORDER BY {order}), '') || ']')"
