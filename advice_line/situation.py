"""What routing needs to know right now, gathered from the rotas, presence and open calls.

For each tier: who the rotas have on duty, which of them are online (Redis), which of those
chose "available" and are neither ringing nor in a call (PostgreSQL), ordered longest idle
first; and for tier 2 the patient's own GP when their commitment covers this moment.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from advice_line.rota_cache import GENERATION_SQL, RotaCache
from escalation.model import Situation, TierView
from rota.model import DEFAULT_TIMEZONE, Window
from rota.tiers import TIERS
from rota.windows import window_intervals
from signalling.presence import Presence

OPEN_STATES = (
    "requested",
    "ringing",
    "waking",
    "queued",
    "connected",
    "escalating",
    "wrap_up",
    "callback",
)


async def lock_then_busy(
    conn: asyncpg.Connection, lock_key: int, advisors: set[int], apart_from: int
) -> bool:
    """Take the routing lock (to the end of the transaction), then say whether any of
    ``advisors`` rings for, or is in, an open consultation other than ``apart_from``, as seen
    after the lock was granted: one round trip (the function of migration 0011). That relies
    on READ COMMITTED, PostgreSQL's default, which the service never changes: each statement
    in the function then reads what was committed when it began."""
    busy = await conn.fetchval(
        "SELECT routing_lock_then_busy($1, $2::bigint[], $3, $4::text[])",
        lock_key, list(advisors), apart_from, list(OPEN_STATES),
    )  # fmt: skip
    return bool(busy)


async def busy_of(conn: asyncpg.Connection, advisors: set[int]) -> set[int]:
    """Those of ``advisors`` ringing for, or taking part in, an open consultation."""
    if not advisors:
        return set()
    rows = await conn.fetch(
        """SELECT DISTINCT a.advisor FROM consultations c,
                  unnest(CASE WHEN c.state IN ('queued', 'callback') THEN c.participants
                              ELSE c.offered || c.participants END) AS a(advisor)
            WHERE c.state = ANY($2::text[]) AND a.advisor = ANY($1::bigint[])""",
        list(advisors),
        list(OPEN_STATES),
    )
    return {r["advisor"] for r in rows}


def covers(windows: list[dict[str, Any]], at: dt.datetime) -> bool:
    """Whether weekly windows (rota window format, Copenhagen wall clock) include ``at``."""
    zone = ZoneInfo(DEFAULT_TIMEZONE)
    parsed = tuple(
        Window(
            frozenset(w["days"]), dt.time.fromisoformat(w["start"]), dt.time.fromisoformat(w["end"])
        )
        for w in windows
    )
    return bool(window_intervals(parsed, zone, at, at + dt.timedelta(seconds=1)))


def committed_gps(
    commitments: list[tuple[int, int, list[dict[str, Any]]]], at: dt.datetime
) -> tuple[int, ...]:
    """The patient's own GPs whose commitments (id, GP, windows) cover ``at``, oldest
    commitment first."""
    found: list[int] = []
    for _, gp, windows in sorted(commitments, key=lambda c: c[0]):
        if covers(windows, at) and gp not in found:
            found.append(gp)
    return tuple(found)


#: Everything a situation needs from PostgreSQL, in one round trip: a row per candidate
#: advisor (those on duty by the cached rota index, $1, and the patient's committed GPs) with
#: status, idle time and whether a call holds them; a row per commitment of the patient ($3)
#: valid on the day ($4); and one row with the version of the rotas (in ``status``), to check
#: the cached index against.
_SITUATION = f"""
WITH held AS (
    SELECT DISTINCT unnest(CASE WHEN state IN ('queued', 'callback') THEN participants
                                ELSE offered || participants END) AS advisor
      FROM consultations WHERE state = ANY($2::text[])),
gps AS (
    SELECT c.id, c.gp_id, c.windows FROM gp_commitments c JOIN users u ON u.id = c.gp_id
     WHERE c.patient_id = $3 AND c.valid_from <= $4::date
       AND (c.valid_to IS NULL OR c.valid_to >= $4::date)
       AND u.role = 'advisor' AND u.tier = 'gp' AND u.disabled_at IS NULL)
SELECT 'advisor' AS kind, u.id, coalesce(p.status, 'available') AS status,
       coalesce(p.idle_since, '-infinity'::timestamptz) AS idle_since,
       u.id IN (SELECT advisor FROM held) AS busy, NULL::jsonb AS windows, NULL::bigint AS seq
  FROM users u LEFT JOIN advisor_presence p ON p.user_id = u.id
 WHERE (u.id = ANY($1::bigint[]) OR u.id IN (SELECT gp_id FROM gps)) AND u.disabled_at IS NULL
UNION ALL
SELECT 'commitment', gp_id, NULL, NULL, NULL, windows, id FROM gps
UNION ALL
SELECT 'rotas', NULL, ({GENERATION_SQL}), NULL, NULL, NULL, NULL
"""


async def build_situation(
    conn: asyncpg.Connection,
    rotas: RotaCache,
    presence: Presence,
    patient_id: int,
    at: dt.datetime,
) -> Situation:
    """The situation of every tier at ``at`` for a consultation about ``patient_id``.

    One PostgreSQL round trip (``_SITUATION``) with Redis asked who is online meanwhile; a
    second when the rotas changed since their index was built (then the index is rebuilt and
    the query made again), or when the patient's own GP is not on a rota (Redis is asked
    again for them)."""
    indexed = rotas.indexed(at) or await rotas.load(conn, at)
    day = at.astimezone(ZoneInfo(DEFAULT_TIMEZONE)).date()
    for _ in range(3):  # rotas changing three times within one step: the third query's rows
        generation, on_duty = indexed
        rostered = frozenset().union(*on_duty.values())
        now_ms = int(at.timestamp() * 1000)
        asking = asyncio.ensure_future(presence.online(rostered, now_ms))
        try:
            rows = await conn.fetch(
                _SITUATION, list(rostered), list(OPEN_STATES), patient_id, day
            )  # fmt: skip
        finally:
            online = await asking
        if next(r["status"] for r in rows if r["kind"] == "rotas") == generation:
            break
        indexed = await rotas.load(conn, at)  # a rota changed since its index was built
    own_gps = committed_gps(
        [(r["seq"], r["id"], r["windows"]) for r in rows if r["kind"] == "commitment"], at
    )
    unrostered = frozenset(own_gps) - rostered
    if unrostered:
        online |= await presence.online(unrostered, now_ms)
    rows = [r for r in rows if r["kind"] == "advisor"]
    ready = sorted(
        (r["idle_since"], r["id"])
        for r in rows
        if r["id"] in online and r["status"] == "available" and not r["busy"]
    )
    order = [advisor for _, advisor in ready]
    views: dict[int, TierView] = {}
    for number, tier in enumerate(TIERS, 1):
        staff = on_duty[str(tier)]
        views[number] = TierView(
            on_duty=staff,
            available=tuple(a for a in order if a in staff),
            online=staff & online,
            # The first committed GP who can answer now (another may be asleep or busy).
            own_gp=next((g for g in own_gps if g in order), None) if tier == "gp" else None,
        )
    return views
