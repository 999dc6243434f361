"""The rota data model: layers of rotations with windows, overrides, swaps; and validation.

Clinicians are int user ids. Instants are timezone-aware (stored in UTC); wall-clock values
(handoff times, windows, start dates) are naive and read in the rota's time zone.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections import defaultdict
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Re-exported (``import X as X``) so that the model and its errors come from one module.
from .errors import InvalidLayer as InvalidLayer
from .errors import InvalidOverride as InvalidOverride
from .errors import InvalidRota as InvalidRota
from .errors import InvalidSwap as InvalidSwap
from .errors import InvalidWindow as InvalidWindow
from .errors import NaiveDatetime as NaiveDatetime
from .errors import OutsideIndex as OutsideIndex
from .errors import RotaError as RotaError
from .tiers import Tier

DEFAULT_TIMEZONE = "Europe/Copenhagen"


class Unit(enum.StrEnum):
    """The unit of a layer's shift length. Days and weeks are calendar days; hours are
    wall-clock hours."""

    HOURS = "hours"
    DAYS = "days"
    WEEKS = "weeks"


@dataclass(frozen=True)
class Window:
    """When a layer is active: from ``start`` on each of ``days`` (0=Monday) until ``end``,
    which is on the next day when ``end <= start`` (00:00-00:00 is a whole day)."""

    days: frozenset[int]
    start: dt.time
    end: dt.time

    @property
    def overnight(self) -> bool:
        """Whether the window ends on the day after it starts."""
        return self.end <= self.start


@dataclass(frozen=True)
class Layer:
    """A rotation: shift k starts at (start_date, handoff) + k * shift_length units, local
    wall-clock, and belongs to ``participants[k % len(participants)]``."""

    id: int
    name: str
    participants: tuple[int, ...]
    shift_length: int
    unit: Unit
    handoff: dt.time
    start_date: dt.date
    windows: tuple[Window, ...] = ()


class OverrideKind(enum.StrEnum):
    """REPLACE puts a clinician in someone's place; ADD is one-off extra cover."""

    REPLACE = "replace"
    ADD = "add"


@dataclass(frozen=True)
class Override:
    """A change to the rota on ``[start, end)``.

    REPLACE with ``replaces=None``: the rota's whole on-duty set becomes ``{clinician}``
    (also where the rota had nobody). REPLACE with ``replaces=x``: ``x`` is replaced by
    ``clinician`` where ``x`` is on duty; the others stay. ADD: ``clinician`` joins the set.
    """

    id: int
    clinician: int
    start: dt.datetime
    end: dt.datetime
    kind: OverrideKind
    replaces: int | None = None


@dataclass(frozen=True)
class Swap:
    """``first`` gives ``[first_start, first_end)`` to ``second`` and takes ``second``'s
    ``[second_start, second_end)``."""

    id: int
    first: int
    second: int
    first_start: dt.datetime
    first_end: dt.datetime
    second_start: dt.datetime
    second_end: dt.datetime

    def as_overrides(self) -> tuple[Override, Override]:
        """The two REPLACE overrides the swap stands for; both carry the swap's id."""
        replace = OverrideKind.REPLACE
        return (
            Override(self.id, self.second, self.first_start, self.first_end, replace, self.first),
            Override(self.id, self.first, self.second_start, self.second_end, replace, self.second),
        )


@dataclass(frozen=True)
class Rota:
    """One duty rota of a tier. Later layers are higher and win where they cover."""

    id: int
    name: str
    tier: str
    timezone: str = DEFAULT_TIMEZONE
    layers: tuple[Layer, ...] = ()
    overrides: tuple[Override, ...] = ()
    swaps: tuple[Swap, ...] = ()

    def zone(self) -> ZoneInfo:
        """The rota's time zone; ``InvalidRota`` when the name is not a known zone."""
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise InvalidRota(f"rota {self.id}: unknown time zone {self.timezone!r}") from None

    def effective_overrides(self) -> tuple[Override, ...]:
        """Overrides in the order they apply: swaps (by id), then overrides (by id)."""
        swapped = [o for swap in sorted(self.swaps, key=_by_id) for o in swap.as_overrides()]
        return (*swapped, *sorted(self.overrides, key=_by_id))


def _by_id(item: Override | Swap) -> int:
    return item.id


@dataclass(frozen=True)
class Shift:
    """A stretch of the final schedule in UTC with the same on-duty set, never empty."""

    start: dt.datetime
    end: dt.datetime
    clinicians: frozenset[int]
    rota_id: int

    def __post_init__(self) -> None:
        assert self.start < self.end, (self.start, self.end)
        assert self.clinicians, "a shift has someone on duty"


@dataclass(frozen=True)
class Gap:
    """A stretch in UTC with nobody on duty."""

    start: dt.datetime
    end: dt.datetime


# Validation ---------------------------------------------------------------------------------

_TIERS, _UNITS, _KINDS = frozenset(Tier), frozenset(Unit), frozenset(OverrideKind)


def validate_rota(rota: Rota) -> list[str]:
    """Every problem found in ``rota``, one message each; empty when it is valid."""
    return [str(problem) for problem in rota_problems(rota)]


def check_rota(rota: Rota) -> Rota:
    """``rota`` itself when valid; otherwise raise its first problem (a ``RotaError``)."""
    problems = rota_problems(rota)
    if problems:
        raise problems[0]
    return rota


