"""Derive an episode's facts from its event timeline (pure: events in, facts out).

The events are those the routing engine appended for one consultation, in id order. Unknown
event types are ignored, so the timeline can grow new kinds without breaking evaluation.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .model import (
    EpisodeFacts,
    Escalation,
    EventRow,
    Participation,
    QualitySummary,
    TierReached,
)

_FINAL = {"completed": "completed", "cancelled": "cancelled", "abandoned": "abandoned",
          "failed": "failed"}  # fmt: skip


class NoRequest(ValueError):
    """The timeline does not start with a ``requested`` event."""


@dataclass
class _Tier:
    reached_at: dt.datetime
    offered: list[int] = field(default_factory=list)
    skipped: str | None = None
    answered_by: int | None = None
    answered_at: dt.datetime | None = None


@dataclass
class _Walk:
    """What has been seen so far while walking the timeline."""

    tiers: dict[int, _Tier] = field(default_factory=dict)
    joined: dict[int, tuple[int, dt.datetime]] = field(default_factory=dict)
    participations: list[Participation] = field(default_factory=list)
    escalations: list[Escalation] = field(default_factory=list)
    declined: list[int] = field(default_factory=list)
    timed_out: list[int] = field(default_factory=list)
    quality: list[dict[str, Any]] = field(default_factory=list)
    callback: bool = False
    queued: bool = False
    first_answer_at: dt.datetime | None = None
    call_ended_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    outcome: str = "open"

    def reach(self, tier: int, at: dt.datetime) -> _Tier:
        if tier not in self.tiers:
            self.tiers[tier] = _Tier(at)
        return self.tiers[tier]

    def leave(self, advisor: int, at: dt.datetime) -> None:
        if advisor in self.joined:
            tier, since = self.joined.pop(advisor)
            self.participations.append(Participation(advisor, tier, since, at))

    def settle_escalation(self, result: str) -> None:
        if self.escalations and self.escalations[-1].result == "open":
            self.escalations[-1] = replace(self.escalations[-1], result=result)


def _int(data: dict[str, object], key: str) -> int:
    value = data[key]
    assert isinstance(value, int), (key, value)
    return value


def _ints(value: object) -> list[int]:
    return [int(v) for v in value] if isinstance(value, list) else []


def _on_offer(w: _Walk, e: EventRow) -> None:
    t = w.reach(_int(e.data, "tier"), e.at)
    t.offered.extend(a for a in _ints(e.data.get("advisors")) if a not in t.offered)


def _on_skip(w: _Walk, e: EventRow) -> None:
    t = w.reach(_int(e.data, "tier"), e.at)
    if t.skipped is None and not t.offered:
        t.skipped = str(e.data.get("reason", ""))


def _on_accept(w: _Walk, e: EventRow) -> None:
    tier, advisor = _int(e.data, "tier"), _int(e.data, "advisor")
    t = w.reach(tier, e.at)
    if t.answered_by is None:
        t.answered_by, t.answered_at = advisor, e.at
    if w.first_answer_at is None:
        w.first_answer_at = e.at
    elif w.escalations:
        w.settle_escalation("answered")
    w.joined.setdefault(advisor, (tier, e.at))


def _on_escalate(w: _Walk, e: EventRow) -> None:
    w.escalations.append(
        Escalation(
            e.at, _int(e.data, "advisor"), _int(e.data, "from_tier"), str(e.data.get("note", ""))
        )
    )


def _on_end(w: _Walk, e: EventRow) -> None:
    w.call_ended_at = e.at
    for advisor in list(w.joined):
        w.leave(advisor, e.at)


def _on_final(w: _Walk, e: EventRow) -> None:
    if w.closed_at is None:
        w.closed_at, w.outcome = e.at, _FINAL[e.type]
    if w.call_ended_at is None and w.first_answer_at is not None:
        _on_end(w, e)


_HANDLERS = {
    "offered": _on_offer,
    "waking": _on_offer,
    "tier_skipped": _on_skip,
    "accepted": _on_accept,
    "escalated": _on_escalate,
    "ended": _on_end,
    "escalation_failed": lambda w, e: w.settle_escalation("failed"),
    "left": lambda w, e: w.leave(_int(e.data, "advisor"), e.at),
    "declined": lambda w, e: w.declined.append(_int(e.data, "advisor")),
    "timed_out": lambda w, e: w.timed_out.extend(_ints(e.data.get("advisors"))),
    "queued": lambda w, e: setattr(w, "queued", w.queued or w.first_answer_at is None),
    "callback_requested": lambda w, e: setattr(w, "callback", True),
    "call_quality": lambda w, e: w.quality.append(e.data),
    **dict.fromkeys(_FINAL, _on_final),
}


def summarise_quality(reports: Sequence[dict[str, Any]]) -> QualitySummary:
    """Median round trip, worst loss, mean bitrate and the share of reports over TURN."""
    if not reports:
        return QualitySummary(0, None, None, None, None)
    rtts = [float(r["rtt_ms"]) for r in reports]
    return QualitySummary(
        reports=len(reports),
        median_rtt_ms=statistics.median(rtts),
        max_packet_loss=max(float(r["packet_loss"]) for r in reports),
        mean_bitrate_kbps=statistics.fmean(float(r["bitrate_kbps"]) for r in reports),
        relay_share=sum(1 for r in reports if r["relay"]) / len(reports),
    )


def _created(request: EventRow) -> dt.datetime:
    """When the nurse asked: the consultation's creation, which the request event carries."""
    created = request.data.get("created")
    return dt.datetime.fromisoformat(created) if isinstance(created, str) else request.at


def derive(consultation_id: int, events: Sequence[EventRow]) -> EpisodeFacts:
    """The facts of one consultation from its events (in id order, ``requested`` first)."""
    if not events or events[0].type != "requested":
        raise NoRequest(f"consultation {consultation_id}: the timeline has no request")
    request = events[0]
    w = _Walk()
    for event in events[1:]:
        handler = _HANDLERS.get(event.type)
        if handler is not None:
            handler(w, event)
    return EpisodeFacts(
        consultation_id=consultation_id,
        requested_at=_created(request),
        channel=str(request.data["channel"]),
        urgency=str(request.data["urgency"]),
        start_tier=_int(request.data, "start_tier"),
        tiers=tuple(
            TierReached(n, t.reached_at, tuple(t.offered), t.skipped, t.answered_by, t.answered_at)
            for n, t in sorted(w.tiers.items())
        ),
        participations=tuple(
            sorted(
                [
                    *w.participations,
                    *(Participation(a, tier, at, None) for a, (tier, at) in w.joined.items()),
                ],
                key=lambda p: (p.joined_at, p.advisor),
            )
        ),
        escalations=tuple(w.escalations),
        declined=tuple(w.declined),
        timed_out=tuple(w.timed_out),
        callback_requested=w.callback,
        queued=w.queued,
        first_answer_at=w.first_answer_at,
        call_ended_at=w.call_ended_at,
        closed_at=w.closed_at,
        outcome=w.outcome,
        quality=summarise_quality(w.quality),
    )
