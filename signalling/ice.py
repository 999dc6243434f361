"""ICE servers for a client: STUN, and TURN with short-lived credentials (coturn's REST-API scheme).

Pure: the time is a parameter. coturn started with ``use-auth-secret`` and
``static-auth-secret=<secret>`` accepts a username ``"<expiry unix time>:<user id>"`` whose
password is ``base64(HMAC-SHA1(secret, username))`` until that expiry; nothing is stored and
nothing needs revoking (draft-uberti-behave-turn-rest, as implemented by coturn).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class IceConfig:
    """What the operator configured: the servers, coturn's shared secret and the lifetime."""

    stun_urls: tuple[str, ...] = ()
    turn_urls: tuple[str, ...] = ()
    turn_secret: str | None = None
    ttl_seconds: int = 3600

    def __post_init__(self) -> None:
        assert self.ttl_seconds > 0
        assert not self.turn_urls or self.turn_secret, "TURN URLs need the shared secret"


@dataclass(frozen=True)
class TurnCredential:
    username: str
    credential: str
    expires_at: int  # unix seconds


def turn_credential(secret: str, user_id: int, expires_at: int) -> TurnCredential:
    """The credential coturn accepts for ``user_id`` until ``expires_at`` (unix seconds)."""
    username = f"{expires_at}:{user_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return TurnCredential(username, base64.b64encode(digest).decode("ascii"), expires_at)


def ice_servers(config: IceConfig, user_id: int, now_unix: float) -> list[dict[str, Any]]:
    """The ``RTCIceServer`` list (browser/aiortc shape) for ``user_id`` at ``now_unix``.

    Always explicit, possibly empty: a client given no list would fall back to a public
    STUN server (aiortc does), which must never happen.
    """
    servers: list[dict[str, Any]] = []
    if config.stun_urls:
        servers.append({"urls": list(config.stun_urls)})
    if config.turn_urls and config.turn_secret:
        cred = turn_credential(config.turn_secret, user_id, int(now_unix) + config.ttl_seconds)
        servers.append(
            {
                "urls": list(config.turn_urls),
                "username": cred.username,
                "credential": cred.credential,
            }
        )
    return servers
