"""A decision under construction: the consultation as it changes, and the actions so far.

Handlers in ``machine``, ``routing`` and ``call`` change the draft through these helpers so
that offers, timers and the timeline stay consistent; ``finish`` turns it into a
``Decision`` and checks the invariants every decision keeps.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import replace

from .actions import (
    Action,
    AlertCoordinators,
    CancelTimers,
    Decision,
    NotifyNurse,
    Offer,
    Record,
    StartTimer,
    Withdraw,
)
from .consultation import Consultation, Stage, State, TimerKind
from .policy import NOBODY, Policy, Situation, TierView

#: What the nurse is told when her consultation enters a state (ENDED, ABANDONED: nothing).
NURSE_STATUS = {
    State.RINGING: "ringing",
    State.WAKING: "waking",
    State.QUEUED: "queued",
    State.CONNECTED: "connected",
    State.ESCALATING: "escalating",
    State.WRAP_UP: "ended",
    State.CANCELLED: "cancelled",
    State.CALLBACK: "callback",
    State.FAILED: "failed",
}


class Draft:
    """The consultation being decided about, the inputs, and the actions so far."""

    def __init__(
        self, before: Consultation, situation: Situation, policy: Policy, now: dt.datetime
    ) -> None:
        self.before = before
        self.c = before
        self.situation = situation
        self.policy = policy
        self.now = now
        self.actions: list[Action] = []
        #: Overrides what ``finish`` would tell the nurse (e.g. "fallback").
        self.nurse_status: str | None = None
        #: Whether coordinators have been alerted about this call already (no repeats while
        #: it is queued and re-routed every ``retry_seconds``).
        self.quiet = before.queued_since is not None

    # Inputs ----------------------------------------------------------------------------

    def view(self, tier: int) -> TierView:
        """The situation of ``tier``; nobody on duty when the engine left it out."""
        return self.situation.get(tier, NOBODY)

    @property
    def escalating(self) -> bool:
        """Routing for a connected call (escalation) rather than for a waiting nurse."""
        return bool(self.c.participants)

    # Actions ---------------------------------------------------------------------------

    def record(self, type: str, **data: object) -> None:
        self.actions.append(Record(type, data))

    def alert(self, kind: str, tier: int, detail: str) -> None:
        if not self.quiet:
            self.actions.append(AlertCoordinators(kind, tier, detail))

    def offer(self, tier: int, advisors: Iterable[int], **data: object) -> None:
        """Offer the call to ``advisors`` for ``tier`` and record it."""
        fresh = tuple(a for a in advisors if a not in self.c.offered)
        if not fresh:
            return
        pairs = tuple(sorted((*self.c.offer_tiers, *((a, tier) for a in fresh))))
        self.c = replace(self.c, offered=self.c.offered | set(fresh), offer_tiers=pairs)
        self.actions.append(Offer(fresh, tier))
        self.record("offered", tier=tier, advisors=list(fresh), **data)

    def withdraw(self, advisors: Iterable[int], reason: str) -> tuple[int, ...]:
        """End the offers of ``advisors`` (those who hold one); returns who they were."""
        gone = tuple(sorted(set(advisors) & self.c.offered))
        if gone:
            pairs = tuple(p for p in self.c.offer_tiers if p[0] not in gone)
            self.c = replace(self.c, offered=self.c.offered - set(gone), offer_tiers=pairs)
            self.actions.append(Withdraw(gone, reason))
        return gone

    def withdraw_all(self, reason: str) -> tuple[int, ...]:
        return self.withdraw(self.c.offered, reason)

    def start_timer(self, kind: TimerKind, due: dt.datetime) -> None:
        """Replace the live timer (if any) by a new one of ``kind`` due at ``due``."""
        if self.c.timer_kind is not None:
            self.actions.append(CancelTimers())
        seq = self.c.timer_seq + 1
        self.c = replace(self.c, timer_kind=kind, timer_seq=seq)
        self.actions.append(StartTimer(kind, due, seq))

    def stop_timer(self, *, always: bool = False) -> None:
        """Cancel the live timer; ``always`` emits ``CancelTimers`` even when none is known."""
        if self.c.timer_kind is not None or always:
            self.actions.append(CancelTimers())
        self.c = replace(self.c, timer_kind=None)

    def finalize(self, state: State, reason: str) -> None:
        """Enter a final state: offers withdrawn, every timer cancelled."""
        assert state.final, state
        self.withdraw_all(reason)
        self.stop_timer(always=True)
        self.c = replace(self.c, state=state, stage=Stage.NONE, stage_deadline=None)

    # The result ------------------------------------------------------------------------

    def finish(self) -> Decision:
        """The decision: a no-op when nothing changed, else ``version`` one higher."""
        if not self.actions and self.c == self.before:
            return Decision(self.before, ())
        status = self.nurse_status
        if status is None and self.c.state != self.before.state:
            status = NURSE_STATUS.get(self.c.state)
        if status is not None:
            self.actions.append(NotifyNurse(status))
        after = replace(self.c, version=self.before.version + 1)
        assert any(isinstance(a, Record) for a in self.actions), self.actions
        return Decision(after, tuple(self.actions))
