"""What can happen to a consultation: the events ``decide`` accepts.

Timer events carry the ``seq`` of the ``StartTimer`` action that asked for them; one that
is not the consultation's live timer is stale and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Start:
    """Route a new consultation (in ``REQUESTED``) from the policy's start tier."""


@dataclass(frozen=True)
class Accept:
    """An advisor takes the call they were offered."""

    advisor: int


@dataclass(frozen=True)
class Decline:
    """An advisor turns down the offer they hold."""

    advisor: int


@dataclass(frozen=True)
class RingTimeout:
    """The ring (or a longest-idle step) of ``tier`` ran out."""

    tier: int
    seq: int


@dataclass(frozen=True)
class WakeTimeout:
    """The grace for woken advisors of ``tier`` ran out."""

    tier: int
    seq: int


@dataclass(frozen=True)
class Retry:
    """Time to route a queued call again."""

    seq: int


@dataclass(frozen=True)
class AdvisorAvailable:
    """An advisor became available (online, not in a call)."""

    advisor: int


@dataclass(frozen=True)
class Cancel:
    """The nurse (or her coordinator) withdraws the request before anyone answered."""

    by: int


@dataclass(frozen=True)
class RequestCallback:
    """The nurse would rather be called back than wait on the line."""


@dataclass(frozen=True)
class Escalate:
    """A participant asks for the next tier to join, with a note for them."""

    advisor: int
    note: str


@dataclass(frozen=True)
class Leave:
    """A participant leaves the call."""

    advisor: int


@dataclass(frozen=True)
class End:
    """The nurse or a participant ends the call."""

    by: int


@dataclass(frozen=True)
class WrapUpDone:
    """A participant has documented the call."""

    advisor: int


@dataclass(frozen=True)
class WrapUpTimeout:
    """The wrap-up time ran out."""

    seq: int


@dataclass(frozen=True)
class NurseGone:
    """The nurse's connection is gone for good (the engine decides when)."""


@dataclass(frozen=True)
class Fail:
    """Something outside the core broke the consultation; it cannot go on."""

    reason: str


Event = (
    Start
    | Accept
    | Decline
    | RingTimeout
    | WakeTimeout
    | Retry
    | AdvisorAvailable
    | Cancel
    | RequestCallback
    | Escalate
    | Leave
    | End
    | WrapUpDone
    | WrapUpTimeout
    | NurseGone
    | Fail
)
TimerEvent = RingTimeout | WakeTimeout | Retry | WrapUpTimeout
