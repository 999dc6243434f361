"""Who is on duty, fast: a per-tier index of the rotas, rebuilt whenever a rota changes.

Routing asks for every call and every presence change; the index answers in microseconds
(see docs/benchmarks.md). A change to any rota bumps ``rotas.updated_at`` (and deleting one
changes the count), so one cheap query tells whether the cached index is still right, on
every node alike.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import asyncpg

from advice_line import rota_store
from rota.index import TierIndex
from rota.tiers import TIERS

#: The version of the rotas: changes with every edit (``updated_at``) and every deletion (the
#: count). Also read by ``situation.build_situation`` in its one query.
GENERATION_SQL = "SELECT coalesce(max(updated_at)::text, '') || '/' || count(*) FROM rotas"
#: How far around "now" an index reaches before it is rebuilt.
BEHIND = dt.timedelta(hours=1)
AHEAD = dt.timedelta(days=7)


@dataclass
class _Entry:
    generation: str
    start: dt.datetime
    end: dt.datetime
    index: TierIndex


class RotaCache:
    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._checked: tuple[int, dt.datetime, str] | None = None

    async def _generation(self, conn: asyncpg.Connection, at: dt.datetime) -> str:
        """Which version of the rotas is current; asked once per step (same connection and
        instant), not once per tier."""
        if self._checked is None or self._checked[:2] != (id(conn), at):
            generation = await conn.fetchval(GENERATION_SQL)
            self._checked = (id(conn), at, str(generation))
        return self._checked[2]

    async def on_duty(self, conn: asyncpg.Connection, tier: str, at: dt.datetime) -> frozenset[int]:
        return await self._on_duty(conn, tier, at, await self._generation(conn, at))

    async def _on_duty(
        self, conn: asyncpg.Connection, tier: str, at: dt.datetime, generation: str
    ) -> frozenset[int]:
        """From the tier's index, rebuilt first unless built from ``generation`` and
        reaching ``at`` (an index built after a later change is labelled with the earlier
        version, so the next check finds it stale and builds it again: never the reverse)."""
        entry = self._entries.get(tier)
        if entry is None or entry.generation != generation or not entry.start <= at < entry.end:
            rotas = await rota_store.load_rotas(conn, tier=tier)
            start, end = at - BEHIND, at + AHEAD
            entry = _Entry(generation, start, end, TierIndex.build(rotas, tier, start, end))
            self._entries[tier] = entry
        return entry.index.on_duty_clinicians(at)

    def indexed(self, at: dt.datetime) -> tuple[str, dict[str, frozenset[int]]] | None:
        """Who is on duty in every tier at ``at`` by the indexes as built, and the version of
        the rotas they were built from; None unless all of them reach ``at`` and share one
        version. (The caller checks the version against the database in a query it makes
        anyway, and calls ``load`` when the rotas have changed.)"""
        entries = [self._entries.get(str(tier)) for tier in TIERS]
        if any(e is None or not e.start <= at < e.end for e in entries):
            return None
        generations = {e.generation for e in entries if e is not None}
        if len(generations) != 1:
            return None
        return generations.pop(), {
            str(tier): e.index.on_duty_clinicians(at)
            for tier, e in zip(TIERS, entries, strict=True)
            if e is not None
        }

    async def load(
        self, conn: asyncpg.Connection, at: dt.datetime
    ) -> tuple[str, dict[str, frozenset[int]]]:
        """Who is on duty in every tier at ``at``, and the version of the rotas that says:
        the version is read afresh, once, and every tier's index is (re)built for it."""
        generation = str(await conn.fetchval(GENERATION_SQL))
        on_duty = {
            str(tier): await self._on_duty(conn, str(tier), at, generation) for tier in TIERS
        }
        return generation, on_duty

    def on_duty_as_cached(self, tier: str, at: dt.datetime) -> frozenset[int] | None:
        """Who is on duty by the index as last built, without asking whether the rotas
        changed since (for routing while PostgreSQL is away); None if it does not reach ``at``."""
        entry = self._entries.get(tier)
        if entry is None or not entry.start <= at < entry.end:
            return None
        return entry.index.on_duty_clinicians(at)
