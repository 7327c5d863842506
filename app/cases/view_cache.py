"""Views of cases kept between requests, for pages of cases on PostgreSQL.

Writing a case's view (its parties, consents, reps, flags and responsibility entries arranged
as JSON) is most of a page's cost in the database. Each view kept here is stored with the
version of the case's row it was written from (PostgreSQL's `xmin`, which every write to the
row changes), and a page first asks only for its cases' ids and row versions: when every case
on the page is kept at that version, the page is answered from here; otherwise it is written
whole by the database, as before, and kept.

That is sound because every write to a case's parties, consents, reps, flags or responsibility
entries also writes the case's own row (its version and update time), in the same transaction:
the tests hold every write path to it (tests/stamp_guard.py). Nothing here is needed by another
instance or server process: each checks the database's row versions on every read, so a change
made anywhere is seen at once. A view whose case has moved on is dropped when it is next looked
for, and the least recently used go when the cache is full; `RJ_CASE_VIEW_CACHE=0` keeps none.
"""

import uuid
from collections import OrderedDict
from collections.abc import Sequence

# The tables a case's views are read from besides `rj_case` itself.
VIEW_CHILDREN = ("party", "consent", "case_rep", "case_flag", "responsibility")

# (case, which view) -> (the case row's version, the view's JSON text)
_Key = tuple[uuid.UUID, str]


class CaseViewCache:
    """Up to `capacity` views of cases, each with the row version it was written from."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._views: OrderedDict[_Key, tuple[str, str]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._views)

    def find(self, view: str, stamps: Sequence[tuple[uuid.UUID, str]]) -> list[str] | None:
        """The `view` of each (case, row version) in `stamps`, in order; None unless every one is
        kept at that version (a kept view of an older version is dropped)."""
        found: list[str] = []
        views = self._views
        for case_id, stamp in stamps:
            key = (case_id, view)
            kept = views.get(key)
            if kept is None:
                return None
            if kept[0] != stamp:
                del views[key]
                return None
            views.move_to_end(key)
            found.append(kept[1])
        return found

    def keep(self, view: str, written: Sequence[tuple[uuid.UUID, str, str]]) -> None:
        """Keep each (case, row version, JSON text) in `written` as that case's `view`."""
        if not self.capacity:
            return
        views = self._views
        for case_id, stamp, text in written:
            key = (case_id, view)
            views[key] = (stamp, text)
            views.move_to_end(key)
        while len(views) > self.capacity:
            views.popitem(last=False)
