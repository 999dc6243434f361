"""What routing needs from PostgreSQL, copied into this node every few seconds while it
answers, so that calls can still be routed while it does not.

The copy holds which organisation each patient belongs to (a nurse may only ask about her
own), every advisor's chosen status, idle time, name and tier, who is in an open call,
advisors' Web Push subscriptions (to wake them) and who the coordinators are (to alert them),
and a reserve of consultation ids taken from the database's own sequence (so ids given out
during an outage never collide with the database's). Taking the copy also keeps the rota
cache warm: who is on duty is answered from it. A node started during an outage has no copy
and does not route (it answers 503, as before).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from advice_line import push_subscriptions
from advice_line.push_subscriptions import Subscription
from advice_line.rota_cache import RotaCache
from advice_line.situation import OPEN_STATES
from rota.tiers import TIERS

#: How many consultation ids each node keeps in reserve for an outage: how many new calls it
#: can route without the database (the reserve is topped up whenever it is back; unused ids
#: are gaps in the sequence, nothing more). bench/outage_bench.py routes 150 in 15 s.
ID_RESERVE = 1000
#: The patients' organisations are copied whole this often, and in between only the patients
#: added since the last copy (with this overlap, for transactions that committed late). A
#: patient never changes organisation; one deleted (retention) stays in the copy until the
#: next whole copy, which matters only during an outage and only for a patient nobody can
#: list any more. A region's or the country's patients (kept for years) are then read once
#: in ten minutes, not every few seconds by every node.
PATIENTS_WHOLE_EVERY = dt.timedelta(minutes=10)
PATIENTS_OVERLAP = dt.timedelta(minutes=2)


@dataclass(frozen=True)
class Advisor:
    status: str
    idle_since: float  # seconds since the epoch
    name: str
    tier: str | None


@dataclass
class Directory:
    patients: dict[int, int] = field(default_factory=dict)  # patient -> organisation
    advisors: dict[int, Advisor] = field(default_factory=dict)
    held: frozenset[int] = frozenset()
    #: Advisors' Web Push subscriptions (to wake them) and the coordinators (to alert them).
    subscriptions: dict[int, list[Subscription]] = field(default_factory=dict)
    coordinators: frozenset[int] = frozenset()
    ids: list[int] = field(default_factory=list)
    taken_at: dt.datetime | None = None
    #: When the patients were last copied whole, and when any copy of them last began.
    patients_whole_at: dt.datetime | None = None
    patients_since: dt.datetime | None = None

    @property
    def ready(self) -> bool:
        return self.taken_at is not None

    def take_id(self) -> int | None:
        return self.ids.pop(0) if self.ids else None

    async def refresh(self, conn: asyncpg.Connection, rotas: RotaCache, now: dt.datetime) -> None:
        """Take a fresh copy (a few cheap queries; the ids only when the reserve runs low, and
        the patients whole only every ``PATIENTS_WHOLE_EVERY``)."""
        began = await conn.fetchval("SELECT now()")
        since = self.patients_since
        whole = (
            since is None
            or self.patients_whole_at is None
            or now - self.patients_whole_at >= PATIENTS_WHOLE_EVERY
        )
        if whole or since is None:
            patients = await conn.fetch("SELECT id, organisation_id FROM patients")
        else:
            patients = await conn.fetch(
                "SELECT id, organisation_id FROM patients WHERE created_at >= $1",
                since - PATIENTS_OVERLAP,
            )
        advisors = await conn.fetch(
            """SELECT u.id, u.display_name, u.tier, coalesce(p.status, 'available') AS status,
                      extract(epoch FROM coalesce(p.idle_since, 'epoch'::timestamptz)) AS idle
                 FROM users u LEFT JOIN advisor_presence p ON p.user_id = u.id
                WHERE u.role = 'advisor' AND u.disabled_at IS NULL"""
        )
        # In a call, not merely rung: a ring from before the outage cannot be answered
        # until the database is back (nor time out), so it does not hold anyone meanwhile.
        held = await conn.fetch(
            """SELECT DISTINCT unnest(participants) AS advisor
                 FROM consultations WHERE state = ANY($1::text[])""",
            list(OPEN_STATES),
        )
        subscriptions = await push_subscriptions.of_advisors(conn)
        coordinators = await conn.fetch(
            "SELECT id FROM users WHERE role = 'coordinator' AND disabled_at IS NULL"
        )
        if len(self.ids) < ID_RESERVE // 2:
            self.ids += [
                int(r[0])
                for r in await conn.fetch(
                    "SELECT nextval('consultations_id_seq') FROM generate_series(1, $1)",
                    ID_RESERVE - len(self.ids),
                )
            ]
        for tier in TIERS:
            await rotas.on_duty(conn, str(tier), now)
        copied = {r["id"]: r["organisation_id"] for r in patients}
        self.patients = copied if whole else {**self.patients, **copied}
        if whole:
            self.patients_whole_at = now
        self.patients_since = began
        self.advisors = {
            r["id"]: Advisor(r["status"], float(r["idle"]), r["display_name"], r["tier"])
            for r in advisors
        }
        self.held = frozenset(r["advisor"] for r in held if r["advisor"] is not None)
        self.subscriptions = subscriptions
        self.coordinators = frozenset(r["id"] for r in coordinators)
        self.taken_at = now

    def people(self, nurse: dict[str, Any], participants: list[int]) -> dict[str, Any]:
        """Who is calling and who is in the call, as ``Names.people`` says it."""
        return {
            "nurse": nurse,
            "people": [
                {
                    "id": p,
                    "name": self.advisors[p].name if p in self.advisors else None,
                    "tier": self.advisors[p].tier if p in self.advisors else None,
                }
                for p in participants
            ],
        }
