"""The coordinators' live board: one snapshot of the whole advice line at an instant.

Per tier: the calls waiting (being rung, woken, queued, waiting for a call-back) and in
progress, who is on duty now with their live status, the next coverage gap and the next
handoff; and the alerts of the last hours from the timeline. The snapshot is read in one
read-only transaction with a fixed number of queries (never one per call or per advisor)
plus one Redis round trip for presence, so a wall screen polling every few seconds costs
the same with one call open as with fifty.

No patient data beyond the patient's reference (and that only for the coordinator's own
organisation), and no clinical free text: the escalation note is removed in the query.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from advice_line import rota_store
from advice_line.roles import Role
from advice_line.sessions import SessionUser
from advice_line.situation import OPEN_STATES
from rota.index import TierIndex
from rota.model import Gap, Rota
from rota.tiers import TIERS
from signalling.presence import Presence

WAITING = ("requested", "ringing", "waking", "queued", "callback")
IN_PROGRESS = ("connected", "escalating", "wrap_up")
#: Timeline events that are alerts on the board: the latest of each call, type and tier (a
#: queued call re-woken at every retry is one alert), a ``waking`` only while nobody answered.
ALERT_TYPES = ("tier_skipped", "waking", "queued", "escalation_failed", "failed")
ALERT_WINDOW = dt.timedelta(hours=12)
ALERT_LIMIT = 100
#: How far ahead a coverage gap is shown; how far ahead "on duty until" is looked for.
GAP_WINDOW = dt.timedelta(hours=24)
GAP_LOOKBACK = dt.timedelta(hours=24)
DUTY_HORIZON = dt.timedelta(days=7)
_URGENCY_ORDER = {"acute": 0, "urgent": 1, "routine": 2}


# Pure parts ----------------------------------------------------------------------------


def advisor_status(chosen: str | None, online: bool, calls: Iterable[tuple[str, bool]]) -> str:
    """offline, wrap_up, in_call, ringing, away or available (the first that applies), from
    the advisor's choice, whether they are connected, and (state, is participant) for each
    open call that offers them a ring or has them in it (``GET /api/v1/presence`` uses it too)."""
    if not online:
        return "offline"
    calls = list(calls)
    if any(participant and state == "wrap_up" for state, participant in calls):
        return "wrap_up"
    if any(participant and state in ("connected", "escalating") for state, participant in calls):
        return "in_call"
    if any(not participant for _, participant in calls):
        return "ringing"
    return "away" if chosen == "away" else "available"


@dataclass(frozen=True)
class TierDuty:
    """A tier's rota seen from ``now``: who is on duty and until when (None: beyond the
    horizon), the first gap starting within the gap window (it may be going on now), and
    the next change of who is on duty as (instant, leaving, arriving)."""

    on_duty: tuple[tuple[int, dt.datetime | None], ...]
    next_gap: Gap | None
    next_handoff: tuple[dt.datetime, frozenset[int], frozenset[int]] | None


def tier_duty(rotas: Sequence[Rota], tier: str, now: dt.datetime) -> TierDuty:
    """Who is on duty in ``tier`` at ``now`` and what changes next, from the rota core."""
    # From a day back, so that a gap going on now shows when it began.
    index = TierIndex.build(rotas, tier, now - GAP_LOOKBACK, now + DUTY_HORIZON)
    current = index.on_duty_clinicians(now)
    until: dict[int, dt.datetime | None] = dict.fromkeys(current)
    remaining = set(current)
    for segment in index.segments:
        if segment.start > now:
            for gone in remaining - segment.clinicians:
                until[gone] = segment.start
            remaining &= segment.clinicians
    # Neighbouring segments always differ, so an empty segment is a whole gap.
    gap = next(
        (Gap(s.start, s.end) for s in index.segments
         if not s.clinicians and s.end > now and s.start < now + GAP_WINDOW),
        None,
    )  # fmt: skip
    changes = index.next_handoffs(now, 1)
    handoff = None
    if changes:
        at, before, after = changes[0]
        handoff = (at, before - after, after - before)
    return TierDuty(tuple(sorted(until.items())), gap, handoff)


def _tier_number(row_tier: int) -> int:
    """The board column of a call: its tier, or the first before it has been routed."""
    return row_tier if 1 <= row_tier <= len(TIERS) else 1


def _card(
    row: dict[str, Any],
    names: dict[int, str],
    events: dict[tuple[int, str], dict[str, Any]],
    now: dt.datetime,
    show_reference: bool,
) -> dict[str, Any]:
    waiting = row["state"] in WAITING
    since = row["created"] if waiting else (row["connected_at"] or row["created"])
    escalated = events.get((row["id"], "escalated"))
    woken = events.get((row["id"], "waking"))

    def people(ids: Iterable[int]) -> list[dict[str, Any]]:
        return [{"id": i, "name": names.get(i)} for i in ids]

    return {
        "id": row["id"], "state": row["state"], "urgency": row["urgency"],
        "channel": row["channel"], "organisation": row["organisation"],
        "patient_reference": row["patient_reference"] if show_reference else None,
        "created_at": row["created"], "since": since,
        "seconds": max(0, int((now - since).total_seconds())),
        "offered": people(row["offered"]), "participants": people(row["participants"]),
        "woken": people(woken["data"].get("advisors", []))
        if woken and row["stage"] == "wake" else [],
        "escalation": {"from_tier": escalated["data"].get("from_tier"), "at": escalated["at"],
                       "by": {"id": escalated["actor_id"], "name": names.get(escalated["actor_id"])}}
        if escalated else None,
    }  # fmt: skip


def _sort_key(card: dict[str, Any]) -> tuple[int, dt.datetime]:
    return (_URGENCY_ORDER.get(card["urgency"], 9), card["since"])


def _alert(row: dict[str, Any]) -> dict[str, Any]:
    data = row["data"] or {}
    tier = data.get("tier", row["consultation_tier"] if row["type"] == "failed" else None)
    return {
        "id": row["id"], "at": row["at"], "type": row["type"], "consultation_id": row["consultation_id"],
        "tier": tier if isinstance(tier, int) and tier >= 1 else None,
        "tiers": [t for t in data.get("tiers", []) if isinstance(t, int)],
        "reason": data.get("reason"),
    }  # fmt: skip


# Queries -------------------------------------------------------------------------------


async def _open_calls(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT c.id, c.state, c.tier, c.urgency, c.channel, c.organisation_id,
                  o.name AS organisation, p.reference AS patient_reference,
                  c.offered, c.participants, c.machine ->> 'stage' AS stage,
                  coalesce((c.machine ->> 'created')::timestamptz, c.created_at) AS created,
                  (c.machine ->> 'connected_at')::timestamptz AS connected_at
             FROM consultations c
             JOIN organisations o ON o.id = c.organisation_id
             JOIN patients p ON p.id = c.patient_id
            WHERE c.state = ANY($1::text[])
            ORDER BY c.id""",
        list(OPEN_STATES),
    )
    return [dict(r) for r in rows]


