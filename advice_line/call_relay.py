"""The WebRTC call of a consultation: joining, relaying offers/answers/ICE, leaving, quality.

The consultation is the room. Its people are the nurse who asked and the advisors in the
call (``participants``); only they may join, and only while it is ``connected`` or
``escalating``. Every ``signal`` is checked (sender and recipient both people of the
consultation, the call live) before it is relayed through the user bus, so a stranger can
neither send into a call nor learn that it exists (the one answer is ``not_in_call``). Who
has joined lives in Redis (:class:`signalling.rooms.CallRooms`), so peers on other nodes are
known. When the consultation leaves the live states, or an advisor leaves it, the routing
engine tells :meth:`CallRelay.consultation_changed` and the joined peers are told.

The check reads the consultation from PostgreSQL once, then from a per-node cache of live
calls (:class:`AccessCache`): a signal costs no database round trip. The cache is trusted
only to admit (a refusal is re-read from the database, so someone just added is never
refused), and forgets a consultation when it changes: at once on the node that made the
change, and on every other node when that node's publication on the calls-changed channel
arrives; entries also lapse after ``ACCESS_TTL_SECONDS``, and a node that lost its
subscription forgets them all. While PostgreSQL cannot be reached, a lapsed entry still admits
the people of its call for ``STALE_ACCESS_SECONDS`` (a call in progress survives a database
outage; nothing can change its people meanwhile). Signals go out through one :class:`SignalOutbox`, so
under load they share a Redis round trip (and one connection) instead of taking one each.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import asyncpg
import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from advice_line import keepalive
from advice_line.settings import Settings

if TYPE_CHECKING:
    from advice_line.outage.store import OutageStore
from escalation.model import Consultation
from signalling import codec
from signalling.bus import UserBus
from signalling.codec import ErrorCode, Message
from signalling.ice import IceConfig, ice_servers
from signalling.registry import Connection
from signalling.rooms import CallRooms, polite

log = structlog.get_logger("advice_line.calls")

LIVE_STATES = frozenset({"connected", "escalating"})
#: At most one call-quality report per connection in this many seconds.
QUALITY_INTERVAL_SECONDS = 5.0
NOT_IN_CALL_DETAIL = "you are not in a live call of this consultation (or it has no such person)"
#: How long a cached access may be used without a change being heard of: the safety net
#: should a calls-changed publication be lost.
ACCESS_TTL_SECONDS = 5.0
#: While PostgreSQL cannot be reached, a live call's last known access still admits its
#: people for this long after it lapsed, so a call in progress keeps its signalling (ICE
#: restarts, switching to audio) through a database outage or fail-over. Nothing changes a
#: call's people meanwhile: every change to a consultation is a database transaction.
STALE_ACCESS_SECONDS = 180.0
#: At most this many live calls cached per node (beyond it, lapsed entries are swept).
ACCESS_CACHE_LIMIT = 10_000
#: What a store that cannot be reached raises (the message fails; the connection stays up).
STORE_AWAY = (asyncpg.PostgresError, asyncpg.InterfaceError, RedisError, OSError)
#: At most this many signals in one Redis pipeline.
SIGNAL_BATCH_LIMIT = 256


def ice_config(settings: Settings) -> IceConfig:
    return IceConfig(
        stun_urls=settings.stun_urls,
        turn_urls=settings.turn_urls,
        turn_secret=settings.turn_secret,
        ttl_seconds=settings.turn_ttl_seconds,
    )


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class CallAccess:
    """What decides who may do what in a consultation's call."""

    consultation_id: int
    nurse_id: int
    participants: frozenset[int]
    state: str
    channel: str

    @property
    def people(self) -> frozenset[int]:
        return self.participants | {self.nurse_id}

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES

    def admits(self, *user_ids: int) -> bool:
        """True if the call is live and every one of ``user_ids`` is a person of it."""
        return self.live and all(u in self.people for u in user_ids)


