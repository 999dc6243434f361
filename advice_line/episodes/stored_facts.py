"""The ``episode_facts`` table: each closed consultation's facts, as ``derive`` gave them.

A derived copy, never a source of truth. ``derive`` of the timeline decides what the facts
are; this table only saves deriving a closed episode again and again:

* the routing engine writes the row in the transaction that appends the final event, with
  the consultation's row locked (:func:`write`), so it is derived from the whole timeline;
* an event appended later deletes the row (a trigger, migration 0008), so it is derived
  live again until the table is rebuilt;
* ``derived_by`` is a fingerprint of the derive code (``facts.py`` and ``model.py``); a
  row written by other code is ignored, as if it were missing;
* :func:`rebuild` recomputes every row from the timelines and reports (or fixes) each
  difference (``advice-line episodes rebuild-facts [--check]``).

The loaders (evaluation, fees) read the rows of closed episodes with :func:`facts_of` and
derive the others (open ones, and any without a current row) from their events.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import inspect
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import structlog

from advice_line.dataclass_json import to_json
from advice_line.evaluation import rows as rows_module
from advice_line.evaluation.rows import MEASURE_COLUMNS, Measures, measures
from escalation.model import State

from . import facts as facts_module
from . import model as model_module
from .facts import NoRequest, derive
from .model import (
    EpisodeFacts,
    Escalation,
    EventRow,
    Participation,
    QualitySummary,
    TierReached,
)

log = structlog.get_logger("advice_line.episodes.stored_facts")

#: The consultation states after which nothing more is routed (only the facts rows' owners).
FINAL_STATES = tuple(s.value for s in State if s.final)
#: Bump when the stored JSON or columns change shape (the fingerprint then changes too).
_FORMAT = "2"
#: Which derive code wrote a row: the format and a hash of the modules that define the facts
#: and the measures.
DERIVED_BY = (
    _FORMAT
    + ":"
    + hashlib.sha256(
        "".join(inspect.getsource(m) for m in (facts_module, model_module, rows_module)).encode()
    ).hexdigest()[:20]
)
#: The SQL type of each measure column (``m_<field>``, migration 0009).
_MEASURE_TYPES = {
    "requested_at": "timestamptz", "weekday": "smallint", "hour": "smallint",
    "channel": "text", "outcome": "text", "queued": "boolean", "escalation_failed": "boolean",
    "callback_requested": "boolean", "answered": "boolean", "wait": "float8",
    **{f"t{n}{part}": kind for n in (1, 2, 3)
       for part, kind in (("", "text"), ("_answered", "boolean"), ("_reached", "boolean"),
                          ("_wait", "float8"))},
    "q_reports": "integer", "q_rtt": "float8", "q_relayed": "boolean", "q_loss": "float8",
}  # fmt: skip
assert tuple(_MEASURE_TYPES) == MEASURE_COLUMNS
#: The measure columns as a select list of ``episode_facts f``.
MEASURES_SELECTED = ", ".join(f"f.m_{c}" for c in MEASURE_COLUMNS)

_EVENTS = """SELECT consultation_id, id, at, type, actor_id, data FROM consultation_events
              WHERE consultation_id = ANY($1::bigint[]) ORDER BY consultation_id, id"""


# The stored form ----------------------------------------------------------------------------


def to_stored(facts: EpisodeFacts) -> dict[str, Any]:
    """The JSON kept in ``episode_facts.facts`` (field names as in the dataclasses)."""
    stored: dict[str, Any] = to_json(facts)
    return stored


def _at(value: str | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value)


def from_stored(data: Mapping[str, Any]) -> EpisodeFacts:
    """The facts back from :func:`to_stored` (by hand: this runs once per episode read)."""
    at = dt.datetime.fromisoformat
    q = data["quality"]
    return EpisodeFacts(
        consultation_id=data["consultation_id"],
        requested_at=at(data["requested_at"]),
        channel=data["channel"],
        urgency=data["urgency"],
        start_tier=data["start_tier"],
        tiers=tuple(
            TierReached(
                t["tier"],
                at(t["reached_at"]),
                tuple(t["offered"]),
                t["skipped"],
                t["answered_by"],
                _at(t["answered_at"]),
            )
            for t in data["tiers"]
        ),
        participations=tuple(
            Participation(p["advisor"], p["tier"], at(p["joined_at"]), _at(p["left_at"]))
            for p in data["participations"]
        ),
        escalations=tuple(
            Escalation(at(e["at"]), e["by"], e["from_tier"], e["note"], e["result"])
            for e in data["escalations"]
        ),
        declined=tuple(data["declined"]),
        timed_out=tuple(data["timed_out"]),
        callback_requested=data["callback_requested"],
        queued=data["queued"],
        first_answer_at=_at(data["first_answer_at"]),
        call_ended_at=_at(data["call_ended_at"]),
        closed_at=_at(data["closed_at"]),
        outcome=data["outcome"],
        quality=QualitySummary(
            q["reports"],
            q["median_rtt_ms"],
            q["max_packet_loss"],
            q["mean_bitrate_kbps"],
            q["relay_share"],
        ),
    )


# Reading --------------------------------------------------------------------------------


async def events_of(conn: asyncpg.Connection, ids: Sequence[int]) -> dict[int, list[EventRow]]:
    """The timelines of ``ids`` in one query, each in id order (as ``derive`` takes them)."""
    events: dict[int, list[EventRow]] = defaultdict(list)
    if not ids:
        return events
    for e in await conn.fetch(_EVENTS, list(ids)):
        events[e["consultation_id"]].append(
            EventRow(e["id"], e["at"], e["type"], e["actor_id"], dict(e["data"] or {}))
        )
    return events


def stored_measures(values: Sequence[Any]) -> Measures | None:
    """The measures from the values of :data:`MEASURES_SELECTED`, in order (a slice of a
    row: by position, since this runs once per episode of a report); None: not stored."""
    return None if values[0] is None else Measures(*values)


def stored_join(parameter: int) -> str:
    """The join that gives a query over ``consultations c`` the column ``f.facts``: the
    stored facts when written by this derive code (:data:`DERIVED_BY` as ``$parameter``),
    else NULL."""
    return f"LEFT JOIN episode_facts f ON f.consultation_id = c.id AND f.derived_by = ${parameter}"


async def facts_of(
    conn: asyncpg.Connection, rows: Iterable[tuple[int, Any]]
) -> dict[int, EpisodeFacts]:
    """The facts of each ``(consultation id, stored facts or None)``: the stored ones as
    they are, the others derived from their timelines (one query for all of them). A
    timeline without a request has no facts; it is missing from the answer."""
    found: dict[int, EpisodeFacts] = {}
    live: list[int] = []
    for consultation_id, stored in rows:
        if stored is None:
            live.append(consultation_id)
        else:
            found[consultation_id] = from_stored(stored)
    events = await events_of(conn, live)
    for consultation_id in live:
        try:
            found[consultation_id] = derive(consultation_id, events[consultation_id])
        except NoRequest:
            continue
    return found


# Writing --------------------------------------------------------------------------------


# The patient and organisation come from the consultation (they never change), so that a
# report reads the stored rows without the consultations.
_UPSERT = f"""
    INSERT INTO episode_facts (consultation_id, derived_by, facts, patient_id, organisation_id,
                               {", ".join(f"m_{c}" for c in MEASURE_COLUMNS)})
    SELECT u.id, u.derived_by, u.facts, c.patient_id, c.organisation_id,
           {", ".join(f"u.m_{c}" for c in MEASURE_COLUMNS)}
      FROM unnest($1::bigint[], $2::text[], $3::jsonb[],
                  {", ".join(f"${i}::{t}[]" for i, t in enumerate(_MEASURE_TYPES.values(), 4))})
           AS u(id, derived_by, facts, {", ".join(f"m_{c}" for c in MEASURE_COLUMNS)})
      JOIN consultations c ON c.id = u.id
    ON CONFLICT (consultation_id) DO UPDATE SET derived_by = excluded.derived_by,
        facts = excluded.facts, patient_id = excluded.patient_id,
        organisation_id = excluded.organisation_id,
        {", ".join(f"m_{c} = excluded.m_{c}" for c in MEASURE_COLUMNS)}"""


async def _upsert(conn: asyncpg.Connection, rows: Sequence[tuple[int, EpisodeFacts]]) -> None:
    """Store the facts and measures of ``(consultation id, facts)`` pairs."""
    if not rows:
        return
    measured = [measures(facts) for _, facts in rows]
    await conn.execute(
        _UPSERT, [i for i, _ in rows], [DERIVED_BY] * len(rows),
        [to_stored(facts) for _, facts in rows], *(list(column) for column in zip(*measured, strict=True)),
    )  # fmt: skip


async def write(conn: asyncpg.Connection, consultation_id: int) -> None:
    """Store the facts of a consultation that has just closed, derived from its timeline.

    Call inside the transaction that appended the final event, with the row locked."""
    events = (await events_of(conn, [consultation_id]))[consultation_id]
    try:
        facts = derive(consultation_id, events)
    except NoRequest:  # never expected: the first step records the request
        log.warning("episode_facts.timeline_without_request", consultation_id=consultation_id)
        return
    await _upsert(conn, [(consultation_id, facts)])


# Rebuilding -----------------------------------------------------------------------------


@dataclass
class Rebuild:
    """What a rebuild found: rows missing, derived by other code, differing, or stored for
    an open consultation (each list holds consultation ids), and how many were checked."""

    checked: int = 0
    missing: list[int] = field(default_factory=list)
    outdated: list[int] = field(default_factory=list)
    differing: list[int] = field(default_factory=list)
    extra: list[int] = field(default_factory=list)

    @property
    def differences(self) -> int:
        return len(self.missing) + len(self.outdated) + len(self.differing) + len(self.extra)


async def rebuild(conn: asyncpg.Connection, *, fix: bool, batch: int = 5000) -> Rebuild:
    """Compare every stored row with ``derive`` of its timeline; with ``fix``, make the table
    equal to it. Each batch runs in one transaction with its closed consultations locked,
    so an event appended meanwhile waits and then deletes the row as it should."""
    result = Rebuild()
    after = 0
    while True:
        async with conn.transaction():
            rows = await conn.fetch(
                f"""SELECT c.id, c.state, f.derived_by, f.facts, {MEASURES_SELECTED}
                      FROM consultations c LEFT JOIN episode_facts f ON f.consultation_id = c.id
                    WHERE c.id > $1 ORDER BY c.id LIMIT $2
                      FOR UPDATE OF c""",
                after, batch,
            )  # fmt: skip
            if not rows:
                return result
            after = rows[-1]["id"]
            await _rebuild_batch(conn, rows, result, fix)


async def _rebuild_batch(
    conn: asyncpg.Connection, rows: Sequence[asyncpg.Record], result: Rebuild, fix: bool
) -> None:
    closed = [r for r in rows if r["state"] in FINAL_STATES]
    events = await events_of(conn, [r["id"] for r in closed])
    extra = [r["id"] for r in rows if r["state"] not in FINAL_STATES and r["facts"] is not None]
    result.extra += extra
    upserts: list[tuple[int, EpisodeFacts]] = []
    for r in closed:
        try:
            facts = derive(r["id"], events[r["id"]])
        except NoRequest:
            log.warning("episode_facts.timeline_without_request", consultation_id=r["id"])
            continue
        result.checked += 1
        if r["facts"] is None:
            result.missing.append(r["id"])
        elif r["derived_by"] != DERIVED_BY:
            result.outdated.append(r["id"])
        elif r["facts"] != to_stored(facts) or stored_measures(r[4:]) != measures(facts):
            result.differing.append(r["id"])
        else:
            continue
        upserts.append((r["id"], facts))
    if not fix:
        return
    if extra:
        await conn.execute(
            "DELETE FROM episode_facts WHERE consultation_id = ANY($1::bigint[])", extra
        )
    await _upsert(conn, upserts)
