"""The errors the escalation core raises; each message names what was refused and why.

A refused event changes nothing: ``decide`` raises before anything is built, so the caller
keeps the consultation it had.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .consultation import State
    from .events import Event


class EscalationError(ValueError):
    """An event, a policy or a situation that the escalation core cannot accept."""


class IllegalTransition(EscalationError):
    """The event makes no sense in the consultation's state (e.g. ``Escalate`` while ringing)."""

    def __init__(self, state: State, event: Event) -> None:
        self.state = state
        self.event = event
        super().__init__(f"{type(event).__name__} is not allowed in state {state.name}: {event!r}")


class NotOffered(EscalationError):
    """An advisor answered an offer they do not hold: never made, withdrawn, or already won."""

    def __init__(self, advisor: int) -> None:
        self.advisor = advisor
        super().__init__(f"advisor {advisor} has no live offer for this consultation")


class NotParticipant(EscalationError):
    """An advisor acted on a call they are not in (escalate, leave, end, wrap up)."""

    def __init__(self, advisor: int) -> None:
        self.advisor = advisor
        super().__init__(f"advisor {advisor} is not a participant of this consultation")


class NoHigherTier(EscalationError):
    """Escalation was asked for from the highest tier."""

    def __init__(self, tier: int | None = None) -> None:
        self.tier = tier
        where = "" if tier is None else f" above tier {tier}"
        super().__init__(f"there is no higher tier to escalate to{where}")


class InvalidPolicy(EscalationError):
    """A policy value is out of range (non-positive seconds, unknown start tier, ...)."""


class NaiveDatetime(EscalationError):
    """An instant was given without a time zone; the core only accepts aware instants."""