class AccessCache:
    """This node's copy of live calls' access, each kept at most ``ttl`` seconds.

    ``generation`` grows with every forgetting; a database read that began before one is
    not stored, so a read racing a change cannot put the old state back."""

    def __init__(
        self, clock: Callable[[], float], ttl: float = ACCESS_TTL_SECONDS,
        limit: int = ACCESS_CACHE_LIMIT, stale: float = STALE_ACCESS_SECONDS,
    ) -> None:  # fmt: skip
        self.clock = clock
        self.ttl = ttl
        self.stale = stale
        self.limit = limit
        self.generation = 0
        self._entries: dict[int, tuple[CallAccess, float]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, consultation_id: int) -> CallAccess | None:
        entry = self._entries.get(consultation_id)
        if entry is None or self.clock() >= entry[1]:
            return None
        return entry[0]

    def last_known(self, consultation_id: int) -> CallAccess | None:
        """The access even if it lapsed, for up to ``stale`` seconds after (only for when the
        database cannot be asked); None once forgotten or older."""
        entry = self._entries.get(consultation_id)
        if entry is None or self.clock() >= entry[1] + self.stale:
            return None
        return entry[0]

    def put(self, access: CallAccess, generation: int) -> None:
        """Keep ``access`` (read when the cache was at ``generation``) if the call is live;
        forget the call if it is not (the database said so: that is never stale)."""
        if not access.live:
            self._entries.pop(access.consultation_id, None)
            return
        if generation != self.generation:
            return
        now = self.clock()
        if len(self._entries) >= self.limit:
            self._entries = {c: e for c, e in self._entries.items() if e[1] + self.stale > now}
            if len(self._entries) >= self.limit:
                self._entries.clear()
        self._entries[access.consultation_id] = (access, now + self.ttl)

    def forget(self, consultation_id: int) -> None:
        self.generation += 1
        self._entries.pop(consultation_id, None)

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()


