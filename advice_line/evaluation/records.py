"""What evaluation reads (episode and course records) and the filter that selects them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from advice_line.episodes.model import EpisodeFacts
from rota.tiers import TIERS

#: Periods are local dates here; stored times are UTC.
ZONE = ZoneInfo("Europe/Copenhagen")
DIAGNOSIS_GROUPS = ("cancer", "non_cancer")
DISPOSITIONS = ("phone_advice", "nurse_visit", "gp_visit", "admission", "hospice", "died", "other")
PLACES = ("home", "nursing_home", "hospice", "hospital", "other")
#: The longest period one report covers (about three years).
MAX_PERIOD_DAYS = 1100


@dataclass(frozen=True)
class EpisodeRecord:
    """One advice episode: its facts and who it was about, with its current documentation."""

    facts: EpisodeFacts
    patient_id: int
    organisation_id: int
    diagnosis_group: str
    nurse_id: int
    disposition: str | None  # None: not documented (yet)
    follow_up: bool | None


@dataclass(frozen=True)
class CourseRecord:
    """The current outcome of one patient's course of palliative care."""

    patient_id: int
    organisation_id: int
    diagnosis_group: str
    course_ended_on: dt.date
    died: bool
    place_of_death: str | None
    wished_place: str  # one of PLACES or "unknown"

    @property
    def wish_known(self) -> bool:
        return self.wished_place != "unknown"

    @property
    def died_where_wished(self) -> bool:
        return self.died and self.wish_known and self.place_of_death == self.wished_place


@dataclass(frozen=True)
class ReportFilter:
    """A period of local dates (``start`` included, ``end`` not), optionally one organisation
    and one tier (episodes that reached it: it was offered to someone there)."""

    start: dt.date
    end: dt.date
    organisation_id: int | None = None
    tier: int | None = None

    def __post_init__(self) -> None:
        assert self.start < self.end, (self.start, self.end)

    def instants(self, zone: dt.tzinfo = ZONE) -> tuple[dt.datetime, dt.datetime]:
        """The period as UTC instants: local midnight of ``start`` to that of ``end``."""
        return tuple(  # type: ignore[return-value]
            dt.datetime.combine(d, dt.time(0), tzinfo=zone).astimezone(dt.UTC)
            for d in (self.start, self.end)
        )

    def query(self) -> dict[str, str]:
        """The filter as query parameters (the inverse of :func:`parse_filter`)."""
        q = {"from": self.start.isoformat(), "to": self.end.isoformat()}
        if self.organisation_id is not None:
            q["organisation"] = str(self.organisation_id)
        if self.tier is not None:
            q["tier"] = str(self.tier)
        return q

    def to_json(self) -> dict[str, Any]:
        return {"from": self.start, "to": self.end, "organisation_id": self.organisation_id,
                "tier": self.tier}  # fmt: skip


class FilterError(ValueError):
    """Bad filter parameters; ``errors`` name each field with a stable ``code``."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


def _error(field: str, code: str, message: str) -> dict[str, Any]:
    return {"field": field, "code": code, "message": message}


def this_month(today: dt.date) -> tuple[dt.date, dt.date]:
    """The local calendar month that holds ``today``, half-open."""
    start = today.replace(day=1)
    return start, (start + dt.timedelta(days=32)).replace(day=1)


def _date(raw: str | None, field: str, default: dt.date, errors: list[dict[str, Any]]) -> dt.date:
    if raw is None or raw == "":
        return default
    try:
        if len(raw) != 10:
            raise ValueError(raw)
        return dt.date.fromisoformat(raw)
    except ValueError:
        errors.append(_error(field, "not_date", "must be a date (YYYY-MM-DD)"))
        return default


def _number(raw: str | None, field: str, errors: list[dict[str, Any]]) -> int | None:
    if raw is None or raw == "":
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        errors.append(_error(field, "not_integer", "must be a whole number"))
        return None
    return int(raw)


KNOWN_PARAMETERS = frozenset({"from", "to", "organisation", "tier"})


def parse_filter(
    query: Mapping[str, str], today: dt.date, *, extra: frozenset[str] = frozenset()
) -> ReportFilter:
    """A filter from query parameters ``from``, ``to`` (local dates, ``to`` not included;
    default: the month of ``today``), ``organisation`` and ``tier`` (1 to 3).

    Raises :class:`FilterError` naming every bad parameter; parameters other than these and
    ``extra`` are refused too, so a typo never silently widens a report.
    """
    errors = [
        _error(name, "unknown_parameter", "unknown parameter")
        for name in query
        if name not in KNOWN_PARAMETERS | extra
    ]
    start = _date(query.get("from"), "from", this_month(today)[0], errors)
    # Without ``to``: up to the end of the month ``from`` falls in (this month by default).
    end = _date(query.get("to"), "to", this_month(start)[1], errors)
    organisation = _number(query.get("organisation"), "organisation", errors)
    tier = _number(query.get("tier"), "tier", errors)
    if tier is not None and not 1 <= tier <= len(TIERS):
        errors.append(_error("tier", "choice", f"must be a tier from 1 to {len(TIERS)}"))
    if not errors and end <= start:
        errors.append(_error("to", "end_before_start", "must be after from"))
    if not errors and (end - start).days > MAX_PERIOD_DAYS:
        errors.append(_error("to", "period_too_long", f"a report covers at most {MAX_PERIOD_DAYS} days"))  # fmt: skip
    if errors:
        raise FilterError(errors)
    return ReportFilter(start, end, organisation, tier)
