"""The errors the rota core raises; each message names the problem and the object it is in."""

from __future__ import annotations


class RotaError(ValueError):
    """Something about a rota, or a question put to one, cannot be accepted."""


class InvalidRota(RotaError):
    """The rota as a whole is wrong: unknown time zone or tier, duplicate ids."""


class InvalidLayer(RotaError):
    """A layer cannot produce shifts: no participants, a shift length below 1, a bad unit."""


class InvalidWindow(RotaError):
    """A layer's window has no days, a day outside 0..6, or times with a time zone."""


class InvalidOverride(RotaError):
    """An override has naive or reversed instants, or overlaps another for its clinician."""


class InvalidSwap(RotaError):
    """A swap has naive or reversed instants, one clinician on both sides, or overlapping shifts."""


class NaiveDatetime(RotaError):
    """An instant was given without a time zone; the rota core only accepts aware instants."""


class OutsideIndex(RotaError):
    """A question was put to a ``TierIndex`` about instants outside the range it was built for."""
