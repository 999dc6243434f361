"""Properties of the rota core over random layers, rotas and ranges (Hypothesis)."""

from __future__ import annotations

import datetime as dt
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from rota.index import TierIndex
from rota.model import Layer, Rota, Shift
from rota.resolve import coverage_gaps, next_handoffs, on_duty, on_duty_clinicians
from rota.rotation import LayerShift, first_handoff, layer_shifts
from rota.schedule import final_schedule
from rota.walltime import to_instant
from rota.windows import window_intervals

from . import oracle, strategies
from .builders import TZ, Lookup

US = dt.timedelta(microseconds=1)
Range = tuple[dt.datetime, dt.datetime]


def probes(
    draw: st.DrawFn, start: dt.datetime, end: dt.datetime, edges: list[dt.datetime]
) -> list[dt.datetime]:
    """Random instants in ``[start, end)`` plus each edge and the microsecond before it."""
    found = draw(st.lists(strategies.instants_in(start, end), min_size=1, max_size=8))
    found += [e + d for e in edges for d in (-US, 0 * US) if start <= e + d < end]
    return found


def owner_at(shifts: list[LayerShift], at: dt.datetime) -> int | None:
    return next((s.clinician for s in shifts if s.start <= at < s.end), None)


@settings(deadline=None)
@given(strategies.layers(), strategies.ranges(), st.data())
def test_layer_shifts_are_disjoint_and_follow_the_rules(
    layer: Layer, query: Range, data: st.DataObject
) -> None:
    start, end = query
    shifts = layer_shifts(layer, TZ, start, end)
    for shift in shifts:
        assert start <= shift.start < shift.end <= end
    for before, after in pairwise(shifts):
        assert before.end <= after.start  # sorted, never overlapping
    edges = [e for s in shifts for e in (s.start, s.end)]
    for at in probes(data.draw, start, end, edges):
        assert owner_at(shifts, at) == oracle.layer_owner(layer, TZ, at), at


@settings(deadline=None)
@given(strategies.layers(), strategies.ranges())
def test_layer_covers_the_range_or_its_windows_exactly(layer: Layer, query: Range) -> None:
    start, end = query
    shifts = layer_shifts(layer, TZ, start, end)
    opens = max(start, to_instant(first_handoff(layer), TZ))
    if opens >= end:
        assert shifts == []
        return
    covered = _union([(s.start, s.end) for s in shifts])
    if not layer.windows:
        assert covered == [(opens, end)]
        for before, after in pairwise(shifts):
            assert before.end == after.start  # a handoff, no gap
    else:
        assert covered == window_intervals(layer.windows, TZ, opens, end)


def _union(spans: list[Range]) -> list[Range]:
    merged: list[Range] = []
    for s, e in spans:
        if merged and merged[-1][1] == s:
            merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged


def assert_well_formed(schedule: list[Shift], start: dt.datetime, end: dt.datetime) -> None:
    for shift in schedule:
        assert start <= shift.start < shift.end <= end
        assert shift.clinicians
    for before, after in pairwise(schedule):
        assert before.end <= after.start
        assert before.end < after.start or before.clinicians != after.clinicians  # merged


@st.composite
def rota_and_range(draw: st.DrawFn) -> tuple[Rota, dt.datetime, dt.datetime]:
    start, end = draw(strategies.ranges(longest_hours=72))
    return draw(strategies.rotas(start, end)), start, end


@settings(deadline=None)
@given(rota_and_range(), st.data())
def test_final_schedule_follows_the_rules(
    case: tuple[Rota, dt.datetime, dt.datetime], data: st.DataObject
) -> None:
    rota, start, end = case
    schedule = final_schedule(rota, start, end)
    assert_well_formed(schedule, start, end)
    lookup = Lookup(schedule)
    edges = [e for s in schedule for e in (s.start, s.end)]
    edges += [e for o in rota.effective_overrides() for e in (o.start, o.end)]
    for at in probes(data.draw, start, end, edges):
        assert lookup(at) == oracle.rota_on_duty(rota, at), at


