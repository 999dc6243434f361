"""Duty rotas: tiers, rotations, overrides, who is on duty at an instant, coverage gaps.

Pure logic: no asyncio, no database, no clock of its own (time is a parameter). The rules
are in docs/rota-rules.md; the DST rule in ``rota.walltime``.
"""

from .errors import (
    InvalidLayer,
    InvalidOverride,
    InvalidRota,
    InvalidSwap,
    InvalidWindow,
    NaiveDatetime,
    OutsideIndex,
    RotaError,
)
from .index import TierIndex
from .model import (
    Gap,
    Layer,
    Override,
    OverrideKind,
    Rota,
    Shift,
    Swap,
    Unit,
    Window,
    check_rota,
    rota_problems,
    validate_rota,
)
from .resolve import coverage_gaps, next_handoffs, on_duty, on_duty_clinicians
from .rotation import LayerShift, layer_shifts
from .schedule import final_schedule
from .tiers import TIERS, Tier
from .timeline import TierSegment
from .walltime import to_instant, to_local

__all__ = [
    "TIERS",
    "Gap",
    "InvalidLayer",
    "InvalidOverride",
    "InvalidRota",
    "InvalidSwap",
    "InvalidWindow",
    "Layer",
    "LayerShift",
    "NaiveDatetime",
    "OutsideIndex",
    "Override",
    "OverrideKind",
    "Rota",
    "RotaError",
    "Shift",
    "Swap",
    "Tier",
    "TierIndex",
    "TierSegment",
    "Unit",
    "Window",
    "check_rota",
    "coverage_gaps",
    "final_schedule",
    "layer_shifts",
    "next_handoffs",
    "on_duty",
    "on_duty_clinicians",
    "rota_problems",
    "to_instant",
    "to_local",
    "validate_rota",
]
