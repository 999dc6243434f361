"""The timer schedule tries each known timer at its due time, once, a few at once."""

from __future__ import annotations

import asyncio
import datetime as dt

from advice_line import timer_schedule
from advice_line.timer_schedule import TimerKey, TimerSchedule, Tried

T0 = dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC)


class Firing:
    """A stand-in for the engine's try: records each try and answers from a script."""

    def __init__(self, answers: dict[TimerKey, list[Tried]] | None = None, hold: float = 0.0):
        self.tries: list[tuple[TimerKey, float]] = []
        self.answers = answers or {}
        self.hold = hold
        self.running = 0
        self.most_at_once = 0

    async def __call__(self, key: TimerKey) -> Tried:
        self.tries.append((key, asyncio.get_running_loop().time()))
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await asyncio.sleep(self.hold)
            script = self.answers.get(key)
            if script:
                answer = script.pop(0)
                if isinstance(answer, Exception):
                    raise answer
                return answer
            return Tried.FIRED
        finally:
            self.running -= 1


def schedule(firing: Firing, concurrency: int = 4) -> TimerSchedule:
    return TimerSchedule(firing, lambda: T0, concurrency)


def after(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


async def test_a_timer_is_tried_at_its_due_time_not_before():
    firing = Firing()
    timers = schedule(firing)
    start = asyncio.get_running_loop().time()
    timers.plan((1, "ring", 1), after(0.15))
    await asyncio.sleep(0.1)
    assert firing.tries == []
    await asyncio.sleep(0.15)
    [(key, at)] = firing.tries
    assert key == (1, "ring", 1)
    assert 0.14 <= at - start < 0.25
    assert len(timers) == 0


async def test_an_overdue_timer_is_tried_at_once():
    firing = Firing()
    timers = schedule(firing)
    timers.plan((1, "ring", 1), after(-30))
    await asyncio.sleep(0.02)
    assert [k for k, _ in firing.tries] == [(1, "ring", 1)]


async def test_planning_the_same_timer_twice_tries_it_once():
    firing = Firing()
    timers = schedule(firing)
    timers.plan((1, "ring", 1), after(0.05))
    timers.plan((1, "ring", 1), after(0.05))  # the poll sees the row the step planned
    await asyncio.sleep(0.15)
    assert len(firing.tries) == 1


async def test_a_timer_planned_for_later_is_brought_forward():
    firing = Firing()
    timers = schedule(firing)
    timers.plan((1, "ring", 1), after(30))
    timers.plan((1, "ring", 1), after(0.02))  # e.g. the clock was set forward
    await asyncio.sleep(0.1)
    assert len(firing.tries) == 1


async def test_a_newer_timer_of_the_kind_replaces_the_older_and_not_the_other_way():
    firing = Firing()
    timers = schedule(firing)
    timers.plan((1, "ring", 1), after(0.03))
    timers.plan((1, "ring", 2), after(0.06))
    timers.plan((1, "ring", 1), after(0.03))  # a stale row read by the poll
    timers.plan((1, "wrap_up", 3), after(0.03))  # another kind stands beside it
    await asyncio.sleep(0.15)
    assert sorted(k for k, _ in firing.tries) == [(1, "ring", 2), (1, "wrap_up", 3)]


async def test_forgotten_timers_are_never_tried():
    firing = Firing()
    timers = schedule(firing)
    timers.plan((1, "ring", 1), after(0.03))
    timers.plan((1, "wake", 2), after(0.03))
    timers.plan((2, "ring", 1), after(0.03))
    timers.forget(1)
    await asyncio.sleep(0.1)
    assert [k for k, _ in firing.tries] == [(2, "ring", 1)]


async def test_a_timer_whose_consultation_is_held_is_tried_again_shortly():
    key = (1, "ring", 1)
    firing = Firing({key: [Tried.BUSY, Tried.BUSY, Tried.FIRED]})
    timers = schedule(firing)
    timers.plan(key, after(0))
    await asyncio.sleep(0.2)
    assert [k for k, _ in firing.tries] == [key] * 3
    gaps = [b - a for (_, a), (_, b) in zip(firing.tries, firing.tries[1:], strict=False)]
    assert all(gap >= timer_schedule.BUSY_RETRY * 0.9 for gap in gaps)
    assert len(timers) == 0


async def test_a_timer_held_too_long_is_left_to_the_poll(monkeypatch):
    monkeypatch.setattr(timer_schedule, "BUSY_RETRY", 0.001)
    key = (1, "ring", 1)
    firing = Firing({key: [Tried.BUSY] * timer_schedule.BUSY_TRIES + [Tried.FIRED]})
    timers = schedule(firing)
    timers.plan(key, after(0))
    await asyncio.sleep(0.3)
    assert len(firing.tries) == timer_schedule.BUSY_TRIES
    assert len(timers) == 0  # the poll plans it again while its row is there
    timers.plan(key, after(0))
    await asyncio.sleep(0.02)
    assert len(firing.tries) == timer_schedule.BUSY_TRIES + 1


async def test_a_failed_try_is_dropped_and_can_be_planned_again():
    key = (1, "ring", 1)
    firing = Firing({key: [RuntimeError("the database went away")]})
    timers = schedule(firing)
    timers.plan(key, after(0))
    await asyncio.sleep(0.05)
    assert len(firing.tries) == 1
    assert len(timers) == 0
    timers.plan(key, after(0))
    await asyncio.sleep(0.05)
    assert len(firing.tries) == 2


async def test_timers_due_together_are_tried_together_up_to_the_limit():
    firing = Firing(hold=0.05)
    timers = schedule(firing, concurrency=3)
    for consultation in range(1, 11):
        timers.plan((consultation, "ring", 1), after(0))
    await asyncio.sleep(0.3)
    assert len(firing.tries) == 10
    assert firing.most_at_once == 3
    # Ten tries of 50 ms three at a time: four rounds, not ten.
    first, last = firing.tries[0][1], firing.tries[-1][1]
    assert last - first < 0.25


async def test_closing_cancels_every_planned_try():
    firing = Firing()
    timers = schedule(firing)
    for consultation in range(1, 4):
        timers.plan((consultation, "ring", 1), after(0.03))
    timers.close()
    await asyncio.sleep(0.08)
    assert firing.tries == []
    assert len(timers) == 0


async def test_planning_again_while_a_timer_is_being_retried_does_not_restart_its_tries(
    monkeypatch,
):
    # The poll sees the overdue row on every pass; the busy-retry limit must still hold.
    monkeypatch.setattr(timer_schedule, "BUSY_RETRY", 0.005)
    key = (1, "ring", 1)
    firing = Firing({key: [Tried.BUSY] * timer_schedule.BUSY_TRIES + [Tried.FIRED]})
    timers = schedule(firing)
    timers.plan(key, after(0))
    for _ in range(20):
        await asyncio.sleep(0.004)
        timers.plan(key, after(-1))  # overdue, as the poll reads it
    await asyncio.sleep(0.3)
    assert len(firing.tries) == timer_schedule.BUSY_TRIES
    assert len(timers) == 0


async def test_nothing_is_planned_once_closed():
    firing = Firing()
    timers = schedule(firing)
    timers.close()
    timers.plan((1, "ring", 1), after(0))
    await asyncio.sleep(0.03)
    assert firing.tries == [] and len(timers) == 0
