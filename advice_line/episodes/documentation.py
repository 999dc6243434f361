"""The advisor's documentation of an episode: the advice given and what became of it.

Only an advisor who took part in the call documents it, once the call is over (in wrap-up
or after). The first version needs no reason; every later one is an amendment and must say
why. Versions are numbered with the consultation's row locked, so two saves at once get
consecutive numbers, and each save writes its audit row in the same transaction.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from advice_line import audit
from advice_line.problems import Problem, invalid, not_found
from advice_line.sessions import SessionUser
from advice_line.validation import Field

from .access import reason_to_read, took_part
from .reading import DOCUMENTABLE
from .store import DISPOSITIONS, Documentation, add_document, latest_document_version

SCHEMA = {
    "disposition": Field("enum", required=True, choices=DISPOSITIONS),
    "advice": Field("str", required=True, min_length=1, max_length=8000),
    "follow_up": Field("bool", required=True),
    "follow_up_note": Field("str", max_length=2000),
    "amendment_reason": Field("str", min_length=1, max_length=500),
}


def from_body(body: dict[str, Any]) -> Documentation:
    """The documentation a validated request body describes."""
    return Documentation(
        disposition=body["disposition"],
        advice=body["advice"],
        follow_up=body["follow_up"],
        follow_up_note=body.get("follow_up_note", ""),
        amendment_reason=body.get("amendment_reason", ""),
    )


async def save(
    conn: asyncpg.Connection,
    user: SessionUser,
    actor: audit.Actor,
    consultation_id: int,
    doc: Documentation,
) -> tuple[dict[str, Any], str]:
    """Append a version; returns it and the consultation's state when it was saved."""
    async with conn.transaction():
        found = await conn.fetchrow(
            "SELECT * FROM consultations WHERE id = $1 FOR UPDATE", consultation_id
        )
        if found is None:
            raise not_found(f"episode {consultation_id}")
        consultation = dict(found)
        if not await took_part(conn, consultation_id, user.id):
            if await reason_to_read(conn, user, consultation) is None:
                raise not_found(f"episode {consultation_id}")
            raise Problem(403, "not-participant", "You did not take part in this call",
                          "only an advisor who took part in the call documents it")  # fmt: skip
        if consultation["state"] not in DOCUMENTABLE:
            raise Problem(409, "not-documentable", "The call cannot be documented yet",
                          f"the consultation is {consultation['state']}", state=consultation["state"])  # fmt: skip
        amendment = await latest_document_version(conn, consultation_id) > 0
        if amendment and not doc.amendment_reason:
            raise invalid([{"field": "amendment_reason", "code": "reason_needed",
                            "message": "say why the documentation is amended"}])  # fmt: skip
        saved = await add_document(conn, consultation_id, user.id, doc)
        # The disposition and follow-up are structured; the advice and notes stay out of the log.
        await audit.record(
            conn, actor, "episode.document", "consultation", consultation_id,
            "advisor of the consultation", patient_id=consultation["patient_id"],
            details={"version": saved["version"], "disposition": doc.disposition,
                     "follow_up": doc.follow_up, "amendment": amendment},
        )  # fmt: skip
    return saved, str(consultation["state"])
