"""Routing during a database outage: the pure core over Redis, each step spooled to disk.

The same ``escalation`` core decides as in normal running; only where the state lives and
where the situation comes from differ. A step that rings someone decides first, then takes
a Redis lock (the advisory lock's role) under which it checks that nobody it rings was rung
for another call meanwhile and stores itself, so two calls never ring one advisor. A stored
step is appended to this node's spool, on disk, before anyone is told: what a user was told
survives a crash of this node and of Redis.

What an outage costs, said once here and in docs/operations.md: advisors are rung with the
ISBAR but without the care plan (it is in the database); the patient's own GP is not looked
up (the rota's GP on duty is rung); a change of availability waits for the database; calls
that were already ringing when the database went away wait for it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import secrets
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import structlog
from redis.asyncio import Redis

from advice_line import audit
from advice_line.dataclass_json import from_json, to_json
from advice_line.outage.directory import Directory
from advice_line.outage.spool import Spool
from advice_line.outage.store import CLOSED, OutageStore
from advice_line.problems import Problem, not_found
from advice_line.redis_keys import RedisKeys
from advice_line.sessions import Session, SessionUser
from escalation import machine as core
from escalation import new_consultation
from escalation.model import (
    UNREAD,
    AdvisorAvailable,
    CancelTimers,
    Channel,
    Consultation,
    Decision,
    EscalationError,
    Event,
    Join,
    Offer,
    Record,
    Situation,
    SituationNeeded,
    Start,
    StartTimer,
    TierView,
    Urgency,
)
from rota.tiers import TIERS

if TYPE_CHECKING:
    from advice_line.routing_engine import Outcome, RoutingEngine

log = structlog.get_logger("advice_line.outage")

#: How often a step decided on a state that changed meanwhile is decided again.
ATTEMPTS = 20
LOCK_MS = 5000
_RELEASE = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
)
_URGENCY_ORDER = {"acute": 0, "urgent": 1, "routine": 2}


class Moved(Exception):
    """The consultation was handed back to PostgreSQL meanwhile: act on it there."""


def unavailable() -> Problem:
    return Problem(
        503, "unavailable", "Service briefly unavailable",
        "the database cannot be reached and this node cannot route without it; try again shortly",
        headers={"Retry-After": "5"},
    )  # fmt: skip


def machine_of(record: dict[str, Any]) -> Consultation:
    return from_json(Consultation, record["machine"])


def _ms(at: dt.datetime) -> int:
    return int(at.timestamp() * 1000)


def held_by(record: dict[str, Any]) -> set[int]:
    """Advisors a held consultation keeps from other calls (as ``situation.lock_then_busy`` counts them)."""
    machine = record["machine"]
    if machine["state"] in CLOSED:
        return set()
    if machine["state"] in ("queued", "callback"):
        return set(machine["participants"])
    return set(machine["offered"]) | set(machine["participants"])


def advanced(
    record: dict[str, Any], decision: Decision, now: dt.datetime, actor_id: int | None,
    fired: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The record after a step: new machine state, its events appended, its timers (the one
    that ``fired`` is spent)."""
    after = decision.consultation
    timers = {k: v for k, v in record["timers"].items() if k != fired}
    if any(isinstance(a, CancelTimers) for a in decision.actions):
        timers = {}
    for action in decision.actions:
        if isinstance(action, StartTimer):
            timers[action.kind.value] = [action.seq, _ms(action.due)]
    events = list(record["events"])
    for action in decision.actions:
        if isinstance(action, Record):
            events.append({"seq": len(events) + 1, "at": now.isoformat(), "type": action.type,
                           "actor_id": actor_id, "data": to_json(action.data)})  # fmt: skip
    return {**record, "machine": to_json(after), "version": after.version, "events": events,
            "timers": timers}  # fmt: skip


