"""The routing policy (timings and strategy per tier) and the situation the engine reports."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from rota.tiers import TIERS, Tier

from .consultation import Urgency
from .errors import InvalidPolicy

#: The tier whose view may name the patient's own GP.
GP_TIER = Tier.GP.level


class Strategy(enum.StrEnum):
    """How a tier's rota is rung: everyone at once, or one at a time, longest idle first."""

    RING_ALL = "ring_all"
    LONGEST_IDLE = "longest_idle"


@dataclass(frozen=True)
class TierPolicy:
    """How long and how one tier is rung, and how long woken advisors get to come online."""

    ring_seconds: float
    strategy: Strategy = Strategy.RING_ALL
    step_seconds: float = 20
    wake_grace_seconds: float = 60

    def __post_init__(self) -> None:
        for name in ("ring_seconds", "step_seconds", "wake_grace_seconds"):
            if not getattr(self, name) > 0:
                raise InvalidPolicy(f"{name} must be positive, not {getattr(self, name)!r}")
        if not isinstance(self.strategy, Strategy):
            raise InvalidPolicy(f"unknown strategy {self.strategy!r}")

    @property
    def ring(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.ring_seconds)

    @property
    def step(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.step_seconds)

    @property
    def wake_grace(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.wake_grace_seconds)


def _every_urgency_at_tier_1() -> Mapping[Urgency, int]:
    return MappingProxyType(dict.fromkeys(Urgency, 1))


@dataclass(frozen=True)
class Policy:
    """Per tier (``tiers[0]`` is tier 1), and for every consultation: retry, wrap-up and the
    start tier per urgency."""

    tiers: tuple[TierPolicy, ...]
    retry_seconds: float = 30
    wrap_up_seconds: float = 300
    start_tier: Mapping[Urgency, int] = field(default_factory=_every_urgency_at_tier_1)

    def __post_init__(self) -> None:
        if len(self.tiers) != len(TIERS):
            raise InvalidPolicy(f"a policy has {len(TIERS)} tiers, not {len(self.tiers)}")
        for name in ("retry_seconds", "wrap_up_seconds"):
            if not getattr(self, name) > 0:
                raise InvalidPolicy(f"{name} must be positive, not {getattr(self, name)!r}")
        for urgency in Urgency:
            tier = self.start_tier.get(urgency)
            if not isinstance(tier, int) or not 1 <= tier <= self.top:
                raise InvalidPolicy(f"start tier for {urgency.value} must be 1..{self.top}")
        object.__setattr__(self, "start_tier", MappingProxyType(dict(self.start_tier)))

    @classmethod
    def default(cls) -> Policy:
        """45/90/90 s rings, ring_all everywhere, 20 s steps, 60 s wake grace, retry every
        30 s, 300 s wrap-up, every urgency starting at tier 1."""
        return cls(tiers=(TierPolicy(45), TierPolicy(90), TierPolicy(90)))

    @property
    def top(self) -> int:
        """The highest tier number."""
        return len(self.tiers)

    def tier(self, number: int) -> TierPolicy:
        """The policy of tier ``number`` (1-based)."""
        assert 1 <= number <= self.top, number
        return self.tiers[number - 1]

    @property
    def retry(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.retry_seconds)

    @property
    def wrap_up(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.wrap_up_seconds)


@dataclass(frozen=True)
class TierView:
    """What the engine knows now about one tier.

    ``on_duty``: on duty by the rotas; ``online``: those of them with a live connection;
    ``available``: those online, available and not in a call, longest idle first;
    ``own_gp`` (tier 2): the patient's own GP when committed now and available, else None.
    """

    on_duty: frozenset[int]
    available: tuple[int, ...]
    online: frozenset[int]
    own_gp: int | None = None

    def __post_init__(self) -> None:
        # The engine reads rotas and presence at slightly different instants; rather than
        # refuse to route, the view is made consistent: only those on duty count, and an
        # available advisor is online.
        available = tuple(dict.fromkeys(a for a in self.available if a in self.on_duty))
        object.__setattr__(self, "available", available)
        object.__setattr__(self, "online", (self.online & self.on_duty) | frozenset(available))

    @property
    def asleep(self) -> bool:
        """Advisors are on duty but none of them is online."""
        return bool(self.on_duty) and not self.online


#: Tier number -> view; a tier missing from it has nobody on duty.
Situation = Mapping[int, TierView]


class SituationNeeded(Exception):
    """Deciding with :data:`UNREAD` came to a rule that looks at the tiers."""


class _Unread(Mapping[int, TierView]):
    """A situation not gathered yet: any look at it raises :class:`SituationNeeded`."""

    def __getitem__(self, tier: int) -> TierView:
        raise SituationNeeded(tier)

    def __iter__(self) -> Iterator[int]:
        raise SituationNeeded(None)

    def __len__(self) -> int:
        raise SituationNeeded(None)


#: Decide with this first: most events (accept, end, wrap-up, a stale timer ...) never look
#: at the tiers, and gathering the situation is the costly part of a step. ``decide`` is
#: deterministic, so when it does not raise :class:`SituationNeeded` its answer (a decision
#: or a refusal) is the one any situation would have given.
UNREAD: Situation = _Unread()

NOBODY = TierView(frozenset(), (), frozenset())
