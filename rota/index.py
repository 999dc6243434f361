"""A tier's timeline precomputed for fast questions: on duty at an instant is one bisection.

``TierIndex.build(rotas, tier, start, end)`` sweeps the final schedules of the tier's rotas
once; afterwards ``on_duty(at)`` costs O(log n) and ``gaps(start, end)`` O(log n + answer).
It answers exactly as ``rota.resolve`` does, within the range it was built for, and raises
``OutsideIndex`` outside it.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import pairwise

from .errors import NaiveDatetime, OutsideIndex
from .model import Gap, Rota
from .timeline import Handoff, TierSegment, handoffs, tier_timeline
from .walltime import as_utc

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)


def _micros(at: dt.datetime, what: str = "at") -> int:
    if at.tzinfo is None:
        raise NaiveDatetime(f"{what} {at.isoformat()} has no time zone")
    return (at - _EPOCH) // _MICROSECOND


@dataclass(frozen=True)
class TierIndex:
    """The timeline of one tier over ``[start, end)`` as sorted boundary arrays."""

    tier: str
    start: dt.datetime
    end: dt.datetime
    segments: tuple[TierSegment, ...]
    _starts: tuple[int, ...] = field(repr=False, compare=False)
    _gaps: tuple[Gap, ...] = field(repr=False, compare=False)
    _gap_ends: tuple[int, ...] = field(repr=False, compare=False)

    @classmethod
    def build(
        cls, rotas: Iterable[Rota], tier: str, start: dt.datetime, end: dt.datetime
    ) -> TierIndex:
        """Index ``tier`` over ``[start, end)`` (UTC instants, ``start < end``)."""
        start, end = as_utc(start, "start"), as_utc(end, "end")
        if start >= end:
            raise OutsideIndex(f"an index needs start < end, not {start} .. {end}")
        segments = tuple(tier_timeline(rotas, tier, start, end))
        gaps = tuple(Gap(s.start, s.end) for s in segments if not s.clinicians)
        return cls(
            tier,
            start,
            end,
            segments,
            tuple(_micros(s.start) for s in segments),
            gaps,
            tuple(_micros(gap.end) for gap in gaps),
        )

    def _segment(self, at: dt.datetime) -> TierSegment:
        micros = _micros(at)
        starts = self._starts
        if micros < starts[0] or at >= self.end:
            raise OutsideIndex(f"{at.isoformat()} is outside {self.start} .. {self.end}")
        return self.segments[bisect_right(starts, micros) - 1]

    def on_duty(self, at: dt.datetime) -> dict[int, frozenset[int]]:
        """As ``resolve.on_duty``: rota id -> clinicians on duty at ``at``."""
        return dict(self._segment(at).on_duty)

    def on_duty_clinicians(self, at: dt.datetime) -> frozenset[int]:
        """As ``resolve.on_duty_clinicians``: everyone on duty in the tier at ``at``."""
        return self._segment(at).clinicians

    def gaps(self, start: dt.datetime, end: dt.datetime) -> list[Gap]:
        """As ``resolve.coverage_gaps`` over ``[start, end)``, which must lie in the index."""
        start, end = as_utc(start, "start"), as_utc(end, "end")
        if start < self.start or end > self.end:
            raise OutsideIndex(f"{start} .. {end} is not within {self.start} .. {self.end}")
        if start >= end:
            return []
        found: list[Gap] = []
        i = bisect_right(self._gap_ends, _micros(start))
        while i < len(self._gaps) and self._gaps[i].start < end:
            gap = self._gaps[i]
            found.append(Gap(max(gap.start, start), min(gap.end, end)))
            i += 1
        return found

    def next_handoffs(self, at: dt.datetime, count: int) -> list[Handoff]:
        """As ``resolve.next_handoffs`` with the horizon at the end of the index."""
        if count <= 0:
            return []
        first = bisect_right(self._starts, _micros(self._segment(at).start))
        found: list[Handoff] = []
        for before, after in pairwise(self.segments[first - 1 :]):
            if before.clinicians != after.clinicians:
                found.append((after.start, before.clinicians, after.clinicians))
                if len(found) == count:
                    break
        return found

    def handoffs(self) -> list[Handoff]:
        """Every change of the tier's on-duty set within the index."""
        return handoffs(self.segments)
