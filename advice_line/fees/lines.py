"""Fee lines: what each clinician earns for each contact, each stretch on duty and each GP
commitment, every line naming the rule that produced it and the schedule version it used.

The rules (docs/fees.md says the same in prose):

* **Contact** - one per ``Participation`` that has ended: the schedule in force at the local
  date of ``joined_at`` prices it by the participant's tier and the episode's channel; the
  band at ``joined_at`` adds its surcharge (percent of the contact fee, or its fixed amount)
  as a line of its own; time in the call beyond ``threshold_minutes`` earns a supplement per
  *started* interval (exactly at the threshold: none; one second over: one).
* **Standby** - on-duty intervals are cut to whole minutes (start and end floored to the
  minute), merged per clinician and tier, cut at local midnight of every schedule's
  effective date and, when the schedule says ``band_surcharges = true``, at band changes;
  each piece pays ``minutes x per_hour / 60`` (and the band's surcharge: percent of that, or
  the fixed amount per hour, pro rata).
* **GP commitment** - one line per (GP, patient, month) when a commitment of that GP for that
  patient is valid on any day of the month; priced by the schedule in force on the first such
  day.

Every amount is exact ``Decimal`` arithmetic rounded once, per line, to the øre with
ROUND_HALF_UP. What cannot be priced (no schedule in force yet, a call still going on) is
returned as ``Unpriced``, never silently left out.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from advice_line.episodes.model import EpisodeFacts, Participation

from .bands import band_at, local, pieces
from .period import Month, midnight
from .schedule import CHANNELS, TIERS, FeeSchedule, Schedules

ORE = Decimal("0.01")
_MINUTE = dt.timedelta(minutes=1)
#: The order lines of one consultation or period are listed in.
KINDS = ("contact", "contact_surcharge", "supplement", "standby", "standby_surcharge",
         "commitment")  # fmt: skip


def to_ore(amount: Decimal) -> Decimal:
    """Round to the øre, halves up (the one rounding rule; applied per line, never on sums)."""
    return amount.quantize(ORE, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class FeeLine:
    """One priced item. ``amount = to_ore(quantity x unit_amount / per)``: ``per`` is 60 for
    standby (minutes of an hourly rate) and 1 otherwise."""

    clinician_id: int
    kind: str
    rule: str
    schedule_version: str
    quantity: Decimal
    unit: str  # "contact", "interval", "minute", "patient_month"
    unit_amount: Decimal
    amount: Decimal
    consultation_id: int | None
    period_start: dt.datetime
    period_end: dt.datetime
    detail: str = ""
    per: int = 1

    def __post_init__(self) -> None:
        assert self.amount == to_ore(self.quantity * self.unit_amount / self.per), self

    @property
    def sort_key(self) -> tuple[dt.datetime, int, int, int, str]:
        return (self.period_start, self.clinician_id, self.consultation_id or 0,
                KINDS.index(self.kind), self.rule)  # fmt: skip


@dataclass(frozen=True)
class Unpriced:
    """Something that earns a fee but could not be priced, and why."""

    clinician_id: int
    kind: str
    consultation_id: int | None
    period_start: dt.datetime
    period_end: dt.datetime | None
    reason: str  # "no_schedule", "call_not_ended", "unknown_tier", "unknown_channel"


@dataclass(frozen=True)
class Priced:
    """Lines (in ``sort_key`` order) and what could not be priced."""

    lines: tuple[FeeLine, ...] = ()
    unpriced: tuple[Unpriced, ...] = ()


def _line(
    clinician: int, kind: str, rule: str, schedule: FeeSchedule, quantity: int | Decimal,
    unit: str, unit_amount: Decimal, start: dt.datetime, end: dt.datetime, *,
    consultation: int | None = None, detail: str = "", per: int = 1,
) -> FeeLine:  # fmt: skip
    q = Decimal(quantity)
    return FeeLine(clinician, kind, rule, schedule.version, q, unit, unit_amount,
                   to_ore(q * unit_amount / per), consultation, start, end, detail, per)  # fmt: skip


# Contacts ---------------------------------------------------------------------------------


def started_intervals(call: dt.timedelta, threshold_minutes: int, interval_minutes: int) -> int:
    """Started intervals beyond the threshold (0 at or under it, 1 for one second over)."""
    beyond = call - dt.timedelta(minutes=threshold_minutes)
    if beyond <= dt.timedelta(0):
        return 0
    interval = dt.timedelta(minutes=interval_minutes)
    return -(-beyond // interval)  # ceiling division of timedeltas


def _participation_lines(
    facts: EpisodeFacts, p: Participation, schedule: FeeSchedule
) -> list[FeeLine]:
    assert p.left_at is not None
    cid, start, end = facts.consultation_id, p.joined_at, p.left_at
    fee = schedule.contact[(p.tier, facts.channel)]
    found = [_line(p.advisor, "contact", f"contact.tier{p.tier}.{facts.channel}", schedule, 1,
                   "contact", fee, start, end, consultation=cid)]  # fmt: skip
    band = band_at(schedule.calendar, start)
    if band.charges:
        surcharge = to_ore(band.surcharge_on(fee))
        how = f"{band.surcharge_percent} % of {fee}" if band.surcharge_percent is not None else "fixed"  # fmt: skip
        found.append(_line(p.advisor, "contact_surcharge", band.rule, schedule, 1, "contact",
                           surcharge, start, end, consultation=cid,
                           detail=f"band {band.name}: {how}"))  # fmt: skip
    s = schedule.supplement
    count = started_intervals(end - start, s.threshold_minutes, s.interval_minutes)
    if count and s.amount[p.tier]:
        found.append(_line(p.advisor, "supplement", f"supplement.tier{p.tier}", schedule, count,
                           "interval", s.amount[p.tier], start, end, consultation=cid,
                           detail=f"{count} started {s.interval_minutes}-minute interval(s) "
                           f"beyond {s.threshold_minutes} minutes"))  # fmt: skip
    return found


def episode_lines(facts: EpisodeFacts, schedules: Schedules) -> Priced:
    """The lines of one episode: each ended participation priced by the schedule in force at
    the local date it joined."""
    lines: list[FeeLine] = []
    unpriced: list[Unpriced] = []
    for p in facts.participations:
        schedule = schedules.in_force(local(p.joined_at).date())
        reason = (
            "call_not_ended" if p.left_at is None
            else "unknown_tier" if p.tier not in TIERS
            else "unknown_channel" if facts.channel not in CHANNELS
            else "no_schedule" if schedule is None
            else None
        )  # fmt: skip
        if reason is not None or schedule is None:
            unpriced.append(Unpriced(p.advisor, "contact", facts.consultation_id, p.joined_at,
                                     p.left_at, reason or "no_schedule"))  # fmt: skip
            continue
        lines.extend(_participation_lines(facts, p, schedule))
    return Priced(tuple(sorted(lines, key=lambda x: x.sort_key)), tuple(unpriced))


# Standby ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OnDuty:
    """A clinician on duty for a tier over ``[start, end)`` (from the rota's final schedule)."""

    clinician_id: int
    tier: int
    start: dt.datetime
    end: dt.datetime


def floor_minute(instant: dt.datetime) -> dt.datetime:
    return instant.astimezone(dt.UTC).replace(second=0, microsecond=0)


def merged(intervals: Iterable[OnDuty]) -> list[OnDuty]:
    """Cut to whole minutes and merged per clinician and tier (overlapping or touching
    stretches become one), sorted."""
    by_key: dict[tuple[int, int], list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    for i in intervals:
        start, end = floor_minute(i.start), floor_minute(i.end)
        if start < end:
            by_key[(i.clinician_id, i.tier)].append((start, end))
    found = []
    for (clinician, tier), spans in sorted(by_key.items()):
        spans.sort()
        current = list(spans[0])
        for start, end in spans[1:]:
            if start <= current[1]:
                current[1] = max(current[1], end)
            else:
                found.append(OnDuty(clinician, tier, current[0], current[1]))
                current = [start, end]
        found.append(OnDuty(clinician, tier, current[0], current[1]))
    return sorted(found, key=lambda i: (i.start, i.clinician_id, i.tier))


def _minutes(start: dt.datetime, end: dt.datetime) -> int:
    return (end - start) // _MINUTE


def _standby_piece(
    duty: OnDuty, schedule: FeeSchedule, start: dt.datetime, end: dt.datetime
) -> list[FeeLine]:
    rate = schedule.standby_per_hour[duty.tier]
    minutes = _minutes(start, end)
    found = [_line(duty.clinician_id, "standby", f"standby.tier{duty.tier}", schedule, minutes,
                   "minute", rate, start, end, per=60, detail=f"{minutes} min at {rate} per hour")]  # fmt: skip
    if not schedule.standby_band_surcharges:
        return found
    for a, b, band in pieces(schedule.calendar, start, end):
        if not band.charges:
            continue
        hourly = band.surcharge_on(rate)  # a fixed amount counts per hour on duty
        m = _minutes(a, b)
        found.append(_line(duty.clinician_id, "standby_surcharge", "standby." + band.rule,
                           schedule, m, "minute", hourly, a, b, per=60,
                           detail=f"band {band.name}: {m} min at {hourly} per hour"))  # fmt: skip
    return found


def standby_lines(
    on_duty: Iterable[OnDuty], schedules: Schedules, start: dt.datetime, end: dt.datetime
) -> Priced:
    """Standby over ``[start, end)``: each merged stretch cut at schedule changes."""
    lines: list[FeeLine] = []
    unpriced: list[Unpriced] = []
    changes = [midnight(d) for d in schedules.effective_dates]
    clipped = [
        OnDuty(i.clinician_id, i.tier, max(i.start, start), min(i.end, end)) for i in on_duty
    ]
    for duty in merged(c for c in clipped if c.start < c.end):
        if duty.tier not in TIERS:
            unpriced.append(Unpriced(duty.clinician_id, "standby", None, duty.start, duty.end,
                                     "unknown_tier"))  # fmt: skip
            continue
        cuts = [duty.start, *(c for c in changes if duty.start < c < duty.end), duty.end]
        for a, b in itertools.pairwise(cuts):
            schedule = schedules.in_force(local(a).date())
            if schedule is None:
                unpriced.append(Unpriced(duty.clinician_id, "standby", None, a, b, "no_schedule"))
            else:
                lines.extend(_standby_piece(duty, schedule, a, b))
    return Priced(tuple(sorted(lines, key=lambda x: x.sort_key)), tuple(unpriced))


# GP commitments ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Commitment:
    """A GP's commitment to a patient, valid on local dates ``[valid_from, valid_to]``."""

    gp_id: int
    patient_id: int
    valid_from: dt.date
    valid_to: dt.date | None


def _first_valid_day(commitments: Sequence[Commitment], month: Month) -> dt.date | None:
    days = [
        max(c.valid_from, month.first_day)
        for c in commitments
        if c.valid_from <= month.last_day and (c.valid_to is None or c.valid_to >= month.first_day)
    ]
    return min(days, default=None)


def commitment_lines(
    commitments: Iterable[Commitment], schedules: Schedules, month: Month
) -> Priced:
    """One retainer per (GP, patient) with a commitment valid on any day of ``month``."""
    groups: dict[tuple[int, int], list[Commitment]] = defaultdict(list)
    for c in commitments:
        groups[(c.gp_id, c.patient_id)].append(c)
    lines: list[FeeLine] = []
    unpriced: list[Unpriced] = []
    for (gp, patient), group in sorted(groups.items()):
        first = _first_valid_day(group, month)
        if first is None:
            continue
        schedule = schedules.in_force(first)
        if schedule is None:
            unpriced.append(Unpriced(gp, "commitment", None, month.start, month.end, "no_schedule"))
            continue
        lines.append(_line(gp, "commitment", "commitment.per_patient_month", schedule, 1,
                           "patient_month", schedule.commitment_per_patient_month, month.start,
                           month.end, detail=f"patient {patient}, valid from {first.isoformat()}"))  # fmt: skip
    return Priced(tuple(sorted(lines, key=lambda x: x.sort_key)), tuple(unpriced))


# A month ----------------------------------------------------------------------------------


def month_lines(
    month: Month,
    episodes: Iterable[EpisodeFacts],
    on_duty: Iterable[OnDuty],
    commitments: Iterable[Commitment],
    schedules: Schedules,
    standby_until: dt.datetime | None = None,
) -> Priced:
    """Every line of ``month``: contacts joined in it, standby within it (up to
    ``standby_until`` when given: a month still running pays the hours served so far), and
    its retainers."""
    until = month.end if standby_until is None else max(month.start, min(month.end, standby_until))
    lines: list[FeeLine] = []
    unpriced: list[Unpriced] = []
    for facts in sorted(episodes, key=lambda f: f.consultation_id):
        priced = episode_lines(facts, schedules)
        lines.extend(x for x in priced.lines if month.contains(x.period_start))
        unpriced.extend(u for u in priced.unpriced if month.contains(u.period_start))
    for priced in (
        standby_lines(on_duty, schedules, month.start, until),
        commitment_lines(commitments, schedules, month),
    ):
        lines.extend(priced.lines)
        unpriced.extend(priced.unpriced)
    return Priced(tuple(sorted(lines, key=lambda x: x.sort_key)), tuple(unpriced))
