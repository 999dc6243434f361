"""An episode's facts as JSON for the API: tiers by name, people by id and name, and the
durations the facts compute (times to answer, time in the call) spelled out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from advice_line.consultations import TIER_NAMES_BY_NUMBER

from .model import EpisodeFacts, EventRow, QualitySummary

People = Mapping[int, Mapping[str, Any]]


def person(people: People, user_id: int | None) -> dict[str, Any] | None:
    """``{"id", "name", "tier"}`` of a user (a deleted or unknown one keeps its id only)."""
    if user_id is None:
        return None
    found = people.get(user_id, {})
    return {"id": user_id, "name": found.get("name"), "tier": found.get("tier")}


def tier_name(tier: int) -> str | None:
    return TIER_NAMES_BY_NUMBER.get(tier)


def facts_json(facts: EpisodeFacts, people: People) -> dict[str, Any]:
    """What happened, with every duration computed from the timeline."""
    first = facts.participations[0].advisor if facts.participations else None
    return {
        "requested_at": facts.requested_at,
        "channel": facts.channel,
        "urgency": facts.urgency,
        "start_tier": tier_name(facts.start_tier),
        "tiers": [
            {
                "tier": tier_name(t.tier),
                "reached_at": t.reached_at,
                "offered": [person(people, a) for a in t.offered],
                "skipped": t.skipped,
                "answered_by": person(people, t.answered_by),
                "answered_at": t.answered_at,
                "seconds_to_answer": t.seconds_to_answer,
            }
            for t in facts.tiers
        ],
        "answered_by": person(people, first),
        "first_answer_at": facts.first_answer_at,
        "seconds_to_first_answer": facts.seconds_to_first_answer,
        "participations": [
            {
                "advisor": person(people, p.advisor),
                "tier": tier_name(p.tier),
                "joined_at": p.joined_at,
                "left_at": p.left_at,
                "seconds": p.seconds,
            }
            for p in facts.participations
        ],
        "escalations": [
            {
                "at": e.at,
                "by": person(people, e.by),
                "from_tier": tier_name(e.from_tier),
                "note": e.note,
                "result": e.result,
            }
            for e in facts.escalations
        ],
        "declined": [person(people, a) for a in facts.declined],
        "timed_out": [person(people, a) for a in facts.timed_out],
        "callback_requested": facts.callback_requested,
        "queued": facts.queued,
        "call_ended_at": facts.call_ended_at,
        "call_seconds": facts.call_seconds,
        "closed_at": facts.closed_at,
        "highest_tier": tier_name(facts.highest_tier),
        "outcome": facts.outcome,
        "quality": quality_json(facts.quality),
    }


def quality_json(quality: QualitySummary) -> dict[str, Any]:
    return {
        "reports": quality.reports,
        "median_rtt_ms": quality.median_rtt_ms,
        "max_packet_loss": quality.max_packet_loss,
        "mean_bitrate_kbps": quality.mean_bitrate_kbps,
        "relay_share": quality.relay_share,
    }


def people_in(facts: EpisodeFacts, events: list[EventRow]) -> set[int]:
    """Every user the facts and the timeline name, so their names can be read at once."""
    ids: set[int] = {e.actor_id for e in events if e.actor_id is not None}
    for t in facts.tiers:
        ids.update(t.offered)
        if t.answered_by is not None:
            ids.add(t.answered_by)
    ids.update(p.advisor for p in facts.participations)
    ids.update(e.by for e in facts.escalations)
    ids.update(facts.declined)
    ids.update(facts.timed_out)
    for e in events:
        for key in ("advisor", "by"):
            value = e.data.get(key)
            if isinstance(value, int):
                ids.add(value)
        advisors = e.data.get("advisors")
        if isinstance(advisors, list):
            ids.update(a for a in advisors if isinstance(a, int))
    return ids


def timeline_json(events: list[EventRow], people: People) -> list[dict[str, Any]]:
    """The events with the actor's name (the system when nobody acted)."""
    return [
        {
            "id": e.id,
            "at": e.at,
            "type": e.type,
            "actor": person(people, e.actor_id),
            "data": e.data,
        }
        for e in events
    ]
