"""Short ways to build tier views, policies and a consultation driven through ``decide``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from escalation import (
    Channel,
    Consultation,
    Decision,
    Event,
    Offer,
    Policy,
    Record,
    Retry,
    RingTimeout,
    Situation,
    StartTimer,
    Strategy,
    TierPolicy,
    TierView,
    TimerKind,
    Urgency,
    WakeTimeout,
    WrapUpTimeout,
    decide,
    new_consultation,
)
from escalation.events import Start

from .invariants import check_decision

#: 02:00 UTC is 03:00 in Copenhagen: the hour the advice line exists for. Tests never read
#: the clock.
T0 = dt.datetime(2026, 3, 25, 2, 0, tzinfo=dt.UTC)
NURSE = 100
PATIENT = 200
STRANGER = 999
DEFAULT = Policy.default()


def at(seconds: float) -> dt.datetime:
    """The instant ``seconds`` after T0."""
    return T0 + dt.timedelta(seconds=seconds)


def tier(
    available: Iterable[int] = (),
    busy: Iterable[int] = (),
    asleep: Iterable[int] = (),
    own_gp: int | None = None,
) -> TierView:
    """A tier view: ``available`` (longest idle first), ``busy`` online in a call, ``asleep``
    on duty but offline."""
    free, occupied, offline = tuple(available), frozenset(busy), frozenset(asleep)
    return TierView(frozenset(free) | occupied | offline, free, frozenset(free) | occupied, own_gp)


def policy(
    *strategies: Strategy,
    start: Mapping[Urgency, int] | int = 1,
    ring: tuple[float, float, float] = (45, 90, 90),
    step: float = 20,
) -> Policy:
    """The default policy with the given strategies per tier (ring_all where not given)."""
    chosen = (*strategies, *([Strategy.RING_ALL] * (3 - len(strategies))))
    starts = dict.fromkeys(Urgency, start) if isinstance(start, int) else dict(start)
    return Policy(
        tiers=tuple(TierPolicy(r, s, step) for r, s in zip(ring, chosen, strict=True)),
        start_tier=starts,
    )


def timer_event(c: Consultation) -> Event:
    """The live timer event of ``c``."""
    assert c.timer_kind is not None, c
    kind, seq = c.timer_kind, c.timer_seq
    if kind is TimerKind.RING:
        return RingTimeout(c.tier, seq)
    if kind is TimerKind.WAKE:
        return WakeTimeout(c.tier, seq)
    if kind is TimerKind.RETRY:
        return Retry(seq)
    return WrapUpTimeout(seq)


class Call:
    """A consultation driven through ``decide``; every decision is checked against the
    invariants and its records kept with their instants, as the engine's timeline would."""

    def __init__(
        self,
        situation: Situation | None = None,
        policy: Policy = DEFAULT,
        urgency: Urgency = Urgency.ACUTE,
        consultation: Consultation | None = None,
    ) -> None:
        self.situation: Situation = dict(situation or {})
        self.policy = policy
        self.c = consultation or new_consultation(1, NURSE, PATIENT, urgency, Channel.VIDEO, T0)
        self.now = T0
        self.timeline: list[tuple[dt.datetime, Record]] = []
        self.timer: StartTimer | None = None
        self.last: Decision | None = None

    def clone(self) -> Call:
        """An independent copy, to try an event without touching this one."""
        twin = Call(self.situation, self.policy, consultation=self.c)
        twin.now, twin.timer, twin.last = self.now, self.timer, self.last
        twin.timeline = list(self.timeline)
        return twin

    def send(
        self, event: Event, *, after: float = 0, situation: Situation | None = None
    ) -> Decision:
        """Decide ``event`` ``after`` seconds later, in ``situation`` (kept from then on)."""
        if situation is not None:
            self.situation = dict(situation)
        now = self.now + dt.timedelta(seconds=after)
        decision = decide(self.c, event, self.situation, self.policy, now)
        check_decision(self.c, decision, self.situation, self.policy, now)
        self.c, self.now, self.last = decision.consultation, now, decision
        self.timeline += [(now, r) for r in decision.records()]
        for action in decision.actions:
            if isinstance(action, StartTimer):
                self.timer = action
        return decision

    def start(self, situation: Situation | None = None) -> Decision:
        return self.send(Start(), situation=situation)

    def fire(self, situation: Situation | None = None) -> Decision:
        """Deliver the live timer at its due instant."""
        assert self.timer is not None and self.timer.seq == self.c.timer_seq, self.timer
        wait = max((self.timer.due - self.now).total_seconds(), 0)
        return self.send(timer_event(self.c), after=wait, situation=situation)

    # What happened -----------------------------------------------------------------------

    @property
    def types(self) -> list[str]:
        """The timeline's event types so far."""
        return [r.type for _, r in self.timeline]

    def records(self, type: str) -> list[Record]:
        return [r for _, r in self.timeline if r.type == type]


def offers(decision: Decision) -> list[tuple[tuple[int, ...], int]]:
    """The (advisors, tier) of each Offer in a decision."""
    return [(a.advisors, a.tier) for a in decision.actions if isinstance(a, Offer)]


def kinds(decision: Decision, kind: type[object]) -> list[object]:
    """The actions of ``kind`` in a decision."""
    return [a for a in decision.actions if isinstance(a, kind)]
