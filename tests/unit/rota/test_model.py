"""rota.model: the data model, swaps as overrides, and every validation rule."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from rota.model import (
    InvalidLayer,
    InvalidOverride,
    InvalidRota,
    InvalidSwap,
    InvalidWindow,
    Override,
    OverrideKind,
    Rota,
    RotaError,
    Swap,
    Unit,
    Window,
    check_rota,
    rota_problems,
    validate_rota,
)

from .builders import NOW, add, hm, layer, replace, rota, utc, window

T0, T1, T2, T3 = (NOW + dt.timedelta(hours=h) for h in (0, 8, 16, 24))
SWAP = Swap(7, 1, 2, T0, T1, T2, T3)


def test_enums_have_the_stored_values() -> None:
    assert [u.value for u in Unit] == ["hours", "days", "weeks"]
    assert [k.value for k in OverrideKind] == ["replace", "add"]
    assert Unit("weeks") is Unit.WEEKS


def test_objects_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        layer().name = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("start", "end", "overnight"),
    [("08:00", "16:00", False), ("16:00", "08:00", True), ("00:00", "00:00", True)],
)
def test_window_overnight(start: str, end: str, overnight: bool) -> None:
    assert window(start, end).overnight is overnight


def test_swap_as_overrides() -> None:
    assert SWAP.as_overrides() == (
        Override(7, 2, T0, T1, OverrideKind.REPLACE, replaces=1),
        Override(7, 1, T2, T3, OverrideKind.REPLACE, replaces=2),
    )


def test_effective_overrides_are_swaps_then_overrides_each_by_id() -> None:
    later, earlier = add(9, 5, T0, T1), add(3, 6, T0, T1)
    other_swap = dataclasses.replace(SWAP, id=2, first=3, second=4)
    r = rota(layer(), overrides=[later, earlier], swaps=[SWAP, other_swap])
    assert r.effective_overrides() == (
        *other_swap.as_overrides(),
        *SWAP.as_overrides(),
        earlier,
        later,
    )


def test_a_valid_rota_has_no_problems() -> None:
    r = rota(
        layer((1, 2, 3), windows=[window("08:00", "16:00")]),
        layer((4,), id=2, unit=Unit.HOURS, shift_length=12),
        overrides=[replace(1, 5, T0, T1), replace(2, 5, T1, T2, replaces=1), add(3, 6, T0, T3)],
        swaps=[SWAP],
    )
    assert validate_rota(r) == []
    assert check_rota(r) is r


AWARE_TOKYO = dt.datetime(2026, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=9)))
NAIVE = dt.datetime(2026, 1, 1)

PROBLEMS: list[tuple[Rota, type[RotaError], str]] = [
    (dataclasses.replace(rota(), timezone="Mars/Olympus"), InvalidRota, "rota 1: unknown time zone 'Mars/Olympus'"),
    (dataclasses.replace(rota(), timezone=""), InvalidRota, "unknown time zone ''"),
    (dataclasses.replace(rota(), timezone="../etc/passwd"), InvalidRota, "unknown time zone"),
    (rota(tier="surgeon"), InvalidRota, "rota 1: unknown tier 'surgeon'"),
    (rota(layer(id=3), layer(id=3)), InvalidRota, "rota 1: more than one layer 3"),
    (rota(overrides=[add(4, 1, T0, T1), add(4, 2, T0, T1)]), InvalidRota, "more than one override 4"),
    (rota(swaps=[SWAP, dataclasses.replace(SWAP, first=3, second=4)]), InvalidRota, "more than one swap 7"),
    (rota(layer(())), InvalidLayer, "layer 1 ('layer'): no participants"),
    (rota(layer(shift_length=0)), InvalidLayer, "layer 1 ('layer'): shift length 0 is below 1"),
    (rota(layer(shift_length=-2)), InvalidLayer, "shift length -2 is below 1"),
    (rota(dataclasses.replace(layer(), unit="fortnights")), InvalidLayer, "unknown unit 'fortnights'"),
    (rota(dataclasses.replace(layer(), handoff=dt.time(8, tzinfo=dt.UTC))), InvalidLayer, "handoff time must be wall-clock"),
    (rota(layer(windows=[Window(frozenset(), hm("08:00"), hm("16:00"))])), InvalidWindow, "layer 1 ('layer') window 1: no days"),
    (rota(layer(windows=[window("08:00", "16:00"), window("08:00", "09:00", frozenset({0, 7, -1}))])), InvalidWindow, "window 2: days [-1, 7] are not 0 (Monday) to 6"),
    (rota(layer(windows=[Window(frozenset({1}), dt.time(8, tzinfo=dt.UTC), hm("16:00"))])), InvalidWindow, "times must be wall-clock"),
    (rota(overrides=[add(1, 5, NAIVE, T1)]), InvalidOverride, "override 1: start without a time zone"),
    (rota(overrides=[add(1, 5, NAIVE, NAIVE)]), InvalidOverride, "override 1: start and end without a time zone"),
    (rota(overrides=[add(1, 5, T1, T1)]), InvalidOverride, "override 1: ends at 2026-03-25T17:41:00+00:00, not after its start"),
    (rota(overrides=[add(1, 5, T2, T1)]), InvalidOverride, "not after its start"),
    (rota(overrides=[Override(1, 5, T0, T1, OverrideKind.ADD, replaces=3)]), InvalidOverride, "override 1: an ADD override replaces nobody"),
    (rota(overrides=[replace(1, 5, T0, T1, replaces=5)]), InvalidOverride, "override 1: clinician 5 replaces themself"),
    (rota(overrides=[Override(1, 5, T0, T1, "remove")]), InvalidOverride, "override 1: unknown kind 'remove'"),  # type: ignore[arg-type]
    (rota(overrides=[add(1, 5, T0, T2), replace(2, 5, T1, T3)]), InvalidOverride, "override 1 and override 2 overlap for clinician 5"),
    (rota(overrides=[add(1, 5, T0, T3), add(2, 5, T1, T2)]), InvalidOverride, "override 1 and override 2 overlap for clinician 5"),
    (rota(overrides=[add(1, 5, AWARE_TOKYO, T3), add(2, 5, AWARE_TOKYO, T2)]), InvalidOverride, "overlap for clinician 5"),
    (rota(overrides=[add(1, 2, T0, T1)], swaps=[SWAP]), InvalidOverride, "override 1 and swap 7 overlap for clinician 2"),
    (rota(swaps=[dataclasses.replace(SWAP, second=1)]), InvalidSwap, "swap 7: clinician 1 swaps with themself"),
    (rota(swaps=[dataclasses.replace(SWAP, first_start=NAIVE)]), InvalidSwap, "swap 7: start without a time zone"),
    (rota(swaps=[dataclasses.replace(SWAP, second_end=T1)]), InvalidSwap, "swap 7: ends at"),
    (rota(swaps=[dataclasses.replace(SWAP, second_start=T0)]), InvalidSwap, "swap 7: the two shifts overlap"),
]  # fmt: skip


@pytest.mark.parametrize(("bad", "error", "message"), PROBLEMS)
def test_each_problem_is_named(bad: Rota, error: type[RotaError], message: str) -> None:
    problems = rota_problems(bad)
    assert len(problems) == 1, problems
    assert type(problems[0]) is error
    assert message in str(problems[0])
    assert validate_rota(bad) == [str(problems[0])]
    with pytest.raises(error) as raised:
        check_rota(bad)
    assert str(raised.value) == str(problems[0])


@pytest.mark.parametrize(
    "fine",
    [
        rota(overrides=[add(1, 5, T0, T1), add(2, 5, T1, T2)]),  # touching is not overlapping
        rota(overrides=[add(1, 5, T0, T2), add(2, 6, T1, T3)]),  # different clinicians
        rota(layer((1, 1, 2))),  # a clinician may appear twice in a rotation
        rota(tier="gp"),
        rota(tier="specialist"),
        dataclasses.replace(rota(), timezone="UTC"),
    ],
)
def test_no_problem(fine: Rota) -> None:
    assert validate_rota(fine) == []


def test_every_problem_is_reported() -> None:
    bad = dataclasses.replace(
        rota(
            layer((), shift_length=0, windows=[Window(frozenset(), hm("08:00"), hm("09:00"))]),
            overrides=[add(1, 5, T1, T0), add(2, 6, T0, T2), add(3, 6, T1, T3)],
        ),
        timezone="Nowhere/Town",
    )
    messages = validate_rota(bad)
    assert len(messages) == 6, messages
    assert [type(p) for p in rota_problems(bad)] == [
        InvalidRota,
        InvalidLayer,
        InvalidLayer,
        InvalidWindow,
        InvalidOverride,
        InvalidOverride,
    ]


def test_errors_are_value_errors() -> None:
    for error in (InvalidRota, InvalidLayer, InvalidWindow, InvalidOverride, InvalidSwap):
        assert issubclass(error, RotaError)
    assert issubclass(RotaError, ValueError)


def test_utc_helper_is_aware() -> None:
    assert utc(2026, 1, 1).tzinfo is dt.UTC


def test_a_long_override_overlaps_every_later_one_it_covers() -> None:
    long, short, late = add(1, 5, T0, T3), add(2, 5, T0, T1), add(3, 5, T2, T3)
    assert validate_rota(rota(overrides=[late, short, long])) == [
        "override 1 and override 2 overlap for clinician 5",
        "override 1 and override 3 overlap for clinician 5",
    ]
