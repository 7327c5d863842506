"""Small numbers kept out of reports: which cells of a row to suppress.

A cell counting fewer than `THRESHOLD` people or answers is suppressed, zero included. A
suppressed figure is shown as `null` with `suppressed: true`, never as 0. Suppression is
complementary: when a row's total is shown and exactly one of its parts is suppressed, that part
could be recovered by subtracting the others from the total, so the smallest other part is
suppressed with it. Each report shows only rows of fixed cells (a calendar month, a period) with
their total, and no total across rows, so each row is protected on its own.
"""

from collections.abc import Mapping
from typing import TypeVar

THRESHOLD = 5

K = TypeVar("K")


def too_small(count: int, threshold: int = THRESHOLD) -> bool:
    """Whether a count is too small to show."""
    return count < threshold


def suppressed_cells(parts: Mapping[K, int], *, total: int | None, threshold: int = THRESHOLD) -> set[K]:
    """The parts of a row to suppress: those under the threshold and, when the row's `total` is
    shown (`None`: the row has no total) and exactly one part is under it, the smallest other
    part (the first such in the row's order on a tie) as its complement."""
    hidden = {key for key, count in parts.items() if too_small(count, threshold)}
    total_shown = total is not None and not too_small(total, threshold)
    if total_shown and len(hidden) == 1:
        shown = [key for key in parts if key not in hidden]
        if shown:
            hidden.add(min(shown, key=lambda k: parts[k]))
    return hidden
