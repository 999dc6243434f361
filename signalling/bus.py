"""Delivering messages to a user on whichever node holds their connections (Redis).

Every message for a user is appended to the user's stream (a short, expiring Redis stream:
the replay buffer for session resume) and published, with its stream id, on the user's
channel, in one atomic script. Every node listens to all user channels (one pattern
subscription) and hands each message to its own connections of that user, stamped with
``seq`` (the stream id). A client that reconnects within the grace period names the last
``seq`` it saw and gets what it missed from the stream (``replay``).

Each stream entry also records the id of the entry before it, so a replay can prove it has
no gap: its first entry must follow the client's last ``seq`` directly (or start a stream
that had expired, which happens only when nothing was sent for longer than the client can
have been away).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import structlog
from redis.asyncio import Redis

from signalling.registry import Connection, ConnectionRegistry

log = structlog.get_logger("signalling.bus")

#: KEYS: stream. ARGV: channel, message, max entries, ttl ms. Publishes "<id> <message>".
_APPEND_AND_PUBLISH = """
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local prev = ''
if last[1] then prev = last[1][1] end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[3], '*', 'm', ARGV[2], 'p', prev)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PUBLISH', ARGV[1], id .. ' ' .. ARGV[2])
return id
"""


#: The same for a batch, in one call (one round trip, and one command to build and one reply
#: to read instead of one per message). KEYS: the stream of each delivery. ARGV: max entries,
#: ttl ms, the number m of distinct message texts, the m texts, then per delivery its channel
#: and the number (1..m) of its text. What is published is exactly what ``send`` publishes.
_APPEND_AND_PUBLISH_MANY = """
local texts = tonumber(ARGV[3])
for i = 1, #KEYS do
  local channel = ARGV[3 + texts + 2 * i - 1]
  local text = ARGV[3 + tonumber(ARGV[3 + texts + 2 * i])]
  local last = redis.call('XREVRANGE', KEYS[i], '+', '-', 'COUNT', 1)
  local prev = ''
  if last[1] then prev = last[1][1] end
  local id = redis.call('XADD', KEYS[i], 'MAXLEN', ARGV[1], '*', 'm', text, 'p', prev)
  redis.call('PEXPIRE', KEYS[i], ARGV[2])
  redis.call('PUBLISH', channel, id .. ' ' .. text)
end
return #KEYS
"""


def parse_seq(seq: str) -> tuple[int, int] | None:
    """A stream id ``"<ms>-<n>"`` as a comparable pair; None when it is not one."""
    ms, dash, n = seq.partition("-")
    if not dash or not ms.isdigit() or not n.isdigit() or len(seq) > 40:
        return None
    return int(ms), int(n)


def stamped(seq: str, message: str) -> str:
    """The JSON object ``message`` with ``"seq": seq`` added (without parsing it again)."""
    assert message.endswith("}"), message[-20:]
    return f'{message[:-1]},"seq":"{seq}"}}'


class Gap(Exception):
    """Messages the client missed are no longer all in the stream."""


class UserBus:
    def __init__(
        self,
        redis: Redis,
        channel: Callable[[int], str],
        pattern: str,
        registry: ConnectionRegistry,
        stream: Callable[[int], str],
        *,
        keep_seconds: float = 60.0,
        max_entries: int = 500,
    ) -> None:
        self.redis = redis
        self.channel = channel
        self.stream = stream
        self.pattern = pattern
        self.registry = registry
        self.prefix = pattern.rstrip("*")
        self.keep_ms = int(keep_seconds * 1000)
        self.max_entries = max_entries
        self._append = redis.register_script(_APPEND_AND_PUBLISH)
        self._append_many = redis.register_script(_APPEND_AND_PUBLISH_MANY)

    def _args(self, user_id: int, message: dict[str, Any]) -> tuple[list[str], list[str | int]]:
        text = json.dumps(message, default=str, separators=(",", ":"))
        keys: list[str] = [self.stream(user_id)]
        return keys, [self.channel(user_id), text, self.max_entries, self.keep_ms]

    async def send(self, user_id: int, message: dict[str, Any]) -> None:
        """Deliver ``message`` (one protocol envelope) to every connection of ``user_id``."""
        keys, args = self._args(user_id, message)
        await self._append(keys=keys, args=args)

    async def send_many(self, messages: list[tuple[int, dict[str, Any]]]) -> None:
        """Deliver several messages in one Redis call (in order). A message object sent to
        many users (a ring, a withdrawal, an update) is encoded once."""
        if not messages:
            return
        texts: dict[int, int] = {}  # id of a message object -> its number among the texts
        encoded: list[str] = []
        keys: list[str] = []
        routes: list[str | int] = []
        for user_id, message in messages:
            number = texts.get(id(message))
            if number is None:
                encoded.append(json.dumps(message, default=str, separators=(",", ":")))
                number = texts[id(message)] = len(encoded)
            keys.append(self.stream(user_id))
            routes += [self.channel(user_id), number]
        await self._append_many(
            keys=keys, args=[self.max_entries, self.keep_ms, len(encoded), *encoded, *routes]
        )

    async def head(self, user_id: int) -> str:
        """The ``seq`` of the last message sent to ``user_id`` (``"0-0"`` if none is kept)."""
        last = await self.redis.xrevrange(self.stream(user_id), count=1) or []
        return _text(last[0][0]) if last else "0-0"

    async def replay(self, user_id: int, after: str) -> list[tuple[str, str]]:
        """The (seq, stamped message) pairs sent to ``user_id`` after ``after``; raises
        ``Gap`` when some of them are gone (trimmed, or lost with a Redis restart)."""
        entries = await self.redis.xrange(self.stream(user_id), min=f"({after}", max="+") or []
        out: list[tuple[str, str]] = []
        for raw_id, raw_fields in entries:
            seq = _text(raw_id)
            fields = {_text(k): _text(v) for k, v in (raw_fields or {}).items()}
            prev = fields.get("p", "")
            expected = out[-1][0] if out else after
            if prev != expected and not (not out and prev == ""):
                raise Gap(f"entry {seq} follows {prev!r}, not {expected!r}")
            out.append((seq, stamped(seq, fields["m"])))
        return out

    async def _deliver(self, channel: str, data: str) -> None:
        user_id = int(channel[len(self.prefix) :])
        seq, _, message = data.partition(" ")
        text = stamped(seq, message)
        for conn in self.registry.for_user(user_id):
            await deliver(conn, seq, text)

    async def run(self) -> None:
        """Listen until cancelled; reconnect (after a pause) when Redis goes away."""
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.psubscribe(self.pattern)
                    async for message in pubsub.listen():
                        if message.get("type") == "pmessage":
                            channel, data = message["channel"], message["data"]
                            await self._deliver(_text(channel), _text(data))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("bus.listener_error", exc_info=True)
                await asyncio.sleep(0.5)


def _text(value: str | bytes | None) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


async def deliver(conn: Connection, seq: str, text: str) -> None:
    """Send one stamped message to ``conn``; while it is being resumed, hold it back."""
    if conn.held is not None:
        conn.held.append((seq, text))
        return
    if not conn.ws.closed:
        try:
            await conn.ws.send_str(text)
        except ConnectionError:
            log.info("bus.send_failed", connection=conn.id)
