"""Reading episodes: one whole episode (facts, timeline, documentation, the patient), and
lists with filters. Every read that shows patient data writes an audit row in the same
transaction (``episode.read`` for one, ``episode.list`` with the patient ids for a list)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import asyncpg

from advice_line import audit
from advice_line.problems import not_found
from advice_line.sessions import SessionUser

from . import store
from .access import MINE_SQL, VISIBLE_SQL, reason_to_read, took_part, visibility_params
from .facts import NoRequest, derive
from .serialise import facts_json, people_in, timeline_json

#: States in which the call has been held and may be documented.
DOCUMENTABLE = ("wrap_up", "ended")
#: The episode's outcome (as ``derive`` names it) for each final consultation state.
OUTCOME_STATES = {"completed": "ended", "cancelled": "cancelled", "abandoned": "abandoned",
                  "failed": "failed"}  # fmt: skip
OUTCOMES = (*OUTCOME_STATES, "open")

_PATIENT = """SELECT id, reference, name, diagnosis_group, treatment_level, treatment_limitations,
                     dnr, dnr_decided_by, dnr_decided_on, living_will, preferred_place_of_death
                FROM patients WHERE id = $1"""


def outcome_of(state: str) -> str:
    """The episode's outcome from its consultation's state (as ``derive`` would say)."""
    for outcome, final in OUTCOME_STATES.items():
        if state == final:
            return outcome
    return "open"


async def read(
    conn: asyncpg.Connection, user: SessionUser, actor: audit.Actor, consultation_id: int
) -> dict[str, Any]:
    """The whole episode, if ``user`` may read it (404 otherwise); one audit row."""
    async with conn.transaction():
        found = await conn.fetchrow("SELECT * FROM consultations WHERE id = $1", consultation_id)
        if found is None:
            raise not_found(f"episode {consultation_id}")
        consultation = dict(found)
        reason = await reason_to_read(conn, user, consultation)
        if reason is None:
            raise not_found(f"episode {consultation_id}")
        patient = dict(await conn.fetchrow(_PATIENT, consultation["patient_id"]) or {})
        events = await store.load_events(conn, consultation_id)
        try:
            facts = derive(consultation_id, events)
        except NoRequest:  # a consultation always starts with its request; never expected
            raise not_found(f"episode {consultation_id}") from None
        ids = people_in(facts, events) | {consultation["nurse_id"]}
        versions = await store.documents(conn, consultation_id)
        people = await store.user_names(conn, [*ids, *(v["author_id"] for v in versions)])
        org = await conn.fetchval(
            "SELECT name FROM organisations WHERE id = $1", consultation["organisation_id"]
        )
        participant = await took_part(conn, consultation_id, user.id)
        await audit.record(conn, actor, "episode.read", "consultation", consultation_id, reason,
                           patient_id=consultation["patient_id"])  # fmt: skip
    nurse = people.get(consultation["nurse_id"], {})
    return {
        "id": consultation_id,
        "state": consultation["state"],
        "created_at": consultation["created_at"],
        "channel": consultation["channel"],
        "urgency": consultation["urgency"],
        "isbar": consultation["isbar"],
        "patient": patient,
        "nurse": {"id": consultation["nurse_id"], "name": nurse.get("name")},
        "organisation": {"id": consultation["organisation_id"], "name": org},
        "facts": facts_json(facts, people),
        "timeline": timeline_json(events, people),
        "documentation": versions[0] if versions else None,
        "earlier_versions": versions[1:],
        "needs_documentation": facts.first_answer_at is not None and not versions,
        "took_part": participant,
        "may_document": participant and consultation["state"] in DOCUMENTABLE,
        "in_wrap_up": participant
        and consultation["state"] == "wrap_up"
        and user.id in consultation["participants"],
    }


@dataclass(frozen=True)
class EpisodeFilter:
    """Which episodes to list (always only those the caller may read), newest first."""

    mine: bool = False
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    organisation_id: int | None = None
    outcome: str | None = None
    disposition: str | None = None
    undocumented: bool = False
    before_id: int | None = None
    limit: int = 25


async def search(
    conn: asyncpg.Connection, user: SessionUser, actor: audit.Actor, f: EpisodeFilter
) -> tuple[list[dict[str, Any]], int | None]:
    """One page of episodes and the cursor of the next (None on the last page); audited."""
    state = OUTCOME_STATES.get(f.outcome or "")
    async with conn.transaction():
        rows = await conn.fetch(
            f"""SELECT c.id, c.created_at, c.state, c.channel, c.urgency, c.organisation_id,
                       o.name AS organisation_name, c.nurse_id, n.display_name AS nurse_name,
                       p.id AS patient_id, p.name AS patient_name, p.reference AS patient_reference,
                       d.version AS documentation_version, d.disposition, d.follow_up,
                       d.created_at AS documented_at,
                       ARRAY(SELECT (e.data ->> 'advisor')::bigint FROM consultation_events e
                              WHERE e.consultation_id = c.id AND e.type = 'accepted'
                              GROUP BY 1 ORDER BY min(e.id)) AS advisors
                  FROM consultations c
                  JOIN patients p ON p.id = c.patient_id
                  JOIN organisations o ON o.id = c.organisation_id
                  JOIN users n ON n.id = c.nurse_id
                  LEFT JOIN LATERAL (SELECT version, disposition, follow_up, created_at
                                       FROM episode_documents WHERE consultation_id = c.id
                                      ORDER BY version DESC LIMIT 1) d ON true
                 WHERE {VISIBLE_SQL}
                   AND (NOT $4 OR {MINE_SQL})
                   AND ($5::timestamptz IS NULL OR c.created_at >= $5)
                   AND ($6::timestamptz IS NULL OR c.created_at < $6)
                   AND ($7::bigint IS NULL OR c.organisation_id = $7)
                   AND ($8::text IS NULL OR c.state = $8)
                   AND (NOT $9 OR c.state NOT IN ('ended', 'cancelled', 'abandoned', 'failed'))
                   AND ($10::text IS NULL OR d.disposition = $10)
                   AND (NOT $11 OR (d.version IS NULL AND EXISTS (
                        SELECT 1 FROM consultation_events e
                         WHERE e.consultation_id = c.id AND e.type = 'accepted')))
                   AND ($12::bigint IS NULL OR c.id < $12)
                 ORDER BY c.id DESC
                 LIMIT $13""",
            *visibility_params(user), f.mine, f.since, f.until, f.organisation_id, state,
            f.outcome == "open", f.disposition, f.undocumented, f.before_id, f.limit + 1,
        )  # fmt: skip
        page = [dict(r) for r in rows[: f.limit]]
        advisors = await store.user_names(conn, [a for r in page for a in r["advisors"]])
        if page:
            await audit.record(
                conn, actor, "episode.list", "consultation", None, "episode list",
                details={"patient_ids": sorted({r["patient_id"] for r in page}),
                         "consultation_ids": [r["id"] for r in page], "count": len(page)},
            )  # fmt: skip
    return [_list_item(r, user, advisors) for r in page], (
        page[-1]["id"] if len(rows) > f.limit else None
    )


def _list_item(
    r: dict[str, Any], user: SessionUser, names: dict[int, dict[str, Any]]
) -> dict[str, Any]:
    answered = bool(r["advisors"])
    return {
        "id": r["id"], "created_at": r["created_at"], "state": r["state"],
        "outcome": outcome_of(r["state"]), "channel": r["channel"], "urgency": r["urgency"],
        "patient": {"id": r["patient_id"], "name": r["patient_name"],
                    "reference": r["patient_reference"]},
        "nurse": {"id": r["nurse_id"], "name": r["nurse_name"]},
        "organisation": {"id": r["organisation_id"], "name": r["organisation_name"]},
        "advisors": [{"id": a, "name": names.get(a, {}).get("name"),
                      "tier": names.get(a, {}).get("tier")} for a in r["advisors"]],
        "answered": answered, "documented": r["documentation_version"] is not None,
        "needs_documentation": answered and r["documentation_version"] is None,
        "documentation_version": r["documentation_version"], "disposition": r["disposition"],
        "follow_up": r["follow_up"], "documented_at": r["documented_at"],
        "took_part": user.id in r["advisors"],
        "may_document": user.id in r["advisors"] and r["state"] in DOCUMENTABLE,
    }  # fmt: skip
