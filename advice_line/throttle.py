"""Login throttling per account and per client address, with counters in Redis.

Failures are counted in a fixed window; once either counter reaches its limit, further
attempts are refused with 429 until the window ends, even with the right password, so a
guesser learns nothing. A successful login clears the account's counter.
"""

from __future__ import annotations

from redis.asyncio import Redis

from advice_line.problems import Problem
from advice_line.redis_keys import RedisKeys
from advice_line.settings import Settings


class LoginThrottle:
    def __init__(self, redis: Redis, keys: RedisKeys, settings: Settings) -> None:
        self.redis = redis
        self.keys = keys
        self.window = settings.login_throttle_window_seconds
        self.max_account = settings.login_max_failures_per_account
        self.max_address = settings.login_max_failures_per_address

    async def check(self, username: str, address: str) -> None:
        """Raise 429 if either the account or the address has failed too often."""
        account_key = self.keys.login_failures_account(username)
        address_key = self.keys.login_failures_address(address)
        account, by_address = await self.redis.mget(account_key, address_key)
        if int(account or 0) >= self.max_account or int(by_address or 0) >= self.max_address:
            ttl = max(await self.redis.ttl(account_key), await self.redis.ttl(address_key), 1)
            raise Problem(
                429, "login-throttled", "Too many failed logins",
                "too many failed attempts; wait before trying again",
                headers={"Retry-After": str(ttl)}, retry_after=ttl,
            )  # fmt: skip

    async def failed(self, username: str, address: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in (
                self.keys.login_failures_account(username),
                self.keys.login_failures_address(address),
            ):
                # SET NX EX starts the window (EXPIRE NX would need Redis 7; embedded is 6.2).
                pipe.set(key, 0, ex=self.window, nx=True)
                pipe.incr(key)
            await pipe.execute()

    async def succeeded(self, username: str) -> None:
        await self.redis.delete(self.keys.login_failures_account(username))