class SignalOutbox:
    """Relays signals through the user bus in batches, in the order they were handed in.

    Whatever is waiting goes in one pipeline; what arrives meanwhile waits for the next. Idle,
    a signal goes at once; busy, the node holds one Redis connection for all its signals
    rather than one per connection with a signal in flight (the pool's limit). ``send``
    returns once the signal is in Redis, or raises what the pipeline raised."""

    def __init__(self, bus: UserBus, limit: int = SIGNAL_BATCH_LIMIT) -> None:
        self.bus = bus
        self.limit = limit
        self._waiting: list[tuple[int, dict[str, Any], asyncio.Future[None]]] = []
        self._sending: list[tuple[int, dict[str, Any], asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def send(self, user_id: int, message: dict[str, Any]) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((user_id, message, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="call-signals")
        await future

    async def _flush(self) -> None:
        while self._waiting:
            self._sending = self._waiting[: self.limit]
            self._waiting = self._waiting[self.limit :]
            try:
                await self.bus.send_many([(user, message) for user, message, _ in self._sending])
            except Exception as exc:  # raised to each sender, who answers ``unavailable``
                for *_, future in self._sending:
                    if not future.done():
                        future.set_exception(exc)
            else:
                for *_, future in self._sending:
                    if not future.done():
                        future.set_result(None)
            self._sending = []

    async def close(self) -> None:
        """Shutdown: stop sending; whoever still waits is cancelled."""
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
        for *_, future in [*self._sending, *self._waiting]:
            future.cancel()
        self._sending, self._waiting = [], []


def _envelope(kind: str, **body: Any) -> dict[str, Any]:
    return {"v": codec.PROTOCOL_VERSION, "type": kind, **body}


class CallRelay:
    """Handles the call messages of this node's connections (see ``docs/protocol.md``)."""

    def __init__(
        self, pool: asyncpg.Pool, rooms: CallRooms, bus: UserBus, ice: IceConfig,
        clock: Callable[[], dt.datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        resume_grace_seconds: float = 30.0,
        redis: Redis | None = None, changed_channel: str = "",
    ) -> None:  # fmt: skip
        self.pool = pool
        #: Where consultation changes are published to and heard from (None: one node alone).
        self.redis = redis
        self.changed_channel = changed_channel
        self.cache = AccessCache(lambda: self.monotonic())
        self.signals = SignalOutbox(bus)
        self.resume_grace = resume_grace_seconds
        #: Dropped connections that may still resume: their leaving waits for the grace.
        self._lapses: set[asyncio.Task[None]] = set()
        self.rooms = rooms
        self.bus = bus
        self.ice = ice
        self.clock = clock
        self.monotonic = monotonic
        #: The calls each of this node's connections has joined.
        self._joined: dict[Connection, set[int]] = {}
        #: Consultations asked for during a database outage, held in Redis until handed back
        #: (set by the app), and whether the database is known to be away right now.
        self.held: OutageStore | None = None
        self.database_down: Callable[[], bool] = lambda: False
        self._quality_at: dict[Connection, float] = {}

    def _now_ms(self) -> int:
        return int(self.clock().timestamp() * 1000)

    def ice_servers_for(self, user_id: int) -> list[dict[str, Any]]:
        return ice_servers(self.ice, user_id, self.clock().timestamp())

    async def access(self, consultation_id: int) -> CallAccess | None:
        """The consultation as the database has it now (kept in the cache if its call is live)."""
        generation = self.cache.generation
        try:
            if self.database_down():
                raise ConnectionError("the database is away")
            async with self.pool.acquire() as conn:
                row = await conn.fetchrow(
                    "SELECT nurse_id, participants, state, channel FROM consultations WHERE id = $1",
                    consultation_id,
                )
        except STORE_AWAY:
            held = await self._held_access(consultation_id)
            if held is None:
                raise
            access = held
        else:
            if row is None:  # perhaps asked for during an outage, not handed back yet
                found = await self._held_access(consultation_id)
                if found is None:
                    return None
                access = found
            else:
                access = CallAccess(
                    consultation_id, row["nurse_id"], frozenset(row["participants"]),
                    row["state"], row["channel"],
                )  # fmt: skip
        self.cache.put(access, generation)
        return access

    async def _held_access(self, consultation_id: int) -> CallAccess | None:
        record = await self.held.get(consultation_id) if self.held is not None else None
        if record is None:
            return None
        machine = record["machine"]
        return CallAccess(
            consultation_id, machine["nurse"], frozenset(machine["participants"]),
            machine["state"], machine["channel"],
        )  # fmt: skip

    async def admitted(self, consultation_id: int, *user_ids: int) -> CallAccess | None:
        """The call's access if it is live and ``user_ids`` are all people of it, else None.

        A cached access is trusted to admit; a refusal is always the database's answer."""
        cached = self.cache.get(consultation_id)
        if cached is not None and cached.admits(*user_ids):
            return cached
        try:
            access = await self.access(consultation_id)
        except STORE_AWAY:
            known = self.cache.last_known(consultation_id)
            if known is None or not known.admits(*user_ids):
                raise
            log.warning("calls.stale_access", consultation=consultation_id)
            return known  # PostgreSQL is away: the call goes on as it was
        return access if access is not None and access.admits(*user_ids) else None

    # Messages from this node's connections --------------------------------------------

    async def handle(self, conn: Connection, message: Message) -> None:
        """One decoded client message whose type is in ``codec.CALL_TYPES``."""
        handler = {
            "call.join": self._join,
            "call.leave": self._leave,
            "signal": self._signal,
            "call.quality": self._quality,
        }[message.type]
        try:
            await handler(conn, message)
        except STORE_AWAY:
            # A store is away: this message fails, the connection (and its calls) stay up.
            log.warning("call.store_unavailable", connection=conn.id, exc_info=True)
            await conn.ws.send_str(codec.error(
                ErrorCode.UNAVAILABLE, "try again shortly", reply_to=message.id))  # fmt: skip

    async def _refuse(self, conn: Connection, message: Message, code: str, detail: str) -> None:
        log.info("call.refused", connection=conn.id, message_type=message.type, code=code)
        await conn.ws.send_str(codec.error(code, detail, reply_to=message.id))

    async def _join(self, conn: Connection, message: Message) -> None:
        cid = int(message.body["consultation_id"])
        access = await self.admitted(cid, conn.user_id)
        if access is None:
            await self._refuse(conn, message, ErrorCode.NOT_IN_CALL, NOT_IN_CALL_DETAIL)
            return
        me, now_ms = conn.user_id, self._now_ms()
        # A resumed connection whose place was kept (see ``disconnected``) rejoins quietly:
        # its peers still hold their peer connections with it, so nothing is renegotiated.
        kept = bool(message.body.get("resume")) and me in await self.rooms.members(cid, now_ms)
        present = await self.rooms.join(cid, me, conn.id, now_ms)
        self._joined.setdefault(conn, set()).add(cid)
        peers = sorted((present & access.people) - {me})
        await conn.ws.send_str(codec.encode("call.joined", {
            "consultation_id": cid, "channel": access.channel, "resumed": kept,
            "ice_servers": self.ice_servers_for(me),
            "peers": [{"user_id": peer, "polite": polite(me, peer)} for peer in peers],
        }, reply_to=message.id))  # fmt: skip
        if not kept:
            await self.bus.send_many([(peer, _envelope(
                "call.peer_joined", consultation_id=cid, user_id=me, polite=polite(peer, me)))
                for peer in peers])  # fmt: skip
        log.info("call.joined", consultation=cid, user=me, connection=conn.id, peers=len(peers),
                 resumed=kept)  # fmt: skip

    async def _leave(self, conn: Connection, message: Message) -> None:
        cid = int(message.body["consultation_id"])
        if await self.admitted(cid, conn.user_id) is None:
            self._forget(conn, cid)
            await self._refuse(conn, message, ErrorCode.NOT_IN_CALL, NOT_IN_CALL_DETAIL)
            return
        await self._depart(conn, cid)
        await conn.ws.send_str(codec.encode("call.left", {"consultation_id": cid},
                                            reply_to=message.id))  # fmt: skip

    async def _signal(self, conn: Connection, message: Message) -> None:
        body = message.body
        cid, to = int(body["consultation_id"]), int(body["to"])
        if to == conn.user_id or await self.admitted(cid, conn.user_id, to) is None:
            await self._refuse(conn, message, ErrorCode.NOT_IN_CALL, NOT_IN_CALL_DETAIL)
            return
        relayed = _envelope("signal", consultation_id=cid, **{"from": conn.user_id})
        for name in ("description", "candidate"):
            if name in body:
                relayed[name] = body[name]
        await self.signals.send(to, relayed)

    async def _quality(self, conn: Connection, message: Message) -> None:
        now = self.monotonic()
        last = self._quality_at.get(conn)
        if last is not None and now - last < QUALITY_INTERVAL_SECONDS:
            await self._refuse(
                conn, message, ErrorCode.RATE_LIMITED,
                f"at most one call.quality every {QUALITY_INTERVAL_SECONDS:g} seconds",
            )  # fmt: skip
            return
        self._quality_at[conn] = now
        body = message.body
        cid = int(body["consultation_id"])
        if await self.admitted(cid, conn.user_id) is None:
            await self._refuse(conn, message, ErrorCode.NOT_IN_CALL, NOT_IN_CALL_DETAIL)
            return
        report = {name: body[name] for name in ("rtt_ms", "packet_loss", "bitrate_kbps", "relay")}
        async with self.pool.acquire() as db:
            await db.execute(
                """INSERT INTO consultation_events (consultation_id, at, type, actor_id, data)
                   VALUES ($1, $2, 'call_quality', $3, $4)""",
                cid, self.clock(), conn.user_id, report,
            )  # fmt: skip

    # Leaving ----------------------------------------------------------------------------

    def _forget(self, conn: Connection, cid: int) -> None:
        calls = self._joined.get(conn)
        if calls is not None:
            calls.discard(cid)
            if not calls:
                del self._joined[conn]

    async def _depart(self, conn: Connection, cid: int, *, lapsed: bool = False) -> None:
        """Take this connection out of the call; tell the others if the user is now gone."""
        self._forget(conn, cid)
        gone, remaining = await self.rooms.leave(cid, conn.user_id, conn.id, self._now_ms())
        told = set(remaining)
        if lapsed:  # its held membership may have been swept already: look at who is left
            gone = conn.user_id not in remaining
            # Tell every person of the live call, not only those whose membership is fresh
            # this very moment (a peer's refresh may be late on a busy node).
            access = await self.access(cid) if gone else None
            if access is not None and access.state in LIVE_STATES:
                told |= access.people - {conn.user_id}
        if gone:
            left = _envelope("call.peer_left", consultation_id=cid, user_id=conn.user_id)
            await self.bus.send_many([(peer, left) for peer in sorted(told)])
            log.info("call.left", consultation=cid, user=conn.user_id, connection=conn.id)

    async def disconnected(self, conn: Connection, *, resumable: bool = False) -> None:
        """The connection closed: it leaves every call it had joined. A connection that may
        resume keeps its place for the grace period first; if its user is back in the call
        by then (resumed on any node), nobody is told anything."""
        self._quality_at.pop(conn, None)
        calls = sorted(self._joined.pop(conn, ()))
        if not calls:
            return
        if not resumable:
            for cid in calls:
                await self._depart(conn, cid)
            return
        now_ms = self._now_ms()
        until = now_ms + int(self.resume_grace * 1000)
        for cid in calls:
            await self.rooms.hold(cid, conn.user_id, conn.id, now_ms, until)
        task = asyncio.create_task(self._lapse(conn, calls), name=f"call-lapse-{conn.id}")
        self._lapses.add(task)
        task.add_done_callback(self._lapses.discard)

    async def _lapse(self, conn: Connection, calls: list[int]) -> None:
        """After the grace: the dropped connection leaves; the others hear of it only if its
        user has no other connection in the call."""
        await asyncio.sleep(self.resume_grace)
        for cid in calls:
            try:
                await self._depart(conn, cid, lapsed=True)
            except Exception:  # Redis away: the membership has expired by itself
                log.info("call.lapse_failed", consultation=cid, connection=conn.id, exc_info=True)

    async def close(self) -> None:
        """Shutdown: pending lapses are dropped (memberships expire by themselves)."""
        await self.signals.close()
        for task in list(self._lapses):
            task.cancel()
        await asyncio.gather(*self._lapses, return_exceptions=True)

    # Changes to consultations (from the routing engine, after they are committed) -------

    async def consultation_changed(self, machine: Consultation) -> None:
        """End the call when the consultation is no longer live; drop advisors who left it.

        First of all, every node forgets its cached access to the call: this one at once."""
        self.cache.forget(machine.id)
        if machine.connected_at is None:
            return  # never connected: there has been no call (most routing steps end here)
        await self._publish_change(machine.id)
        cid, now_ms = machine.id, self._now_ms()
        if machine.state.value not in LIVE_STATES:
            ended = _envelope("call.ended", consultation_id=cid, reason=machine.state.value)
            members = await self.rooms.end(cid, now_ms)
            await self.bus.send_many([(user, ended) for user in sorted(members)])
            self._drop_local(cid, lambda _user: True)
            return
        people = {machine.nurse, *machine.participants}
        present = await self.rooms.members(cid, now_ms)
        gone = sorted(present - people)
        if not gone:
            return
        await self.rooms.remove_users(cid, gone)
        self._drop_local(cid, lambda user: user in gone)
        messages = []
        for user in gone:
            messages.append((user, _envelope("call.ended", consultation_id=cid, reason="left")))
            left = _envelope("call.peer_left", consultation_id=cid, user_id=user)
            messages += [(peer, left) for peer in sorted(present & people)]
        await self.bus.send_many(messages)

    async def _publish_change(self, cid: int) -> None:
        if self.redis is None:
            return
        try:
            await self.redis.publish(self.changed_channel, str(cid))
        except (RedisError, OSError):  # the other nodes' entries lapse within the TTL
            log.warning("calls.change_not_published", consultation=cid, exc_info=True)

    async def run_changes(self, pause: float = 0.5) -> None:
        """Forget the consultations other nodes changed, until cancelled. While not
        subscribed (Redis away, reconnecting) changes may be missed: forget everything."""
        assert self.redis is not None
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(self.changed_channel)
                    self.cache.clear()
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self.cache.forget(int(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("calls.changes_listener_error", exc_info=True)
            self.cache.clear()
            await asyncio.sleep(pause)

    def _drop_local(self, cid: int, which: Callable[[int], bool]) -> None:
        for conn in [c for c, calls in self._joined.items() if cid in calls and which(c.user_id)]:
            self._forget(conn, cid)

    # Keeping memberships alive ------------------------------------------------------------

    async def refresh(self, index: int = 0, count: int = 1) -> None:
        """Refresh the memberships of slice ``index`` of ``count`` of this node's connections
        in calls (by connection id; all of them by default)."""
        memberships = [
            (cid, conn.user_id, conn.id)
            for conn, calls in self._joined.items()
            if not conn.ws.closed and conn.id % count == index
            for cid in calls
        ]
        if memberships:
            await self.rooms.refresh(memberships, self._now_ms())

    async def run_refresh(self, interval: float) -> None:
        """Refresh memberships once per ``interval`` until cancelled, a slice at a time spread
        over the interval (as presence is: ``advice_line/keepalive.py``)."""
        await keepalive.in_slices_forever(
            interval, lambda: len(self._joined), self.refresh, "calls.refresh_failed"
        )
