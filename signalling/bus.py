"""Delivering messages to a user on whichever node holds their connections (Redis pub/sub).

Every message for a user is published on the user's channel; every node listens to all
user channels (one pattern subscription) and hands each message to its own connections of
that user, if it has any. Publishing never blocks on delivery: a user who is offline simply
gets nothing, and reads the current state from the REST API when they come back.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import structlog
from redis.asyncio import Redis

from signalling.registry import ConnectionRegistry

log = structlog.get_logger("signalling.bus")


class UserBus:
    def __init__(
        self,
        redis: Redis,
        channel: Callable[[int], str],
        pattern: str,
        registry: ConnectionRegistry,
    ) -> None:
        self.redis = redis
        self.channel = channel
        self.pattern = pattern
        self.registry = registry
        self.prefix = pattern.rstrip("*")

    async def send(self, user_id: int, message: dict[str, Any]) -> None:
        """Deliver ``message`` (one protocol envelope) to every connection of ``user_id``."""
        await self.redis.publish(self.channel(user_id), json.dumps(message, default=str))

    async def send_many(self, messages: list[tuple[int, dict[str, Any]]]) -> None:
        """Deliver several messages in one Redis round trip (in order)."""
        if not messages:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for user_id, message in messages:
                pipe.publish(self.channel(user_id), json.dumps(message, default=str))
            await pipe.execute()

    async def _deliver(self, channel: str, data: str) -> None:
        user_id = int(channel[len(self.prefix) :])
        for conn in self.registry.for_user(user_id):
            if not conn.ws.closed:
                try:
                    await conn.ws.send_str(data)
                except ConnectionError:
                    log.info("bus.send_failed", connection=conn.id)

    async def run(self) -> None:
        """Listen until cancelled; reconnect (after a pause) when Redis goes away."""
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.psubscribe(self.pattern)
                    async for message in pubsub.listen():
                        if message.get("type") == "pmessage":
                            await self._deliver(message["channel"], message["data"])
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("bus.listener_error", exc_info=True)
                await asyncio.sleep(0.5)
