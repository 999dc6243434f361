"""TOTP second factor (RFC 6238): enrolment, confirmation, verification without replay."""

from __future__ import annotations

import pyotp
from redis.asyncio import Redis

from advice_line.redis_keys import RedisKeys

ISSUER = "Advice line"


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def code_matches(secret: str, code: str) -> bool:
    """The code is valid now, or one 30-second step either side (clock drift)."""
    return code.isdigit() and len(code) == 6 and pyotp.TOTP(secret).verify(code, valid_window=1)


async def verify(redis: Redis, keys: RedisKeys, user_id: int, secret: str, code: str) -> bool:
    """A valid code that has not been used before (each code works once)."""
    if not code_matches(secret, code):
        return False
    first_use = await redis.set(keys.totp_used(user_id, code), 1, ex=120, nx=True)
    return bool(first_use)
