"""Every Redis key and channel name the service uses, built from the configured prefix."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RedisKeys:
    prefix: str = "al:"

    def login_failures_account(self, username: str) -> str:
        return f"{self.prefix}throttle:login:account:{username}"

    def login_failures_address(self, address: str) -> str:
        return f"{self.prefix}throttle:login:address:{address}"

    @property
    def session_revoked_channel(self) -> str:
        return f"{self.prefix}sessions:revoked"

    def totp_used(self, user_id: int, code: str) -> str:
        """Marks a TOTP code as used, so the same code cannot be replayed within its window."""
        return f"{self.prefix}totp:used:{user_id}:{code}"
