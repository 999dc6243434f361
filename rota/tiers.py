"""The tiers of the stratified advice model, in escalation order."""

from __future__ import annotations

import enum


class Tier(enum.StrEnum):
    """An advice tier; the order of definition is the escalation order."""

    SENIOR_NURSE = "senior_nurse"
    GP = "gp"
    SPECIALIST = "specialist"

    @property
    def level(self) -> int:
        """1 for the first line, 2 for the next, and so on."""
        return list(Tier).index(self) + 1


TIERS: tuple[Tier, ...] = tuple(Tier)
