"""Who may read an episode, and why (the reason goes into the audit log).

* the nurse who asked for advice: "nurse who asked";
* an advisor the call was offered to or who took part: "advisor of the consultation";
* a coordinator or admin of the consultation's organisation: "own organisation".

Anyone else gets 404, not 403, so that consultation ids cannot be probed (as for patients).
Only an advisor who took part (accepted the call) may document it.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from advice_line import consultations
from advice_line.roles import Role
from advice_line.sessions import SessionUser

#: Roles that read the episodes of their own organisation.
ORGANISATION_READERS = frozenset({Role.COORDINATOR, Role.ADMIN})


async def took_part(conn: asyncpg.Connection, consultation_id: int, advisor_id: int) -> bool:
    """Whether the advisor accepted the call at some point (leaving later does not undo it)."""
    return bool(
        await conn.fetchval(
            """SELECT 1 FROM consultation_events
                WHERE consultation_id = $1 AND type = 'accepted'
                  AND (data ->> 'advisor')::bigint = $2
                LIMIT 1""",
            consultation_id,
            advisor_id,
        )
    )


async def reason_to_read(
    conn: asyncpg.Connection, user: SessionUser, consultation: dict[str, Any]
) -> str | None:
    """Why ``user`` may read the episode of ``consultation``; None when they may not."""
    if user.id == consultation["nurse_id"]:
        return "nurse who asked"
    if user.role == Role.ADVISOR and (
        user.id in consultation["offered"]
        or user.id in consultation["participants"]
        or await consultations.ever_offered(conn, consultation["id"], user.id)
    ):
        return "advisor of the consultation"
    if (
        user.role in ORGANISATION_READERS
        and user.organisation_id is not None
        and user.organisation_id == consultation["organisation_id"]
    ):
        return "own organisation"
    return None


#: The SQL condition (over ``consultations c``) for the episodes a user may read; parameters
#: $1 user id, $2 whether an advisor, $3 the organisation whose episodes they read (or NULL).
VISIBLE_SQL = """(c.nurse_id = $1
    OR ($2 AND ($1 = ANY(c.offered) OR $1 = ANY(c.participants) OR EXISTS (
        SELECT 1 FROM consultation_events e
         WHERE e.consultation_id = c.id AND e.type IN ('offered', 'joined', 'accepted')
           AND (e.data -> 'advisors' @> to_jsonb($1::bigint)
                OR (e.data ->> 'advisor')::bigint = $1))))
    OR c.organisation_id = $3)"""

#: The SQL condition for "my own" episodes: the nurse who asked, or an advisor who took part.
MINE_SQL = """(c.nurse_id = $1 OR EXISTS (
    SELECT 1 FROM consultation_events e
     WHERE e.consultation_id = c.id AND e.type = 'accepted'
       AND (e.data ->> 'advisor')::bigint = $1))"""


def visibility_params(user: SessionUser) -> tuple[int, bool, int | None]:
    """The parameters of :data:`VISIBLE_SQL` for ``user``."""
    org = user.organisation_id if user.role in ORGANISATION_READERS else None
    return user.id, user.role == Role.ADVISOR, org
