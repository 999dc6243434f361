"""Hypothesis strategies for layers, rotas, overrides and query ranges near the DST changes.

Every wall-clock time drawn is a whole minute (the oracle relies on it), and times around
the changes (02:00, 02:30, 03:00) are drawn often.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import strategies as st

from rota.model import Layer, Override, OverrideKind, Rota, Swap, Unit, Window

from .builders import MINUTE, cph

#: Where queries start: just before each DST change of 2026, and an ordinary week.
ANCHORS = (cph(2026, 3, 27, 12), cph(2026, 10, 23, 12), cph(2026, 6, 8))
PEOPLE = st.integers(1, 6)

wall_times = st.one_of(
    st.sampled_from([dt.time(0), dt.time(2), dt.time(2, 30), dt.time(3), dt.time(7), dt.time(22)]),
    st.builds(dt.time, st.integers(0, 23), st.integers(0, 59)),
)
windows = st.builds(Window, st.frozensets(st.integers(0, 6), min_size=1), wall_times, wall_times)


@st.composite
def layers(draw: st.DrawFn, id: int = 1) -> Layer:
    unit = draw(st.sampled_from(Unit))
    longest = {Unit.HOURS: 30, Unit.DAYS: 3, Unit.WEEKS: 2}[unit]
    return Layer(
        id=id,
        name=f"layer {id}",
        participants=tuple(draw(st.lists(PEOPLE, min_size=1, max_size=4))),
        shift_length=draw(st.integers(1, longest)),
        unit=unit,
        handoff=draw(wall_times),
        start_date=draw(st.dates(dt.date(2026, 3, 1), dt.date(2026, 11, 5))),
        windows=tuple(draw(st.lists(windows, max_size=2))),
    )


@st.composite
def ranges(draw: st.DrawFn, longest_hours: int = 96) -> tuple[dt.datetime, dt.datetime]:
    """A query range of whole minutes near one of the anchors."""
    start = draw(st.sampled_from(ANCHORS)) + draw(st.integers(0, 48 * 60)) * MINUTE
    return start, start + draw(st.integers(1, longest_hours * 60)) * MINUTE


def instants_in(start: dt.datetime, end: dt.datetime) -> st.SearchStrategy[dt.datetime]:
    """Any microsecond in ``[start, end)``."""
    span = (end - start) // dt.timedelta(microseconds=1)
    return st.integers(0, span - 1).map(lambda us: start + dt.timedelta(microseconds=us))


def overrides(
    start: dt.datetime,
    end: dt.datetime,
    id: int,
    kinds: st.SearchStrategy[OverrideKind] | None = None,
) -> st.SearchStrategy[Override]:
    """An override of whole minutes around ``[start, end)`` (it may reach outside it)."""
    minutes = int((end - start) / MINUTE)
    edges = st.integers(-120, minutes + 120).map(lambda m: start + m * MINUTE)
    return (
        st.tuples(edges, edges, PEOPLE, kinds or st.sampled_from(OverrideKind), st.none() | PEOPLE)
        .filter(lambda x: x[0] != x[1] and x[4] != x[2])
        .map(
            lambda x: Override(
                id,
                x[2],
                min(x[0], x[1]),
                max(x[0], x[1]),
                x[3],
                None if x[3] == OverrideKind.ADD else x[4],
            )
        )
    )


def swaps(start: dt.datetime, end: dt.datetime, id: int) -> st.SearchStrategy[Swap]:
    return (
        st.tuples(overrides(start, end, 0), overrides(start, end, 0), PEOPLE, PEOPLE)
        .filter(lambda x: x[2] != x[3])
        .map(lambda x: Swap(id, x[2], x[3], x[0].start, x[0].end, x[1].start, x[1].end))
    )


@st.composite
def rotas(
    draw: st.DrawFn, start: dt.datetime, end: dt.datetime, id: int = 1, tier: str = "gp"
) -> Rota:
    """A rota of up to three layers, three overrides and one swap (validity not required)."""
    count = draw(st.integers(0, 3))
    return Rota(
        id=id,
        name=f"rota {id}",
        tier=tier,
        layers=tuple(draw(layers(id=i)) for i in range(1, count + 1)),
        overrides=tuple(draw(overrides(start, end, i)) for i in range(draw(st.integers(0, 3)))),
        swaps=tuple(draw(swaps(start, end, i)) for i in range(draw(st.integers(0, 1)))),
    )
