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

    def online(self, user_id: int) -> str:
        """Sorted set of a user's live connections (member: node:connection, score: expiry ms)."""
        return f"{self.prefix}presence:online:{user_id}"

    def call_members(self, consultation_id: int) -> str:
        """Sorted set of who joined a consultation's call (member: user:node:connection, score:
        expiry ms), so peers on every node know each other."""
        return f"{self.prefix}call:{consultation_id}:members"

    @property
    def calls_changed_channel(self) -> str:
        """Pub/sub channel of consultation ids whose call changed: every node's call relay
        forgets its cached access to them."""
        return f"{self.prefix}calls:changed"

    def user_channel(self, user_id: int) -> str:
        """Pub/sub channel that reaches every connection of a user, on whichever node."""
        return f"{self.prefix}user:{user_id}"

    def user_stream(self, user_id: int) -> str:
        """Stream of the messages last sent to a user: what a resumed connection missed."""
        return f"{self.prefix}user:{user_id}:sent"

    def resume_token(self, token_hash: str) -> str:
        """Whose a resume token is (user, session), kept for the grace period after a drop."""
        return f"{self.prefix}resume:{token_hash}"

    @property
    def nurses_away(self) -> str:
        """Sorted set of nurses whose socket dropped (score: when their grace ends, ms)."""
        return f"{self.prefix}nurses:away"

    @property
    def user_channel_pattern(self) -> str:
        return f"{self.prefix}user:*"

    def session_cache(self, token_hash: str) -> str:
        """A live session as last read from PostgreSQL, for requests while it is away."""
        return f"{self.prefix}session:{token_hash}"

    def outage_consultation(self, consultation_id: int) -> str:
        """Hash (v: version, record: JSON) of a consultation routed while PostgreSQL was away."""
        return f"{self.prefix}outage:consultation:{consultation_id}"

    @property
    def outage_consultations(self) -> str:
        """Set of the ids of consultations routed during an outage and not yet handed back."""
        return f"{self.prefix}outage:consultations"

    @property
    def outage_open(self) -> str:
        """Set of those of them still open (not ended, cancelled, abandoned or failed)."""
        return f"{self.prefix}outage:open"

    @property
    def outage_logouts(self) -> str:
        """List of logouts made while PostgreSQL was away (JSON), applied at the hand back."""
        return f"{self.prefix}outage:logouts"

    @property
    def outage_timers(self) -> str:
        """Sorted set of their timers (member: id|kind|seq, score: due, ms)."""
        return f"{self.prefix}outage:timers"

    @property
    def outage_routing_lock(self) -> str:
        """Held by the step that decides whom to ring during an outage (as the advisory lock)."""
        return f"{self.prefix}outage:routing-lock"

    @property
    def outage_handback_lock(self) -> str:
        """Held by the node writing outage consultations back into PostgreSQL."""
        return f"{self.prefix}outage:handback-lock"

    @property
    def routing_wakeup_channel(self) -> str:
        """Published when a timer is due sooner than the engine's next poll, or presence changed."""
        return f"{self.prefix}routing:wakeup"
