"""The collector settings a node applies once it has started."""

from __future__ import annotations

import gc

from advice_line import heap


def test_settle_freezes_what_lives_and_raises_the_young_threshold():
    before = gc.get_threshold()
    try:
        heap.settle()
        assert gc.get_freeze_count() > 0, "startup objects are out of the collector's sight"
        assert gc.get_threshold() == (heap.YOUNG_THRESHOLD, before[1], before[2])
        # Objects made afterwards are still collected: a cycle made now is found.
        cycle: list[object] = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