class OutageRouter:
    def __init__(
        self, engine: RoutingEngine, redis: Redis, keys: RedisKeys, directory: Directory,
        spool: Spool,
    ) -> None:  # fmt: skip
        self.engine = engine
        self.redis = redis
        self.keys = keys
        self.store = OutageStore(redis, keys)
        self.directory = directory
        self.spool = spool
        self._release = redis.register_script(_RELEASE)
        #: Steps on this node queue here for the routing lock, so that only one of them at a
        #: time asks Redis for it (waiting steps do not spin on Redis).
        self._ring_queue = asyncio.Lock()

    @property
    def ready(self) -> bool:
        """Whether this node can route without the database (a copy of it, a spool)."""
        return self.directory.ready and self.spool.writable

    # Entry points ---------------------------------------------------------------------

    async def open(
        self, nurse: SessionUser, actor: audit.Actor, body: dict[str, Any]
    ) -> dict[str, Any]:
        """Create and route a consultation without the database; returns its record."""
        if not self.ready:
            raise unavailable()
        org = self.directory.patients.get(body["patient_id"])
        if org is None or org != nurse.organisation_id:
            raise not_found(f"patient {body['patient_id']}")
        consultation_id = self.directory.take_id()
        if consultation_id is None:
            raise unavailable()
        now = self.engine.clock()
        machine = new_consultation(
            consultation_id, nurse.id, body["patient_id"], Urgency(body["urgency"]),
            Channel(body["channel"]), now,
        )  # fmt: skip
        record = {
            "id": consultation_id, "organisation_id": org, "isbar": body["isbar"],
            "created_at": now.isoformat(), "machine": to_json(machine), "version": machine.version,
            "nurse": {"id": nurse.id, "name": nurse.display_name,
                      "organisation": nurse.organisation_name},
            "events": [], "timers": {},
        }  # fmt: skip
        after = await self._step(record, Start(), actor, creating=True)
        log.info("consultation.requested_during_outage", consultation=consultation_id,
                 state=after["machine"]["state"])  # fmt: skip
        return after

    async def note_logout(self, session: Session, actor: audit.Actor) -> None:
        """A logout while the database is away: ended in the database, and audited, at the
        hand back (the session cache already says it ended)."""
        await self.redis.rpush(self.keys.outage_logouts, json.dumps({
            "token_hash": session.token_hash, "user_id": session.user.id,
            "username": actor.username, "ip": actor.ip, "at": self.engine.clock().isoformat(),
        }))  # fmt: skip

    async def act(self, consultation_id: int, event: Event, actor: audit.Actor) -> dict[str, Any]:
        """Apply one user's event (accept, decline, end ...) to a held consultation."""
        record = await self.store.get(consultation_id)
        if record is None:
            raise Moved(consultation_id)
        return await self._step(record, event, actor)

    async def offer_waiting(self, advisors: set[int]) -> None:
        """Offer held calls that wait (queued, waking, call back) to advisors now free, the
        most urgent and then the oldest first (as ``RoutingEngine.offer_waiting``)."""
        if not await self.redis.scard(self.keys.outage_open):
            return
        waiting = [r for r in await self.store.open()
                   if r["machine"]["state"] in ("waking", "queued", "callback")
                   and not r.get("moving")]  # fmt: skip
        waiting.sort(key=lambda r: (_URGENCY_ORDER[r["machine"]["urgency"]], r["created_at"]))
        free = set(advisors)
        for record in waiting:
            free -= await self._held(apart_from=None)
            if not free:
                return
            for advisor in sorted(free):
                try:
                    after = await self.act(record["id"], AdvisorAvailable(advisor), audit.SYSTEM)
                except (EscalationError, Moved):
                    break
                if advisor in after["machine"]["offered"] or after["version"] != record["version"]:
                    break

    async def fire_due_timers(self) -> int:
        """Fire the held consultations' timers that are due; returns how many fired."""
        fired = 0
        for consultation_id, kind, seq in await self.store.due(_ms(self.engine.clock())):
            record = await self.store.get(consultation_id)
            if (
                record is None
                or record.get("moving")
                or record["timers"].get(kind, [None])[0] != seq
            ):
                continue  # handed back, being handed back, or replaced meanwhile
            from advice_line.routing_engine import timer_event

            event = timer_event(kind, seq, machine_of(record))
            with contextlib.suppress(Moved):
                await self._step(record, event, audit.SYSTEM, fired=kind)
                fired += 1
        return fired

    # One step -------------------------------------------------------------------------

    async def _step(
        self, record: dict[str, Any], event: Event, actor: audit.Actor, *,
        creating: bool = False, fired: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        for _ in range(ATTEMPTS):
            if record.get("moving"):
                raise Moved(record["id"])
            machine = machine_of(record)
            now = self.engine.clock()
            try:
                decision = core.decide(machine, event, UNREAD, self.engine.policy, now)
                after = advanced(record, decision, now, actor.user_id, fired)
                stored = await self._store(after, None if creating else record, decision)
            except SituationNeeded:
                decision = await self._decide_ringing(machine, event, now)
                after = advanced(record, decision, now, actor.user_id, fired)
                if any(isinstance(a, Offer) for a in decision.actions):
                    async with self._routing_lock():
                        # Decided without the lock (the costly part); under it, only check
                        # that nobody it rings was rung for another call meanwhile, as the
                        # database engine does. If someone was, decide again, now locked.
                        ringing = {a for x in decision.actions if isinstance(x, Offer)
                                   for a in x.advisors}  # fmt: skip
                        if ringing & await self._held(apart_from=machine.id):
                            decision = await self._decide_ringing(machine, event, now)
                            after = advanced(record, decision, now, actor.user_id, fired)
                        stored = await self._store(after, None if creating else record, decision)
                else:
                    stored = await self._store(after, None if creating else record, decision)
            if stored:
                if self._changed(after, None if creating else record, decision):
                    # On this node's disk before anyone is told (outside the routing lock:
                    # the Redis write is what keeps two calls from ringing one advisor).
                    await self.spool.append({"consultation": after})
                    await self._deliver(record, after, decision)
                return after
            if creating:
                raise AssertionError("a fresh id from the sequence is held already")
            found = await self.store.get(record["id"])
            if found is None:
                raise Moved(record["id"])
            if fired is not None and found["timers"].get(fired) != record["timers"].get(fired):
                return found  # the timer was fired (or replaced) by another node meanwhile
            record = found
        raise unavailable()

    async def _decide_ringing(
        self, machine: Consultation, event: Event, now: dt.datetime
    ) -> Decision:
        situation = await self._situation(machine, now)
        return core.decide(machine, event, situation, self.engine.policy, now)

    @staticmethod
    def _changed(after: dict[str, Any], before: dict[str, Any] | None, decision: Decision) -> bool:
        return before is None or after["version"] != before["version"] or bool(decision.actions)

    async def _store(
        self, after: dict[str, Any], before: dict[str, Any] | None, decision: Decision
    ) -> bool:
        """Store the step in Redis if the record is still ``before`` (a step that changes
        nothing is not stored, and counts as stored)."""
        if not self._changed(after, before, decision):
            return True
        return bool(await self.store.put(after, before))

    async def _deliver(
        self, before: dict[str, Any], after: dict[str, Any], decision: Decision
    ) -> None:
        from advice_line.routing_engine import Outcome, _advisors_of

        if not decision.actions:
            return
        machine = decision.consultation
        outcome: Outcome = Outcome(machine, decision.actions)
        rung = _advisors_of([a for a in decision.actions if isinstance(a, Offer | Join)])
        if rung:
            shown = {"isbar": after["isbar"], "care_plan": None, "degraded": True,
                     "escalation_note": machine.escalation_note,
                     **self.directory.people(after["nurse"], list(machine.participants))}  # fmt: skip
            outcome.rings = {advisor: shown for advisor in rung}
        await self.engine.deliver(outcome)
        freed = held_by(before) - held_by(after)
        if freed:
            task = asyncio.create_task(self._offer_freed(freed), name="outage-offer-waiting")
            self.engine._background.add(task)
            task.add_done_callback(self.engine._background.discard)

    async def _offer_freed(self, advisors: set[int]) -> None:
        try:
            await self.offer_waiting(advisors)
        except Exception:  # the retry timers of queued calls still offer them later
            log.exception("outage.offer_waiting_failed")

    # What routing knows during an outage -------------------------------------------------

    async def _held(self, apart_from: int | None) -> set[int]:
        held = set(self.directory.held)
        for record in await self.store.open():
            if record["id"] != apart_from:
                held |= held_by(record)
        return held

    async def _situation(self, machine: Consultation, now: dt.datetime) -> Situation:
        on_duty = {
            t: self.engine.rotas.on_duty_as_cached(str(t), now) or frozenset() for t in TIERS
        }
        rostered = frozenset().union(*on_duty.values())
        online = await self.engine.presence.online(rostered, _ms(now))
        held = await self._held(apart_from=machine.id)
        advisors = self.directory.advisors
        ready = sorted(
            (advisors[a].idle_since, a) for a in rostered
            if a in online and a in advisors and advisors[a].status == "available" and a not in held
        )  # fmt: skip
        order = [a for _, a in ready]
        views: dict[int, TierView] = {}
        for number, tier in enumerate(TIERS, 1):
            staff = on_duty[tier]
            views[number] = TierView(
                on_duty=staff, available=tuple(a for a in order if a in staff),
                online=staff & online, own_gp=None,
            )  # fmt: skip
        return views

    @contextlib.asynccontextmanager
    async def _routing_lock(self) -> AsyncIterator[None]:
        token = secrets.token_hex(8)
        async with self._ring_queue:
            while True:  # held for one step's few Redis round trips: a short spin is enough
                if await self.redis.set(self.keys.outage_routing_lock, token, nx=True, px=LOCK_MS):
                    break
                await asyncio.sleep(0.002)
            try:
                yield
            finally:
                await self._release(keys=[self.keys.outage_routing_lock], args=[token])