async def _last_events(
    conn: asyncpg.Connection, consultation_ids: list[int]
) -> dict[tuple[int, str], dict[str, Any]]:
    """The latest ``escalated`` and ``waking`` event of each call, without the note."""
    rows = await conn.fetch(
        """SELECT DISTINCT ON (consultation_id, type) consultation_id, type, at, actor_id,
                  data - 'note' AS data
             FROM consultation_events
            WHERE consultation_id = ANY($1::bigint[]) AND type IN ('escalated', 'waking')
            ORDER BY consultation_id, type, id DESC""",
        consultation_ids,
    )
    return {(r["consultation_id"], r["type"]): dict(r) for r in rows}


async def _alerts(conn: asyncpg.Connection, now: dt.datetime) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT e.id, e.at, e.type, e.consultation_id, e.data - 'note' AS data,
                  c.tier AS consultation_tier
             FROM consultation_events e JOIN consultations c ON c.id = e.consultation_id
            WHERE e.at > $1 AND e.at <= $2 AND e.type = ANY($3::text[])
              AND NOT EXISTS (
                   SELECT 1 FROM consultation_events l
                    WHERE l.consultation_id = e.consultation_id AND l.id > e.id
                      AND l.type = e.type AND l.data -> 'tier' IS NOT DISTINCT FROM e.data -> 'tier')
              AND (e.type <> 'waking' OR NOT EXISTS (
                   SELECT 1 FROM consultation_events a
                    WHERE a.consultation_id = e.consultation_id AND a.id > e.id
                      AND a.type = 'accepted' AND a.data -> 'tier' = e.data -> 'tier'))
            ORDER BY e.at DESC, e.id DESC
            LIMIT $4""",
        now - ALERT_WINDOW, now, list(ALERT_TYPES), ALERT_LIMIT,
    )  # fmt: skip
    return [_alert(dict(r)) for r in rows]


async def _people(conn: asyncpg.Connection, ids: set[int]) -> dict[int, dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT u.id, u.display_name AS name, p.status AS chosen
             FROM users u LEFT JOIN advisor_presence p ON p.user_id = u.id
            WHERE u.id = ANY($1::bigint[])""",
        sorted(ids),
    )
    return {r["id"]: dict(r) for r in rows}


