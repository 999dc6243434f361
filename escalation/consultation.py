"""The consultation: its states, what it is about, and where its routing stands.

A ``Consultation`` is a frozen snapshot; ``decide`` returns a new one with ``version`` one
higher. The engine must store every field, including those the machine keeps for itself
(timer seq, offer tiers): a stored consultation then decides exactly as the original.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from .errors import NaiveDatetime


class State(enum.StrEnum):
    """Where a consultation is; see the table in docs/routing.md."""

    REQUESTED = "requested"
    RINGING = "ringing"
    WAKING = "waking"
    QUEUED = "queued"
    CONNECTED = "connected"
    ESCALATING = "escalating"
    WRAP_UP = "wrap_up"
    ENDED = "ended"
    CANCELLED = "cancelled"
    ABANDONED = "abandoned"
    FAILED = "failed"
    CALLBACK = "callback"

    @property
    def final(self) -> bool:
        """Whether nothing more can happen (only stale timers are still accepted, as no-ops)."""
        return self in _FINAL

    @property
    def connected(self) -> bool:
        """Whether a call with at least one advisor is on."""
        return self in (State.CONNECTED, State.ESCALATING)

    @property
    def waiting(self) -> bool:
        """Whether the nurse is still waiting for a first advisor (before connect, not final)."""
        return self in _WAITING


_FINAL = frozenset({State.ENDED, State.CANCELLED, State.ABANDONED, State.FAILED})
_WAITING = frozenset({State.REQUESTED, State.RINGING, State.WAKING, State.QUEUED, State.CALLBACK})


class Urgency(enum.StrEnum):
    """How urgent the nurse says the request is; the policy maps it to a start tier."""

    ACUTE = "acute"
    URGENT = "urgent"
    ROUTINE = "routine"


class Channel(enum.StrEnum):
    """How the call is held."""

    VIDEO = "video"
    AUDIO = "audio"


class Stage(enum.StrEnum):
    """Which step of the current tier: its own GP alone, the rota, or waiting for the woken."""

    NONE = "none"
    OWN_GP = "own_gp"
    ROTA = "rota"
    WAKE = "wake"


class TimerKind(enum.StrEnum):
    """The one timer a consultation may have running."""

    RING = "ring"
    WAKE = "wake"
    RETRY = "retry"
    WRAP_UP = "wrap_up"


@dataclass(frozen=True, kw_only=True)
class Consultation:
    """One request for advice and where its routing stands.

    ``offered`` are the advisors holding a live offer now; ``offer_tiers`` says for which tier
    each holds it, as ``(advisor, tier)`` pairs sorted by advisor (a queued call is offered
    across tiers). ``participants`` are the advisors in the call in join order, with the tier
    each joined for in ``participant_tiers``; they stay through wrap-up into ``ENDED``.
    ``timer_kind``/``timer_seq`` name the one live timer: a timer event carrying another seq,
    or arriving when the kind differs, is stale.
    """

    id: int
    nurse: int
    patient: int
    urgency: Urgency
    channel: Channel
    created: dt.datetime
    state: State = State.REQUESTED
    tier: int = 0
    stage: Stage = Stage.NONE
    offered: frozenset[int] = frozenset()
    declined: frozenset[int] = frozenset()
    tried_tiers: tuple[int, ...] = ()
    participants: tuple[int, ...] = ()
    escalation_note: str | None = None
    version: int = 0
    connected_at: dt.datetime | None = None
    # Beyond the engine's contract: what the machine needs to remember between events.
    offer_tiers: tuple[tuple[int, int], ...] = ()
    timed_out: frozenset[int] = frozenset()
    step: int = 0
    stage_deadline: dt.datetime | None = None
    timer_kind: TimerKind | None = None
    timer_seq: int = 0
    participant_tiers: tuple[int, ...] = ()
    queued_since: dt.datetime | None = None
    wrapped_up: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        assert frozenset(a for a, _ in self.offer_tiers) == self.offered, (
            self.offer_tiers,
            self.offered,
        )
        assert len(self.participant_tiers) == len(self.participants), self.participant_tiers
        assert len(set(self.participants)) == len(self.participants), self.participants

    def offer_tier(self, advisor: int) -> int | None:
        """The tier ``advisor`` holds a live offer for, or None."""
        return next((tier for a, tier in self.offer_tiers if a == advisor), None)

    def offers_of(self, tier: int) -> tuple[int, ...]:
        """The advisors holding a live offer for ``tier``, sorted."""
        return tuple(a for a, t in self.offer_tiers if t == tier)

    @property
    def answer_seconds(self) -> float | None:
        """Seconds from the request to the first advisor joining, once connected."""
        if self.connected_at is None:
            return None
        return (self.connected_at - self.created).total_seconds()


def new_consultation(
    id: int, nurse: int, patient: int, urgency: Urgency, channel: Channel, created: dt.datetime
) -> Consultation:
    """A consultation in ``REQUESTED``, not yet routed; the engine then decides ``Start()``."""
    return Consultation(
        id=id,
        nurse=nurse,
        patient=patient,
        urgency=Urgency(urgency),
        channel=Channel(channel),
        created=aware(created, "created").astimezone(dt.UTC),
    )


def aware(at: dt.datetime, what: str) -> dt.datetime:
    """``at`` itself when it has a time zone; ``NaiveDatetime`` otherwise."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise NaiveDatetime(f"{what} {at.isoformat()} has no time zone")
    return at
