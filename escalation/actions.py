"""What the engine must do after a decision: the actions, carried out in the order given."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from .consultation import Consultation, TimerKind


@dataclass(frozen=True)
class Offer:
    """Ring ``advisors`` (longest idle first) for ``tier``, or put the call in their queue."""

    advisors: tuple[int, ...]
    tier: int


@dataclass(frozen=True)
class Withdraw:
    """End the offers ``advisors`` hold; ``reason`` says why ("answered_elsewhere", ...)."""

    advisors: tuple[int, ...]
    reason: str


@dataclass(frozen=True)
class StartTimer:
    """Deliver the timer event of ``kind`` with ``seq`` at ``due`` (or as soon after)."""

    kind: TimerKind
    due: dt.datetime
    seq: int


@dataclass(frozen=True)
class CancelTimers:
    """Drop every timer of the consultation (a later ``StartTimer`` in the same list stands)."""


@dataclass(frozen=True)
class Wake:
    """Wake on-duty advisors of ``tier`` who are not online (push, SMS, phone)."""

    advisors: tuple[int, ...]
    tier: int


@dataclass(frozen=True)
class NotifyNurse:
    """Tell the nurse where her call stands ("ringing", "fallback", "connected", ...)."""

    status: str


@dataclass(frozen=True)
class AlertCoordinators:
    """Tell the coordinators on duty: "tier_skipped", "tier_asleep", "all_tiers_exhausted",
    "consultation_failed"."""

    kind: str
    tier: int
    detail: str


@dataclass(frozen=True)
class Join:
    """Bring ``advisor`` into the call (media and signalling)."""

    advisor: int


@dataclass(frozen=True)
class Record:
    """Append an event of ``type`` to the consultation's timeline, stamped with the decision's
    ``now``; ``data`` holds JSON values only (ints, strs, lists, bools, None)."""

    type: str
    data: Mapping[str, object]


Action = (
    Offer
    | Withdraw
    | StartTimer
    | CancelTimers
    | Wake
    | NotifyNurse
    | AlertCoordinators
    | Join
    | Record
)


@dataclass(frozen=True)
class Decision:
    """The consultation after an event and what to do about it. A no-op (stale timer, an
    irrelevant notice) returns the same consultation and no actions."""

    consultation: Consultation
    actions: tuple[Action, ...]

    def records(self) -> tuple[Record, ...]:
        """The timeline events of this decision, in order."""
        return tuple(a for a in self.actions if isinstance(a, Record))
