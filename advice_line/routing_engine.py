"""The routing engine: runs the pure core against the stores, with durable timers.

One step, ``_step``, does everything for one event on one consultation inside one
transaction: lock the row, gather the situation, ``decide``, store the new state, the
timeline events and the timers, and audit what patient data goes to whom. Only after the
commit are messages sent (rings, withdrawals, updates, wake-ups, alerts), so nobody is told
about something that did not happen. A node that dies after the commit and before sending
loses only the messages; clients read the state again when they reconnect.

Timers are rows. The node that starts one plans a try at its due time
(``advice_line/timer_schedule.py``); every node also polls every ``TIMER_POLL`` seconds for
the rows due within ``TIMER_LOOKAHEAD`` and plans those it does not know. A try locks the
consultation (skipping ones another step holds, to try again shortly) and fires the timer only
if it is still the one that was due, taking its row in the same transaction: a crash or
restart neither loses nor double-fires one, and after a restart overdue timers fire at the
first poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import asyncpg
import structlog

from advice_line import audit, consultations
from advice_line.consultations import TIER_NAMES_BY_NUMBER
from advice_line.db import DATABASE_AWAY
from advice_line.episodes import stored_facts
from advice_line.names import Names
from advice_line.notify import Notice, Senders
from advice_line.problems import not_found
from advice_line.rota_cache import RotaCache
from advice_line.sessions import SessionUser
from advice_line.settings import Settings
from advice_line.situation import build_situation, busy_of, lock_then_busy
from advice_line.timer_schedule import TimerKey, TimerSchedule, Tried
from escalation import machine as core
from escalation import new_consultation
from escalation.model import (
    UNREAD,
    Action,
    AdvisorAvailable,
    AlertCoordinators,
    CancelTimers,
    Channel,
    Consultation,
    Decision,
    EscalationError,
    Event,
    Join,
    NotifyNurse,
    Offer,
    Policy,
    Record,
    RingTimeout,
    SituationNeeded,
    Start,
    StartTimer,
    Strategy,
    TierPolicy,
    TimerKind,
    Urgency,
    Wake,
    WakeTimeout,
    Withdraw,
    WrapUpTimeout,
)
from escalation.model import Retry as RetryEvent
from rota.tiers import TIERS
from signalling.bus import UserBus
from signalling.presence import Presence

if TYPE_CHECKING:
    from advice_line.outage.router import OutageRouter

log = structlog.get_logger("advice_line.routing")

TIMER_POLL = 0.1
#: The poll plans the timers due within this many seconds (exact tries, not poll-sized steps).
TIMER_LOOKAHEAD = 1.0
#: How long after its due time a node tries a timer it learnt of from the poll (a timer whose
#: node died fires this late; every other is fired by its own node first).
TIMER_OTHERS_GRACE = 0.2
#: Advisory lock that serialises the routing steps that can make offers (an arbitrary key).
ROUTING_LOCK_KEY = 0x524F5554  # "ROUT"
Clock = Callable[[], dt.datetime]
#: Events whose step always reads the tiers: they go the locked way at once.
NEEDS_TIERS = (Start, AdvisorAvailable, RetryEvent, RingTimeout, WakeTimeout)
#: Told of every committed change to a consultation, after its messages are sent.
Observer = Callable[[Consultation], Awaitable[None]]


#: The ring payload of an advisor shown nothing more (one object, so equal rings share it).
_NOTHING_SHOWN: dict[str, Any] = {}


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Outcome:
    """What a step decided, and the messages to send once it is committed."""

    consultation: Consultation
    actions: tuple[Action, ...]
    rings: dict[int, dict[str, Any]] = field(default_factory=dict)


def routing_policy(settings: Settings) -> Policy:
    """The routing policy from the settings (ring times per tier, strategies, grace periods)."""
    tiers = tuple(
        TierPolicy(
            ring_seconds=seconds,
            strategy=Strategy.LONGEST_IDLE
            if name in settings.longest_idle_tiers
            else Strategy.RING_ALL,
            step_seconds=min(20.0, seconds),
            wake_grace_seconds=settings.wake_grace_seconds,
        )
        for name, seconds in zip(TIERS, settings.ring_seconds, strict=True)
    )
    return Policy(
        tiers=tiers, retry_seconds=settings.retry_seconds, wrap_up_seconds=settings.wrap_up_seconds
    )


def timer_event(kind: str, seq: int, consultation: Consultation) -> Event:
    if kind == TimerKind.RING.value:
        return RingTimeout(consultation.tier, seq)
    if kind == TimerKind.WAKE.value:
        return WakeTimeout(consultation.tier, seq)
    if kind == TimerKind.RETRY.value:
        return RetryEvent(seq)
    return WrapUpTimeout(seq)


def _advisors_of(actions: Sequence[Offer | Join]) -> list[int]:
    """Everyone a step rings or lets join, in the order of its actions."""
    return [
        advisor
        for action in actions
        for advisor in (action.advisors if isinstance(action, Offer) else (action.advisor,))
    ]


class _Shown:
    """What advisors rung for, or joining, a consultation are shown (ISBAR, care plan): read
    once per step, when the step first knows it will ring someone."""

    def __init__(self, consultation_id: int) -> None:
        self.consultation_id = consultation_id
        self.context: dict[str, Any] = {}

    async def read(self, conn: asyncpg.Connection) -> None:
        if not self.context:
            self.context = await consultations.ring_context(conn, self.consultation_id)


class RoutingEngine:
    def __init__(
        self, pool: asyncpg.Pool, bus: UserBus, presence: Presence, policy: Policy,
        senders: Senders, clock: Clock = utc_now, fallback: dict[str, str] | None = None,
    ) -> None:  # fmt: skip
        self.pool = pool
        self.bus = bus
        self.presence = presence
        self.policy = policy
        self.senders = senders
        self.clock = clock
        self.rotas = RotaCache()
        self.timers = TimerSchedule(self._try_timer, clock)
        self.names = Names()
        self.fallback = fallback or {}
        self.observers: list[Observer] = []
        self._background: set[asyncio.Task[None]] = set()
        self._freed: set[int] = set()  # waiting for the background offerer's next pass
        self._offering: asyncio.Task[None] | None = None
        #: Routing without PostgreSQL, for calls asked for while it is away (set by the app).
        self.outage: OutageRouter | None = None
        #: Whether PostgreSQL is known to be away now (set by the app): its timers wait.
        self.database_down: Callable[[], bool] = lambda: False

    # One step -----------------------------------------------------------------------

    async def step(
        self, conn: asyncpg.Connection, machine: Consultation, event: Event, actor: audit.Actor
    ) -> Outcome:
        """Decide and store one event for a locked consultation (inside a transaction)."""
        shown = _Shown(machine.id)
        decision, now = await self._decide(conn, machine, event, shown)
        after = decision.consultation
        if after == machine and not decision.actions:
            return Outcome(after, ())
        offered = [a for a in decision.actions if isinstance(a, Offer | Join)]
        readers = [audit.Actor(a, f"advisor:{a}") for a in _advisors_of(offered)]
        if readers:
            await shown.read(conn)
        stored = await self._store(conn, machine, decision, now, actor, readers)
        assert stored, "the row is locked: nobody else can have changed it"
        if after.state.final and not machine.state.final:
            # Derived from the whole timeline, in the transaction of its last event.
            await stored_facts.write(conn, after.id)
        outcome = Outcome(after, decision.actions)
        outcome.rings = await self._shown_to(conn, after, readers, shown)
        return outcome  # its timers are planned once the caller has committed it

    def _plan_timers(self, consultation: int, actions: Sequence[Action]) -> None:
        """Plan the tries of the timers a committed step started; forget those it cancelled.
        (Only after the commit: a step rolled back must not leave a planned timer in the
        place of the row that is still there.)"""
        for action in actions:
            if isinstance(action, CancelTimers):
                self.timers.forget(consultation)
            elif isinstance(action, StartTimer):
                self.timers.plan((consultation, action.kind.value, action.seq), action.due)

    async def _shown_to(
        self, conn: asyncpg.Connection, after: Consultation, readers: list[audit.Actor],
        shown: _Shown,
    ) -> dict[int, dict[str, Any]]:  # fmt: skip
        """What each advisor rung or joining sees (the ISBAR and care plan read, who is in it)."""
        if not readers:
            return {}
        payload = {**shown.context, **await self.names.people(
            conn, after.nurse, after.participants
        ), "escalation_note": after.escalation_note}  # fmt: skip
        return {reader.user_id: payload for reader in readers if reader.user_id}

    async def _store(
        self, conn: asyncpg.Connection, machine: Consultation, decision: Decision,
        now: dt.datetime, actor: audit.Actor, readers: list[audit.Actor],
    ) -> bool:  # fmt: skip
        """Store a decision taken on ``machine``, if the consultation is still at its version."""
        return await consultations.store_step(
            conn, machine.version, decision.consultation, now, actor.user_id,
            records=[a for a in decision.actions if isinstance(a, Record)],
            timers=[a for a in decision.actions if isinstance(a, StartTimer)],
            cancel_timers=any(isinstance(a, CancelTimers) for a in decision.actions),
            readers=readers, reason=f"consultation {machine.id} offered",
        )  # fmt: skip

    async def _step_unlocked(
        self, consultation_id: int, event: Event, actor: audit.Actor, seen: Consultation | None
    ) -> tuple[Consultation, Outcome] | None:
        """The short way for a step that needs neither the tiers nor a ring and does not close
        the call (accept, end, cancel, leave ...): decide on the state as read
        (``seen``, read just before, or read now) and store it in one statement that applies
        only if the consultation is still at that version. Two round trips instead of a
        transaction's four or more; the same result as the locked step, because ``decide`` is
        deterministic and the version check makes the read and the write one step (two accepts
        read the same version: one stores, the other takes the locked way and finds the offer
        gone). None: take the locked way."""
        async with self.pool.acquire() as conn:
            machine = seen or await consultations.current(conn, consultation_id)
            now = self.clock()
            try:
                decision = core.decide(machine, event, UNREAD, self.policy, now)
            except SituationNeeded:
                return None
            after = decision.consultation
            if after == machine and not decision.actions:
                return machine, Outcome(after, ())
            closes = after.state.final and not machine.state.final  # its facts need the lock
            if closes or any(isinstance(a, Offer) for a in decision.actions):
                return None  # ringing someone takes the routing lock
            joining = [a for a in decision.actions if isinstance(a, Join)]
            readers = [audit.Actor(a, f"advisor:{a}") for a in _advisors_of(joining)]
            shown = _Shown(machine.id)
            if readers:
                await shown.read(conn)
            if not await self._store(conn, machine, decision, now, actor, readers):
                return None  # changed meanwhile
            outcome = Outcome(after, decision.actions)
            outcome.rings = await self._shown_to(conn, after, readers, shown)
        self._plan_timers(after.id, decision.actions)
        return machine, outcome

    async def _decide(
        self, conn: asyncpg.Connection, machine: Consultation, event: Event, shown: _Shown
    ) -> tuple[Decision, dt.datetime]:
        """Decide, making sure nobody it rings was rung for another call meanwhile.

        The situation is read without a lock (that is the costly part). A decision that rings
        someone then takes the routing lock (held to the commit, on every node) and checks
        that none of them has been offered another call since; if one has, it decides again,
        now under the lock. So two calls never ring one advisor. Everything that can be read
        before the lock is (the ring's ISBAR and care plan): the lock is held for the check,
        one statement that stores the step, and the commit."""
        now = self.clock()
        with contextlib.suppress(SituationNeeded):  # most steps never look at the tiers
            return core.decide(machine, event, UNREAD, self.policy, now), now
        locked = False
        while True:
            now = self.clock()
            situation = await build_situation(conn, self.rotas, self.presence, machine.patient, now)
            decision = core.decide(machine, event, situation, self.policy, now)
            ringing = {a for x in decision.actions if isinstance(x, Offer) for a in x.advisors}
            if not ringing or locked:
                return decision, now
            await shown.read(conn)
            locked = True
            if not await lock_then_busy(conn, ROUTING_LOCK_KEY, ringing, machine.id):
                return decision, now

    # Sending what was decided ---------------------------------------------------------

    async def deliver(self, outcome: Outcome) -> None:
        """Carry out the messages of a committed step; a failure is logged, never raised.

        All of a step's WebSocket messages go out in one Redis round trip."""
        machine = outcome.consultation
        try:
            messages: list[tuple[int, dict[str, Any]]] = []
            for action in outcome.actions:
                messages += self._messages_for(machine, action, outcome)
            if outcome.actions:
                update = {
                    "v": 1,
                    "type": "consultation.updated",
                    "consultation": self.summary(machine),
                }
                # A ring or a join carries the same summary: no update on top of it.
                told = {user for user, message in messages if "consultation" in message}
                everyone = {machine.nurse, *machine.participants, *machine.offered}
                messages += [(u, update) for u in sorted(everyone - told)]
            await self.bus.send_many(messages)
            if outcome.actions:
                for observer in self.observers:  # e.g. the call relay ends a call that ended
                    await observer(machine)
            woken = sorted(
                {a for act in outcome.actions if isinstance(act, Wake) for a in act.advisors}
            )
            if woken:
                self._recheck_woken(woken)
        except Exception:
            log.exception("routing.delivery_failed", consultation=machine.id)

    def _recheck_woken(self, advisors: list[int]) -> None:
        """Advisors this step woke who are online after all: one who connected while the
        step was being decided looked for waiting calls before this one was committed, so
        offer it to them now rather than after the wake grace (in the background)."""

        async def recheck() -> None:
            try:
                now_ms = int(self.clock().timestamp() * 1000)
                for advisor in sorted(await self.presence.online(advisors, now_ms)):
                    await self.advisor_available(advisor)
            except Exception:  # the wake grace still moves the call on
                log.exception("routing.recheck_woken_failed")

        task = asyncio.create_task(recheck(), name="recheck-woken")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _messages_for(
        self, machine: Consultation, action: Action, outcome: Outcome
    ) -> list[tuple[int, dict[str, Any]]]:
        """The WebSocket messages an action stands for; notices go to the senders."""
        if isinstance(action, Offer):
            # One message object per payload (every advisor rung in a step sees the same): the
            # bus encodes it once for all of them.
            rings: dict[int, dict[str, Any]] = {}
            summary = self.summary(machine)
            tier = TIER_NAMES_BY_NUMBER.get(action.tier)
            out = []
            for advisor in action.advisors:
                payload = outcome.rings.get(advisor, _NOTHING_SHOWN)
                if id(payload) not in rings:
                    rings[id(payload)] = {"v": 1, "type": "consultation.ringing",
                                          "consultation": summary, "tier": tier, **payload}  # fmt: skip
                out.append((advisor, rings[id(payload)]))
            return out
        if isinstance(action, Withdraw):
            withdrawn = {"v": 1, "type": "consultation.withdrawn", "consultation_id": machine.id,
                         "reason": action.reason}  # fmt: skip
            return [(advisor, withdrawn) for advisor in action.advisors]
        if isinstance(action, Join):
            return [(action.advisor, {
                "v": 1, "type": "consultation.joined", "consultation": self.summary(machine),
                **outcome.rings.get(action.advisor, {}),
            })]  # fmt: skip
        if isinstance(action, Wake):
            for advisor in action.advisors:
                self.senders.dispatch(Notice("wake", advisor, {"consultation_id": machine.id,
                                                                  "tier": action.tier}))  # fmt: skip
        elif isinstance(action, AlertCoordinators):
            self.senders.dispatch(Notice("alert", None, {
                "kind": action.kind, "tier": TIER_NAMES_BY_NUMBER.get(action.tier),
                "detail": action.detail, "consultation_id": machine.id}))  # fmt: skip
        elif isinstance(action, NotifyNurse):
            message = {"v": 1, "type": "consultation.status", "consultation_id": machine.id,
                       "status": action.status}  # fmt: skip
            if action.status == "fallback":
                # What to do now while the call waits: set by the operator (ADVICE_LINE_FALLBACK_*).
                message["instructions"] = self.fallback
            return [(machine.nurse, message)]
        return []

    def summary(self, machine: Consultation) -> dict[str, Any]:
        return {
            "id": machine.id, "state": machine.state.value, "tier": TIER_NAMES_BY_NUMBER.get(machine.tier),
            "channel": machine.channel.value, "urgency": machine.urgency.value,
            "participants": list(machine.participants), "version": machine.version,
        }  # fmt: skip

    # Entry points ----------------------------------------------------------------------

    async def act(
        self, consultation_id: int, event: Event, actor: audit.Actor,
        seen: Consultation | None = None,
    ) -> Consultation:  # fmt: skip
        """Apply one event (accept, decline, escalate, cancel ... or the system's); ``seen`` is
        the state the caller has just read, if any (it spares a read)."""
        short = None
        if not isinstance(event, NEEDS_TIERS):
            short = await self._step_unlocked(consultation_id, event, actor, seen)
        if short is not None:
            machine, outcome = short
        else:
            async with self.pool.acquire() as conn, conn.transaction():
                locked = await consultations.lock(conn, consultation_id)
                assert locked is not None
                machine = locked
                outcome = await self.step(conn, machine, event, actor)
            self._plan_timers(machine.id, outcome.actions)
        await self.deliver(outcome)  # the connection is back in the pool meanwhile
        self._offer_waiting_calls_to_freed(machine, outcome.consultation)
        return outcome.consultation

    def _offer_waiting_calls_to_freed(self, before: Consultation, after: Consultation) -> None:
        """Advisors no longer ringing for or in this call may take a waiting one (in the
        background: the request that freed them does not wait for it). Advisors freed
        meanwhile join the next pass of the one background offerer, so the forty advisors
        a ring-all call frees are one pass over the queue, not forty."""
        still = set() if after.state.final else after.offered | set(after.participants)
        freed = (before.offered | set(before.participants)) - still
        if freed:
            self._freed |= freed
            self._start_offerer()

    def _start_offerer(self) -> None:
        if self._offering is None or self._offering.done():
            task = asyncio.create_task(self._offer_to_freed(), name="offer-waiting")
            self._offering = task
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _offer_to_freed(self) -> None:
        while self._freed:
            advisors, self._freed = self._freed, set()
            try:
                await self.offer_waiting(advisors)
            except Exception:  # the retry timers of queued calls still offer them later
                log.exception("routing.offer_waiting_failed", advisors=sorted(advisors))

    async def open(
        self, nurse: SessionUser, actor: audit.Actor, body: dict[str, Any]
    ) -> dict[str, Any]:
        """Create a consultation for one of the nurse's patients and route it; returns its
        row as it stands after routing."""
        async with self.pool.acquire() as conn, conn.transaction():
            org = nurse.organisation_id
            found = await consultations.new_id_for(conn, body["patient_id"], org)
            if found is None or org is None:
                raise not_found(f"patient {body['patient_id']}")
            machine = new_consultation(
                found, nurse.id, body["patient_id"],
                Urgency(body["urgency"]), Channel(body["channel"]), self.clock(),
            )  # fmt: skip
            inserted = await consultations.insert(conn, machine, org, body["isbar"])
            outcome = await self.step(conn, machine, Start(), actor)
        self._plan_timers(machine.id, outcome.actions)
        await self.deliver(outcome)
        log.info(
            "consultation.requested",
            consultation=machine.id,
            state=outcome.consultation.state.value,
        )
        return consultations.row_after(inserted, outcome.consultation)

    async def advisor_available(self, advisor: int) -> None:
        """Someone became available (connected, or switched to available): offer them a
        waiting call (one asked for during an outage first: it is the older)."""
        if self.outage is not None:
            try:
                await self.outage.offer_waiting({advisor})
            except Exception:  # its retry timer still offers it
                log.exception("routing.outage_offer_failed", advisor=advisor)
        try:
            await self.offer_waiting({advisor})
        except DATABASE_AWAY:
            if self.outage is None:
                raise
            # Calls asked for before the outage wait for the database (their timers too).
            log.warning("routing.waiting_calls_need_database", advisor=advisor)

    async def offer_waiting(self, advisors: set[int]) -> None:
        """Offer waiting calls (being woken for, queued, or waiting for a call back) to
        ``advisors`` in the queue's order: the most urgent first, then the oldest.

        Each call is stepped at most until it changes: a queued call re-routes with the whole
        situation, so one free advisor it has not had its chance with rings everyone it can
        ring. Advisors rung for a call, here or anywhere else meanwhile, drop out at once
        rather than step through the whole queue for nothing (under load that cost grew
        with the queue)."""
        async with self.pool.acquire() as conn:
            waiting = await conn.fetch(
                """SELECT id, state, version, offered, ARRAY(
                          SELECT d::bigint FROM jsonb_array_elements_text(machine -> 'declined') d
                       ) AS declined
                     FROM consultations WHERE state IN ('waking', 'queued', 'callback')
                    ORDER BY array_position(ARRAY['acute', 'urgent', 'routine'], urgency),
                             created_at, id"""
            )
        free = set(advisors)
        for row in waiting:
            async with self.pool.acquire() as conn:
                free -= await busy_of(conn, free)
            if not free:
                return
            # Who the call has had its chance with: a queued call is not rung again for those
            # who declined it (they get it at its next retry), but is for those holding it in
            # their queue; a call back holds its offers and is offered again to decliners.
            had_chance = {
                "queued": set(row["declined"]), "callback": set(row["offered"])
            }.get(row["state"], set())  # fmt: skip
            for advisor in sorted(free - had_chance):
                try:
                    after = await self.act(row["id"], AdvisorAvailable(advisor), audit.SYSTEM)
                except EscalationError:
                    break  # the call moved on meanwhile (answered, cancelled)
                if advisor in after.offered or after.version != row["version"]:
                    break  # offered, or re-routed: whoever it rang is busy at the next call

    async def drain(self, within: float = 5.0) -> None:
        """Wait (a bounded time) for background offers still running, e.g. at shutdown."""
        if self._background:
            await asyncio.wait(set(self._background), timeout=within)

    async def fire_due_timers(self) -> int:
        """Fire every timer that is due now, one after another; returns how many fired."""
        async with self.pool.acquire() as conn:
            due = await consultations.due_timers(conn, self.clock())
        fired = 0
        for row in due:
            key = (row["consultation_id"], row["kind"], row["seq"])
            fired += await self._try_timer(key) is Tried.FIRED
        return fired

    async def _plan_due_soon(self) -> None:
        """Plan the timer rows due within the look-ahead that this node does not know (started
        on another node, or overdue after a restart). One not yet due is tried
        ``TIMER_OTHERS_GRACE`` after its time, so the node that started it fires it alone
        and this node's try finds it gone; one overdue is tried at once."""
        now = self.clock()
        async with self.pool.acquire() as conn:
            rows = await consultations.due_timers(
                conn, now + dt.timedelta(seconds=TIMER_LOOKAHEAD), limit=500
            )
        grace = dt.timedelta(seconds=TIMER_OTHERS_GRACE)
        for row in rows:
            due = row["due_at"]
            at = due + grace if due > now else due
            self.timers.plan((row["consultation_id"], row["kind"], row["seq"]), at)

    async def _try_timer(self, key: TimerKey) -> Tried:
        """Fire one timer if it is still there, in the transaction that takes its row."""
        consultation_id, kind, seq = key
        if self.database_down():
            return Tried.GONE  # planned again by the poll once the database is back
        async with self.pool.acquire() as conn, conn.transaction():
            machine = await consultations.lock(conn, consultation_id, skip_locked=True)
            if machine is None:
                return Tried.BUSY  # another step holds it (or it is gone: the poll tells)
            if not await consultations.take_timer(conn, consultation_id, kind, seq):
                return Tried.GONE  # fired, cancelled or replaced meanwhile
            outcome = await self.step(conn, machine, timer_event(kind, seq, machine), audit.SYSTEM)
        self._plan_timers(machine.id, outcome.actions)
        await self.deliver(outcome)
        self._offer_waiting_calls_to_freed(machine, outcome.consultation)
        return Tried.FIRED

    async def run_timers(self) -> None:
        """Plan the timers due soon, every ``TIMER_POLL`` seconds, until cancelled."""
        try:
            await self._run_timers()
        finally:
            self.timers.close()

    async def _run_timers(self) -> None:
        while True:
            try:
                if not self.database_down():  # else its timers fire once it is back
                    await self._plan_due_soon()
            except asyncio.CancelledError:
                raise
            except DATABASE_AWAY:
                log.warning("routing.timer_pass_needs_database")
            except Exception:
                log.exception("routing.timer_pass_failed")
            if self.outage is not None:
                try:  # the timers of calls asked for during an outage, until handed back
                    await self.outage.fire_due_timers()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("routing.outage_timer_pass_failed")
            await asyncio.sleep(TIMER_POLL)
