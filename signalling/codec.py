"""The WebSocket message codec: one versioned JSON envelope, decoded strictly.

Pure: text in, a :class:`Message` or a :class:`CodecError` with a stable code out. The
transport (aiohttp, Redis, test pairs) lives elsewhere. Every message is a JSON object
``{"v": 1, "type": "...", "id": "...", ...}``; ``id`` is optional and echoed in replies.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
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
    NOT_IN_CALL = "not_in_call"
    UNAVAILABLE = "unavailable"


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


#: A field's JSON type: one Python type or a tuple of them (``bool`` is never an ``int`` here).
JsonType = type | tuple[type, ...]
_NUMBER = (int, float)
_NULL = type(None)

#: Client -> server message types and the fields each may carry (name -> JSON type).
CLIENT_TYPES: dict[str, dict[str, JsonType]] = {
    "ping": {},
    "call.join": {"consultation_id": int, "resume": bool},
    "call.leave": {"consultation_id": int},
    "signal": {"consultation_id": int, "to": int, "description": dict, "candidate": (dict, _NULL)},
    "call.quality": {"consultation_id": int, "rtt_ms": _NUMBER, "packet_loss": _NUMBER,
                     "bitrate_kbps": _NUMBER, "relay": bool},
}  # fmt: skip

#: Fields a message of the type must carry (the others are optional).
REQUIRED: dict[str, frozenset[str]] = {
    "call.join": frozenset({"consultation_id"}),
    "call.leave": frozenset({"consultation_id"}),
    "signal": frozenset({"consultation_id", "to"}),
    "call.quality": frozenset(CLIENT_TYPES["call.quality"]),
}

#: Message types that concern a call (handled by the call relay).
CALL_TYPES = frozenset({"call.join", "call.leave", "signal", "call.quality"})

#: Ids are PostgreSQL bigints.
MAX_ENTITY_ID = 2**63 - 1
DESCRIPTION_TYPES = ("offer", "answer", "rollback")
MAX_CANDIDATE_LENGTH = 4096
MAX_MID_LENGTH = 64
MAX_MLINE_INDEX = 1023
#: Upper bounds of a call-quality report (all lower bounds are 0).
QUALITY_LIMITS = {"rtt_ms": 60_000.0, "packet_loss": 1.0, "bitrate_kbps": 1_000_000.0}


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
    return Message(kind, _body(kind, data, message_id), message_id)


def _body(kind: str, data: Mapping[str, Any], message_id: str | None) -> dict[str, Any]:
    """The fields of a message of ``kind`` beyond the envelope, checked against its schema."""
    allowed = CLIENT_TYPES[kind]
    body = {k: v for k, v in data.items() if k not in {"v", "type", "id"}}
    for key, value in body.items():
        if key not in allowed:
            raise CodecError(ErrorCode.INVALID_FIELDS, f"unknown field {key[:40]!r}", message_id)
        if not _is_a(value, allowed[key]):
            raise CodecError(
                ErrorCode.INVALID_FIELDS, f"field {key!r} has the wrong type", message_id
            )
    missing = sorted(REQUIRED.get(kind, frozenset()) - body.keys())
    if missing:
        raise CodecError(ErrorCode.INVALID_FIELDS, f"missing field {missing[0]!r}", message_id)
    check = _CHECKS.get(kind)
    problem = check(body) if check else None
    if problem:
        raise CodecError(ErrorCode.INVALID_FIELDS, problem, message_id)
    return body


def _is_a(value: object, expected: JsonType) -> bool:
    kinds = expected if isinstance(expected, tuple) else (expected,)
    if isinstance(value, bool):  # JSON true is not a number, though Python's bool is an int
        return bool in kinds
    return isinstance(value, kinds)


def _id_problem(body: Mapping[str, Any], *names: str) -> str | None:
    for name in names:
        if name in body and not 1 <= body[name] <= MAX_ENTITY_ID:
            return f"{name} must be a positive id"
    return None


def _check_call(body: Mapping[str, Any]) -> str | None:
    return _id_problem(body, "consultation_id")


def _check_signal(body: Mapping[str, Any]) -> str | None:
    if "description" not in body and "candidate" not in body:
        return "a signal carries a description or a candidate"
    problem = _id_problem(body, "consultation_id", "to")
    if problem is None and "description" in body:
        problem = _description_problem(body["description"])
    if problem is None and body.get("candidate") is not None:
        problem = _candidate_problem(body["candidate"])
    return problem


def _description_problem(description: Mapping[str, Any]) -> str | None:
    """``{"type": "offer"|"answer"|"rollback", "sdp": str}`` (a rollback needs no SDP)."""
    unknown = set(description) - {"type", "sdp"}
    if unknown:
        return f"description has an unknown field {sorted(unknown)[0][:40]!r}"
    kind, sdp = description.get("type"), description.get("sdp")
    if kind not in DESCRIPTION_TYPES:
        return "description.type must be offer, answer or rollback"
    if not isinstance(sdp, str) and not (kind == "rollback" and sdp is None):
        return "description.sdp must be a string"
    return None


_CANDIDATE_FIELDS: dict[str, JsonType] = {
    "candidate": str, "sdpMid": (str, _NULL), "sdpMLineIndex": (int, _NULL),
    "usernameFragment": (str, _NULL),
}  # fmt: skip


def _candidate_problem(candidate: Mapping[str, Any]) -> str | None:
    """An ``RTCIceCandidateInit``: ``candidate`` with ``sdpMid`` and/or ``sdpMLineIndex``."""
    for key, value in candidate.items():
        if key not in _CANDIDATE_FIELDS:
            return f"candidate has an unknown field {key[:40]!r}"
        if not _is_a(value, _CANDIDATE_FIELDS[key]):
            return f"candidate.{key} has the wrong type"
    text, mid, index = (candidate.get(k) for k in ("candidate", "sdpMid", "sdpMLineIndex"))
    if not isinstance(text, str) or len(text) > MAX_CANDIDATE_LENGTH:
        return f"candidate.candidate must be a string of at most {MAX_CANDIDATE_LENGTH} characters"
    if mid is None and index is None:
        return "candidate needs sdpMid or sdpMLineIndex"
    if mid is not None and len(mid) > MAX_MID_LENGTH:
        return f"candidate.sdpMid is longer than {MAX_MID_LENGTH} characters"
    if index is not None and not 0 <= index <= MAX_MLINE_INDEX:
        return f"candidate.sdpMLineIndex must be between 0 and {MAX_MLINE_INDEX}"
    return None


def _check_quality(body: Mapping[str, Any]) -> str | None:
    for name, high in QUALITY_LIMITS.items():
        # Chained comparison: false for NaN, exact for integers too large for a float.
        if not 0 <= body[name] <= high:
            return f"{name} must be between 0 and {high:g}"
    return _id_problem(body, "consultation_id")


_CHECKS: dict[str, Callable[[Mapping[str, Any]], str | None]] = {
    "call.join": _check_call,
    "call.leave": _check_call,
    "signal": _check_signal,
    "call.quality": _check_quality,
}


def encode(kind: str, body: Mapping[str, Any] | None = None, *, reply_to: str | None = None) -> str:
    """One server message as JSON text."""
    envelope: dict[str, Any] = {"v": PROTOCOL_VERSION, "type": kind}
    if reply_to is not None:
        envelope["id"] = reply_to
    envelope.update(body or {})
    return json.dumps(envelope, separators=(",", ":"))


def error(code: str, detail: str, *, reply_to: str | None = None) -> str:
    return encode("error", {"code": code, "detail": detail}, reply_to=reply_to)
