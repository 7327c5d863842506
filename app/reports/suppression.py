"""Small numbers kept out of reports: a figure about fewer than `threshold` people is not shown.

A hidden figure is None (shown as null with `suppressed: true`, never as 0). When a set of figures
adds up to a total that is shown, hiding one alone would let it be worked out by subtraction, so
the smallest figure still shown beside it is hidden too (complementary suppression).
"""

from collections.abc import Mapping
from typing import TypeVar

K = TypeVar("K")

THRESHOLD = 5


def suppress(counts: Mapping[K, int], threshold: int = THRESHOLD) -> dict[K, int | None]:
    """Counts of people: each from 1 to `threshold - 1` hidden (None), and its complement."""
    return suppress_by(counts, counts, threshold)


def suppress_by(
    values: Mapping[K, int], people: Mapping[K, int], threshold: int = THRESHOLD
) -> dict[K, int | None]:
    """`values`, each hidden when the number of people behind it (`people`, same keys) is from 1
    to `threshold - 1`; when exactly one is hidden, the shown one with the fewest people behind
    it (but some) is hidden too."""
    hidden = {k for k, n in people.items() if 0 < n < threshold}
    if len(hidden) == 1:
        shown = [(n, i) for i, (k, n) in enumerate(people.items()) if k not in hidden and n > 0]
        if shown:
            hidden.add(list(people)[min(shown)[1]])
    return {k: None if k in hidden else v for k, v in values.items()}
