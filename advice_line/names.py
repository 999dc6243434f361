"""Who the people in a call are (name, tier, organisation), kept for a short while.

Every ring and every answer about a consultation says who is calling and who is in the call.
Names change rarely, and reading them each time was a database round trip on every step and
every action (6-7 per call in bench/routing_bench.py); each node keeps what it read for
``KEEP_SECONDS``, so a renamed user shows under the old name for at most that long.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg

#: How long a name read from the database is used before it is read again.
KEEP_SECONDS = 30.0
#: Forget everything when more people than this are kept (a bound, not a cache policy).
MOST_KEPT = 50_000


class Names:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._kept: dict[int, tuple[float, dict[str, Any]]] = {}

    async def people(
        self, conn: asyncpg.Connection, nurse_id: int, participants: Sequence[int]
    ) -> dict[str, Any]:
        """Who is calling and who is in the call (advisors woken at night need to know)."""
        found = await self._lookup(conn, [nurse_id, *participants])
        nurse = found[nurse_id]
        return {
            "nurse": {
                "id": nurse_id,
                "name": nurse.get("name"),
                "organisation": nurse.get("organisation"),
            },
            "people": [
                {"id": p, "name": found[p].get("name"), "tier": found[p].get("tier")}
                for p in participants
            ],
        }

    async def _lookup(self, conn: asyncpg.Connection, ids: list[int]) -> dict[int, dict[str, Any]]:
        now = self._clock()
        if len(self._kept) > MOST_KEPT:
            self._kept.clear()
        stale = sorted(
            {i for i in ids if i not in self._kept or now - self._kept[i][0] >= KEEP_SECONDS}
        )
        if stale:
            rows = await conn.fetch(
                """SELECT u.id, u.display_name AS name, u.tier, o.name AS organisation
                     FROM users u LEFT JOIN organisations o ON o.id = u.organisation_id
                    WHERE u.id = ANY($1::bigint[])""",
                stale,
            )
            read = {r["id"]: dict(r) for r in rows}
            for i in stale:
                self._kept[i] = (now, read.get(i, {}))
        return {i: self._kept[i][1] for i in ids}