def rota_problems(rota: Rota) -> list[RotaError]:
    """Every problem found in ``rota`` as the error naming it."""
    problems: list[RotaError] = []
    try:
        rota.zone()
    except InvalidRota as problem:
        problems.append(problem)
    if rota.tier not in _TIERS:
        problems.append(InvalidRota(f"rota {rota.id}: unknown tier {rota.tier!r}"))
    for kind, items in (("layer", rota.layers), ("override", rota.overrides), ("swap", rota.swaps)):
        ids = [item.id for item in items]
        for duplicate in sorted({i for i in ids if ids.count(i) > 1}):
            problems.append(InvalidRota(f"rota {rota.id}: more than one {kind} {duplicate}"))
    for layer in rota.layers:
        problems += layer_problems(layer)
    for override in rota.overrides:
        problems += _interval_problems(f"override {override.id}", override.start, override.end)
        problems += override_problems(override)
    for swap in rota.swaps:
        problems += swap_problems(swap)
    return problems + _overlap_problems(rota)


def layer_problems(layer: Layer) -> list[RotaError]:
    """What stops ``layer`` from producing shifts."""
    name = f"layer {layer.id} ({layer.name!r})"
    problems: list[RotaError] = []
    if not layer.participants:
        problems.append(InvalidLayer(f"{name}: no participants"))
    if layer.shift_length < 1:
        problems.append(InvalidLayer(f"{name}: shift length {layer.shift_length} is below 1"))
    if layer.unit not in _UNITS:
        problems.append(InvalidLayer(f"{name}: unknown unit {layer.unit!r}"))
    if layer.handoff.tzinfo is not None:
        problems.append(InvalidLayer(f"{name}: the handoff time must be wall-clock, no zone"))
    for number, window in enumerate(layer.windows, 1):
        problems += _window_problems(f"{name} window {number}", window)
    return problems


def _window_problems(name: str, window: Window) -> list[RotaError]:
    problems: list[RotaError] = []
    if not window.days:
        problems.append(InvalidWindow(f"{name}: no days"))
    bad_days = sorted(d for d in window.days if d not in range(7))
    if bad_days:
        problems.append(InvalidWindow(f"{name}: days {bad_days} are not 0 (Monday) to 6"))
    if window.start.tzinfo is not None or window.end.tzinfo is not None:
        problems.append(InvalidWindow(f"{name}: times must be wall-clock, without a zone"))
    return problems


def override_problems(override: Override) -> list[RotaError]:
    """What is wrong with ``override`` on its own (its instants are checked by the rota)."""
    name = f"override {override.id}"
    if override.kind not in _KINDS:
        return [InvalidOverride(f"{name}: unknown kind {override.kind!r}")]
    if override.kind == OverrideKind.ADD and override.replaces is not None:
        return [InvalidOverride(f"{name}: an ADD override replaces nobody")]
    if override.replaces == override.clinician:
        return [InvalidOverride(f"{name}: clinician {override.clinician} replaces themself")]
    return []


def swap_problems(swap: Swap) -> list[RotaError]:
    """What is wrong with ``swap``: its instants, its clinicians, overlapping shifts."""
    name = f"swap {swap.id}"
    problems = _interval_problems(name, swap.first_start, swap.first_end, InvalidSwap)
    problems += _interval_problems(name, swap.second_start, swap.second_end, InvalidSwap)
    if swap.first == swap.second:
        problems.append(InvalidSwap(f"{name}: clinician {swap.first} swaps with themself"))
    if not problems and swap.first_start < swap.second_end and swap.second_start < swap.first_end:
        problems.append(InvalidSwap(f"{name}: the two shifts overlap"))
    return problems


def _interval_problems(
    name: str,
    start: dt.datetime,
    end: dt.datetime,
    error: type[RotaError] = InvalidOverride,
) -> list[RotaError]:
    naive = [what for what, value in (("start", start), ("end", end)) if _is_naive(value)]
    if naive:
        return [error(f"{name}: {' and '.join(naive)} without a time zone")]
    if end <= start:
        return [error(f"{name}: ends at {end.isoformat()}, not after its start")]
    return []


def _is_naive(value: dt.datetime) -> bool:
    return value.tzinfo is None or value.utcoffset() is None


def _overlap_problems(rota: Rota) -> list[RotaError]:
    """Overrides (swaps included) that put one clinician in two changes at the same time."""
    labelled = [(f"override {o.id}", o) for o in rota.overrides]
    labelled += [(f"swap {s.id}", o) for s in rota.swaps for o in s.as_overrides()]
    by_clinician: defaultdict[int, list[tuple[str, Override]]] = defaultdict(list)
    for label, override in labelled:
        if not _interval_problems(label, override.start, override.end):
            by_clinician[override.clinician].append((label, override))
    problems: list[RotaError] = []
    for clinician, items in sorted(by_clinician.items()):
        # By start, the longest first, so that a long change is named before what it covers.
        items.sort(key=lambda item: item[1].end, reverse=True)
        items.sort(key=lambda item: item[1].start)
        reach = items[0]
        for item in items[1:]:
            if item[1].start < reach[1].end:
                problems.append(
                    InvalidOverride(f"{reach[0]} and {item[0]} overlap for clinician {clinician}")
                )
            if item[1].end > reach[1].end:
                reach = item
    return problems
