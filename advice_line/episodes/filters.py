"""The query string of the episode list, checked strictly: every bad filter is named with a
stable code (as field errors in request bodies are), and nothing is guessed.

``from`` and ``to`` take a local date (``2026-11-02``: whole days in Danish time, ``to``
inclusive) or an RFC 3339 instant with an offset (``to`` exclusive).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from advice_line.problems import Problem
from rota.model import DEFAULT_TIMEZONE

from .reading import OUTCOMES, EpisodeFilter
from .store import DISPOSITIONS

MAX_LIMIT = 100
_KNOWN = ("mine", "from", "to", "organisation_id", "outcome", "disposition", "undocumented",
          "before", "limit")  # fmt: skip
_ZONE = ZoneInfo(DEFAULT_TIMEZONE)


class _Errors(list[dict[str, Any]]):
    def add(self, field: str, code: str, message: str, **params: Any) -> None:
        self.append({"field": field, "code": code, "message": message, **params})


def _flag(query: Mapping[str, str], name: str, errors: _Errors) -> bool:
    raw = query.get(name)
    if raw is None or raw == "false":
        return False
    if raw == "true":
        return True
    errors.add(name, "not_boolean", "must be true or false")
    return False


def _id(
    query: Mapping[str, str], name: str, errors: _Errors, *, maximum: int | None = None
) -> int | None:
    raw = query.get(name)
    if raw is None:
        return None
    if not re.fullmatch(r"[0-9]{1,18}", raw):
        errors.add(name, "not_integer", "must be a whole number")
        return None
    value = int(raw)
    if value < 1:
        errors.add(name, "too_small", "must be at least 1", limit=1)
    elif maximum is not None and value > maximum:
        errors.add(name, "too_large", f"must be at most {maximum}", limit=maximum)
    return value


def _instant(
    query: Mapping[str, str], name: str, errors: _Errors, *, end: bool
) -> dt.datetime | None:
    raw = query.get(name)
    if raw is None:
        return None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        try:
            day = dt.date.fromisoformat(raw)
        except ValueError:
            errors.add(name, "not_date", "must be a date (YYYY-MM-DD) or a date-time")
            return None
        day += dt.timedelta(days=1) if end else dt.timedelta()
        return dt.datetime.combine(day, dt.time(), _ZONE).astimezone(dt.UTC)
    try:
        value = dt.datetime.fromisoformat(raw.replace("z", "Z")) if len(raw) <= 40 else None
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        errors.add(name, "not_date", "must be a date (YYYY-MM-DD) or a date-time with an offset")
        return None
    return value.astimezone(dt.UTC)


def _choice(
    query: Mapping[str, str], name: str, choices: tuple[str, ...], errors: _Errors
) -> str | None:
    raw = query.get(name)
    if raw is not None and raw not in choices:
        errors.add(name, "choice", "must be one of " + ", ".join(choices), choices=list(choices))
        return None
    return raw


def parse(query: Mapping[str, str]) -> EpisodeFilter:
    """The filter a query string asks for; 400 naming every bad parameter."""
    errors = _Errors()
    for name in query:
        if name not in _KNOWN:
            errors.add(name, "unknown_field", "unknown filter")
    since = _instant(query, "from", errors, end=False)
    until = _instant(query, "to", errors, end=True)
    if since and until and until <= since:
        errors.add("to", "end_before_start", "must be after from")
    limit = _id(query, "limit", errors, maximum=MAX_LIMIT)
    result = EpisodeFilter(
        mine=_flag(query, "mine", errors), since=since, until=until,
        organisation_id=_id(query, "organisation_id", errors),
        outcome=_choice(query, "outcome", OUTCOMES, errors),
        disposition=_choice(query, "disposition", DISPOSITIONS, errors),
        undocumented=_flag(query, "undocumented", errors),
        before_id=_id(query, "before", errors), limit=limit or 25,
    )  # fmt: skip
    if errors:
        raise Problem(400, "bad-request", "Bad request", "some filters are invalid", errors=errors)
    return result
