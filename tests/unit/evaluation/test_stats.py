"""The statistics the reports use: median, nearest-rank percentile, shares."""

from __future__ import annotations

import pytest

from advice_line.evaluation.stats import median, percentile, share


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([], 90, None),
        ([7], 90, 7),
        ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90, 9),  # ceil(9.0) = 9th
        ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 90, 10),  # ceil(9.9) = 10th
        (list(range(1, 71)), 90, 63),  # 0.9 * 70 is 63.00000000000001 in floats
        ([30, 10, 20], 50, 20),
        ([5, 1], 100, 5),
        ([12.34, 5.0], 90, 12.3),
    ],
)
def test_nearest_rank_percentile(values: list[float], p: int, expected: float | None) -> None:
    assert percentile(values, p) == expected


@pytest.mark.parametrize(
    ("values", "expected"), [([], None), ([3], 3), ([1, 9], 5), ([4, 1, 100], 4), ([1, 2], 1.5)]
)
def test_median(values: list[float], expected: float | None) -> None:
    assert median(values) == expected


@pytest.mark.parametrize(
    ("part", "whole", "expected"), [(0, 0, None), (0, 3, 0.0), (1, 3, 0.3333), (3, 3, 1.0)]
)
def test_share_is_none_without_a_whole(part: int, whole: int, expected: float | None) -> None:
    assert share(part, whole) == expected