# The snapshot --------------------------------------------------------------------------


async def snapshot(
    conn: asyncpg.Connection, presence: Presence, viewer: SessionUser, now: dt.datetime
) -> dict[str, Any]:
    """The board at ``now`` as JSON-ready data (see docs/api.md, "Live board")."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        calls = await _open_calls(conn)
        events = await _last_events(conn, [c["id"] for c in calls])
        alerts = await _alerts(conn, now)
        rotas = await rota_store.load_rotas(conn)
        duties = {tier: tier_duty(rotas, tier, now) for tier in TIERS}
        on_duty = {a for d in duties.values() for a, _ in d.on_duty}
        everyone = set(on_duty)
        for c in calls:
            everyone.update(c["offered"], c["participants"])
        for key, event in events.items():
            everyone.update(event["data"].get("advisors", []) if key[1] == "waking" else [])
            everyone.update([event["actor_id"]] if event["actor_id"] is not None else [])
        for d in duties.values():
            everyone.update(*(d.next_handoff[1:] if d.next_handoff else ()))
        people = await _people(conn, everyone)
    online = await presence.online(on_duty, int(now.timestamp() * 1000))
    names = {i: p["name"] for i, p in people.items()}
    own_org = viewer.role == Role.COORDINATOR
    tiers = []
    for number, tier in enumerate(TIERS, 1):
        column = [
            _card(c, names, events, now, own_org and c["organisation_id"] == viewer.organisation_id)
            for c in calls
            if _tier_number(c["tier"]) == number
        ]
        tiers.append(_column(number, tier, column, duties[tier], calls, people, online, now))
    return {"at": now, "tiers": tiers, "alerts": alerts}


def _column(
    number: int, tier: str, cards: list[dict[str, Any]], duty: TierDuty,
    calls: list[dict[str, Any]], people: dict[int, dict[str, Any]], online: frozenset[int],
    now: dt.datetime,
) -> dict[str, Any]:  # fmt: skip
    waiting = sorted((c for c in cards if c["state"] in WAITING), key=_sort_key)
    in_progress = sorted((c for c in cards if c["state"] in IN_PROGRESS), key=lambda c: c["since"])
    staff = []
    for advisor, until in duty.on_duty:
        mine = [(c["state"], advisor in c["participants"]) for c in calls
                if advisor in c["offered"] or advisor in c["participants"]]  # fmt: skip
        status = advisor_status(people.get(advisor, {}).get("chosen"), advisor in online, mine)
        staff.append({"id": advisor, "name": people.get(advisor, {}).get("name"),
                      "until": until, "status": status})  # fmt: skip
    staff.sort(key=lambda s: (s["status"] != "available", s["name"] or ""))

    def named(ids: frozenset[int]) -> list[dict[str, Any]]:
        return sorted(({"id": i, "name": people.get(i, {}).get("name")} for i in ids),
                      key=lambda p: p["name"] or "")  # fmt: skip

    gap = duty.next_gap
    handoff = duty.next_handoff
    return {
        "tier": number, "name": tier,
        "counts": {"waiting": len(waiting), "in_progress": len(in_progress),
                   "on_duty": len(staff),
                   "available": sum(1 for s in staff if s["status"] == "available")},
        "waiting": waiting, "in_progress": in_progress, "on_duty": staff,
        "next_gap": {"start": gap.start, "end": gap.end, "ongoing": gap.start <= now}
        if gap else None,
        "next_handoff": {"at": handoff[0], "leaving": named(handoff[1]),
                         "arriving": named(handoff[2])} if handoff else None,
    }  # fmt: skip
