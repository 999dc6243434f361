"""The few statistics the reports use, each defined once and documented.

* ``median``: the middle value, or the mean of the two middle values for an even count
  (``statistics.median``).
* ``percentile``: the nearest-rank method: the smallest value such that at least p % of the
  values are at or below it, i.e. the ceil(p/100 * n)-th smallest. It is always one of the
  observed values (a 90th percentile of 95 s means a real call waited 95 s).
* ``share``: part / whole, or None when the whole is 0 (never a division by zero).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def median(values: Sequence[float], digits: int = 1) -> float | None:
    """The median rounded to ``digits`` decimals, None for no values."""
    return round(statistics.median(values), digits) if values else None


def percentile(values: Sequence[float], p: int, digits: int = 1) -> float | None:
    """The nearest-rank ``p``-th percentile (0 < p <= 100), None for no values."""
    assert 0 < p <= 100, p
    if not values:
        return None
    ordered = sorted(values)
    rank = -(-p * len(ordered) // 100)  # ceil in integers: 0.9 * 70 is not exactly 63 in floats
    return round(ordered[rank - 1], digits)


def share(part: int, whole: int) -> float | None:
    """``part / whole`` to four decimals; None when ``whole`` is 0."""
    assert 0 <= part <= whole, (part, whole)
    return round(part / whole, 4) if whole else None
