"""Small numbers kept out of reports: a figure about fewer than `THRESHOLD` people or answers is
not shown.

A suppressed figure is `null` with `suppressed: true`, never 0. Suppression is complementary:
when a set of figures adds up to a total that is shown and exactly one of them is hidden, it could
be worked out by subtraction, so the smallest figure still shown beside it is hidden too. Each
report shows only rows of fixed cells (a calendar month, a period) with their total, and no total
across rows, so each row is protected on its own.

Feedback hides an empty cell too (no answers says as much as one), `suppressed_cells`; the
outcomes report shows a figure about nobody as 0, `suppress_by`.
"""

from collections.abc import Mapping
from typing import TypeVar

THRESHOLD = 5

K = TypeVar("K")


def too_small(count: int, threshold: int = THRESHOLD) -> bool:
    """Whether a count is too small to show."""
    return count < threshold


def _with_complement(hidden: set[K], candidates: Mapping[K, int]) -> set[K]:
    """`hidden`, and when it holds exactly one figure, the candidate with the smallest count (the
    first such in order on a tie) that is not hidden yet."""
    if len(hidden) == 1:
        shown = [key for key in candidates if key not in hidden]
        if shown:
            hidden = hidden | {min(shown, key=lambda k: candidates[k])}
    return hidden


def suppressed_cells(parts: Mapping[K, int], *, total: int | None, threshold: int = THRESHOLD) -> set[K]:
    """The parts of a row to suppress: those under the threshold (zero included) and, when the
    row's `total` is shown (`None`: the row has no total), the complement."""
    hidden = {key for key, count in parts.items() if too_small(count, threshold)}
    if total is None or too_small(total, threshold):
        return hidden
    return _with_complement(hidden, parts)


def suppress(counts: Mapping[K, int], threshold: int = THRESHOLD) -> dict[K, int | None]:
    """Counts of people: each from 1 to `threshold - 1` hidden (None), and its complement."""
    return suppress_by(counts, counts, threshold)


def suppress_by(
    values: Mapping[K, int], people: Mapping[K, int], threshold: int = THRESHOLD
) -> dict[K, int | None]:
    """`values`, each hidden when the number of people behind it (`people`, same keys) is from 1
    to `threshold - 1`, with the complement among those with some people behind them."""
    hidden = {k for k, n in people.items() if 0 < n < threshold}
    hidden = _with_complement(hidden, {k: n for k, n in people.items() if n > 0})
    return {k: None if k in hidden else v for k, v in values.items()}