@settings(deadline=None)
@given(rota_and_range(), st.data())
def test_an_override_changes_exactly_its_interval(
    case: tuple[Rota, dt.datetime, dt.datetime], data: st.DataObject
) -> None:
    rota, start, end = case
    extra = data.draw(strategies.overrides(start, end, id=99))  # the highest id: applied last
    without = Lookup(final_schedule(rota, start, end))
    changed = Rota(
        rota.id,
        rota.name,
        rota.tier,
        rota.timezone,
        rota.layers,
        (*rota.overrides, extra),
        rota.swaps,
    )
    schedule = final_schedule(changed, start, end)
    assert_well_formed(schedule, start, end)
    with_it = Lookup(schedule)
    edges = [extra.start, extra.end, *(e for s in without.shifts for e in (s.start, s.end))]
    for at in probes(data.draw, start, end, edges):
        if extra.start <= at < extra.end:
            assert with_it(at) == oracle.overridden(without(at), extra), at
        else:
            assert with_it(at) == without(at), at


def _glue(first: list[Shift], second: list[Shift]) -> list[Shift]:
    if (
        first
        and second
        and first[-1].end == second[0].start
        and first[-1].clinicians == second[0].clinicians
    ):
        joined = Shift(first[-1].start, second[0].end, first[-1].clinicians, first[-1].rota_id)
        return [*first[:-1], joined, *second[1:]]
    return first + second


@settings(deadline=None)
@given(rota_and_range(), st.data())
def test_split_invariance(case: tuple[Rota, dt.datetime, dt.datetime], data: st.DataObject) -> None:
    rota, start, end = case
    middle = data.draw(strategies.instants_in(start, end))
    whole = final_schedule(rota, start, end)
    assert _glue(final_schedule(rota, start, middle), final_schedule(rota, middle, end)) == whole


@st.composite
def tier_case(draw: st.DrawFn) -> tuple[list[Rota], dt.datetime, dt.datetime]:
    start, end = draw(strategies.ranges(longest_hours=72))
    count = draw(st.integers(0, 3))
    rotas = [draw(strategies.rotas(start, end, id=i)) for i in range(1, count + 1)]
    rotas.append(draw(strategies.rotas(start, end, id=99, tier="specialist")))  # another tier
    return rotas, start, end


@settings(deadline=None)
@given(tier_case(), st.data())
def test_coverage_gaps_are_the_complement_of_coverage(
    case: tuple[list[Rota], dt.datetime, dt.datetime], data: st.DataObject
) -> None:
    rotas, start, end = case
    gaps = coverage_gaps(rotas, "gp", start, end)
    for gap in gaps:
        assert start <= gap.start < gap.end <= end
    for before, after in pairwise(gaps):
        assert before.end < after.start  # maximal: two gaps never touch
    edges = [e for g in gaps for e in (g.start, g.end)]
    for at in probes(data.draw, start, end, edges):
        in_gap = any(g.start <= at < g.end for g in gaps)
        assert in_gap == (on_duty_clinicians(rotas, "gp", at) == frozenset()), at
        assert in_gap == all(not oracle.rota_on_duty(r, at) for r in rotas if r.tier == "gp"), at


@settings(deadline=None)
@given(tier_case(), st.data())
def test_the_index_agrees_with_resolve(
    case: tuple[list[Rota], dt.datetime, dt.datetime], data: st.DataObject
) -> None:
    rotas, start, end = case
    index = TierIndex.build(rotas, "gp", start, end)
    assert index.segments[0].start == start and index.segments[-1].end == end
    for before, after in pairwise(index.segments):
        assert before.end == after.start  # the segments tile the range
        assert before.on_duty != after.on_duty  # and equal neighbours are merged
    edges = [s.start for s in index.segments]
    for at in probes(data.draw, start, end, edges):
        assert index.on_duty(at) == on_duty(rotas, "gp", at), at
        assert index.on_duty_clinicians(at) == on_duty_clinicians(rotas, "gp", at), at
    a, b = sorted(data.draw(st.lists(strategies.instants_in(start, end), min_size=2, max_size=2)))
    assert index.gaps(a, b) == coverage_gaps(rotas, "gp", a, b)
    assert index.next_handoffs(a, 5) == next_handoffs(rotas, "gp", a, 5, end - a)
