"""JSON written by PostgreSQL as the service's models write it: for views read in bulk (pages of
cases, a rep's day list), sent as PostgreSQL wrote them without a model built per row in Python.
Each piece is SQL text over columns named by the caller."""

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
