"""The WebSocket message codec: one versioned JSON envelope, decoded strictly.

Pure: text in, a :class:`Message` or a :class:`CodecError` with a stable code out. The
transport (aiohttp, Redis, test pairs) lives elsewhere. Every message is a JSON object
``{"v": 1, "type": "...", "id": "...", ...}``; ``id`` is optional and echoed in replies.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PROTOCOL_VERSION = 1
MAX_ID_LENGTH = 64


class ErrorCode:
    """Stable error codes sent to clients (documented in docs/protocol.md)."""

    MALFORMED = "malformed"
    TOO_LARGE = "too_large"
    UNSUPPORTED_VERSION = "unsupported_version"
    UNKNOWN_TYPE = "unknown_type"
    INVALID_FIELDS = "invalid_fields"
    RATE_LIMITED = "rate_limited"


@dataclass(frozen=True)
class CodecError(Exception):
    code: str
    detail: str
    message_id: str | None = None


@dataclass(frozen=True)
class Message:
    type: str
    body: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None


#: Client -> server message types and the fields each may carry (name -> JSON type).
CLIENT_TYPES: dict[str, dict[str, type]] = {
    "ping": {},
}


def decode(text: str | bytes, *, max_bytes: int) -> Message:
    """Parse and validate one client message."""
    try:
        size = len(text.encode() if isinstance(text, str) else text)
    except UnicodeEncodeError:
        raise CodecError(ErrorCode.MALFORMED, "not valid UTF-8 text") from None
    if size > max_bytes:
        raise CodecError(ErrorCode.TOO_LARGE, f"messages are limited to {max_bytes} bytes")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        raise CodecError(ErrorCode.MALFORMED, "not valid JSON") from None
    if not isinstance(data, dict):
        raise CodecError(ErrorCode.MALFORMED, "a message is a JSON object")
    message_id = data.get("id")
    if message_id is not None and (
        not isinstance(message_id, str) or len(message_id) > MAX_ID_LENGTH
    ):
        raise CodecError(
            ErrorCode.MALFORMED, f"id must be a string of at most {MAX_ID_LENGTH} characters"
        )
    version = data.get("v")
    if type(version) is not int or version != PROTOCOL_VERSION:  # True == 1 must not pass
        raise CodecError(ErrorCode.UNSUPPORTED_VERSION, f"set v to {PROTOCOL_VERSION}", message_id)
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in CLIENT_TYPES:
        raise CodecError(
            ErrorCode.UNKNOWN_TYPE, f"unknown message type {str(kind)[:40]!r}", message_id
        )
    allowed = CLIENT_TYPES[kind]
    body = {k: v for k, v in data.items() if k not in {"v", "type", "id"}}
    for key, value in body.items():
        if key not in allowed:
            raise CodecError(ErrorCode.INVALID_FIELDS, f"unknown field {key[:40]!r}", message_id)
        if not isinstance(value, allowed[key]):
            raise CodecError(
                ErrorCode.INVALID_FIELDS, f"field {key!r} has the wrong type", message_id
            )
    return Message(kind, body, message_id)


def encode(kind: str, body: Mapping[str, Any] | None = None, *, reply_to: str | None = None) -> str:
    """One server message as JSON text."""
    envelope: dict[str, Any] = {"v": PROTOCOL_VERSION, "type": kind}
    if reply_to is not None:
        envelope["id"] = reply_to
    envelope.update(body or {})
    return json.dumps(envelope, separators=(",", ":"))


def error(code: str, detail: str, *, reply_to: str | None = None) -> str:
    return encode("error", {"code": code, "detail": detail}, reply_to=reply_to)
