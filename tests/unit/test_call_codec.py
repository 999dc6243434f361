"""signalling.codec: the call messages (call.join, call.leave, signal, call.quality)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signalling.codec import CALL_TYPES, CLIENT_TYPES, CodecError, ErrorCode, Message, decode

MAX = 65536
OFFER = {"type": "offer", "sdp": "v=0\r\n"}
CANDIDATE = {"candidate": "candidate:1 1 udp 2130706431 10.0.0.2 5000 typ host", "sdpMid": "0",
             "sdpMLineIndex": 0}  # fmt: skip
QUALITY = {"consultation_id": 3, "rtt_ms": 35.2, "packet_loss": 0.01, "bitrate_kbps": 900,
           "relay": False}  # fmt: skip


def text(kind: str, **body: Any) -> str:
    return json.dumps({"v": 1, "type": kind, **body})


def refused(kind: str, **body: Any) -> CodecError:
    with pytest.raises(CodecError) as caught:
        decode(text(kind, **body), max_bytes=MAX)
    return caught.value


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("call.join", {"consultation_id": 1}),
        ("call.leave", {"consultation_id": 2**63 - 1}),
        ("signal", {"consultation_id": 1, "to": 2, "description": OFFER}),
        ("signal", {"consultation_id": 1, "to": 2, "description": {"type": "answer", "sdp": ""}}),
        ("signal", {"consultation_id": 1, "to": 2, "description": {"type": "rollback"}}),
        ("signal", {"consultation_id": 1, "to": 2, "candidate": CANDIDATE}),
        ("signal", {"consultation_id": 1, "to": 2, "candidate": None}),
        ("signal", {"consultation_id": 1, "to": 2, "candidate": {"candidate": "", "sdpMid": "0"}}),
        ("signal", {"consultation_id": 1, "to": 2, "candidate": {
            "candidate": "candidate:1 1 udp 1 1.2.3.4 5 typ host", "sdpMid": None,
            "sdpMLineIndex": 1, "usernameFragment": "abcd"}}),
        ("signal", {"consultation_id": 1, "to": 2, "description": OFFER, "candidate": CANDIDATE}),
        ("call.quality", QUALITY),
        ("call.quality", {**QUALITY, "rtt_ms": 0, "packet_loss": 1, "bitrate_kbps": 0.0}),
        ("call.quality", {**QUALITY, "rtt_ms": 60000, "bitrate_kbps": 1_000_000}),
    ],
)  # fmt: skip
def test_valid_call_messages_decode(kind: str, body: dict[str, Any]) -> None:
    assert decode(text(kind, id="m1", **body), max_bytes=MAX) == Message(kind, body, "m1")


@pytest.mark.parametrize(
    ("kind", "body", "detail"),
    [
        ("call.join", {}, "missing field 'consultation_id'"),
        ("call.join", {"consultation_id": "1"}, "wrong type"),
        ("call.join", {"consultation_id": 1.0}, "wrong type"),
        ("call.join", {"consultation_id": True}, "wrong type"),
        ("call.join", {"consultation_id": 0}, "positive id"),
        ("call.join", {"consultation_id": 2**63}, "positive id"),
        ("call.join", {"consultation_id": 1, "to": 2}, "unknown field"),
        ("call.leave", {"consultation_id": None}, "wrong type"),
        ("signal", {"consultation_id": 1, "description": OFFER}, "missing field 'to'"),
        ("signal", {"to": 1, "description": OFFER}, "missing field 'consultation_id'"),
        ("signal", {"consultation_id": 1, "to": 2}, "description or a candidate"),
        ("signal", {"consultation_id": 1, "to": -2, "description": OFFER}, "positive id"),
        ("signal", {"consultation_id": 1, "to": 2, "description": None}, "wrong type"),
        ("signal", {"consultation_id": 1, "to": 2, "description": []}, "wrong type"),
        ("signal", {"consultation_id": 1, "to": 2, "description": {"type": "pranswer", "sdp": ""}}, "offer, answer or rollback"),
        ("signal", {"consultation_id": 1, "to": 2, "description": {"sdp": "v=0"}}, "offer, answer or rollback"),
        ("signal", {"consultation_id": 1, "to": 2, "description": {"type": "offer"}}, "sdp must be a string"),
        ("signal", {"consultation_id": 1, "to": 2, "description": {"type": "offer", "sdp": None}}, "sdp must be a string"),
        ("signal", {"consultation_id": 1, "to": 2, "description": {**OFFER, "x": 1}}, "unknown field"),
        ("signal", {"consultation_id": 1, "to": 2, "candidate": "candidate:1"}, "wrong type"),
        ("signal", {"consultation_id": 1, "to": 2, "candidate": {"sdpMid": "0"}}, "candidate.candidate"),
        ("signal", {"consultation_id": 1, "to": 2, "candidate": {"candidate": "c"}}, "sdpMid or sdpMLineIndex"),
        ("signal", {"consultation_id": 1, "to": 2, "candidate": {"candidate": "c", "sdpMid": 0}}, "wrong type"),
        ("signal", {"consultation_id": 1, "to": 2, "candidate": {"candidate": "c", "sdpMLineIndex": True}}, "wrong type"),
        ("signal", {"consultation_id": 1, "to": 2, "candidate": {"candidate": "c", "sdpMLineIndex": 1024}}, "between 0 and 1023"),
        ("signal", {"consultation_id": 1, "to": 2, "candidate": {"candidate": "c", "sdpMid": "x" * 65}}, "longer than 64"),
        ("signal", {"consultation_id": 1, "to": 2, "candidate": {"candidate": "c" * 4097, "sdpMid": "0"}}, "at most 4096"),
        ("signal", {"consultation_id": 1, "to": 2, "candidate": {**CANDIDATE, "extra": 1}}, "unknown field"),
        ("signal", {"consultation_id": 1, "to": 2, "from": 3, "description": OFFER}, "unknown field"),
        ("call.quality", {**QUALITY, "packet_loss": 1.01}, "packet_loss must be between 0 and 1"),
        ("call.quality", {**QUALITY, "rtt_ms": -0.5}, "rtt_ms"),
        ("call.quality", {**QUALITY, "rtt_ms": 60000.5}, "rtt_ms"),
        ("call.quality", {**QUALITY, "bitrate_kbps": 10**30}, "bitrate_kbps"),
        ("call.quality", {**QUALITY, "relay": 1}, "wrong type"),
        ("call.quality", {**QUALITY, "rtt_ms": True}, "wrong type"),
        ("call.quality", {**QUALITY, "rtt_ms": "12"}, "wrong type"),
        ("call.quality", {k: v for k, v in QUALITY.items() if k != "relay"}, "missing field 'relay'"),
    ],
)  # fmt: skip
def test_invalid_call_messages_are_invalid_fields(
    kind: str, body: dict[str, Any], detail: str
) -> None:
    error = refused(kind, id="m2", **body)

    assert (error.code, error.message_id) == (ErrorCode.INVALID_FIELDS, "m2")
    assert detail in error.detail
    assert len(error.detail) < 120


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_quality_numbers_are_refused(literal: str) -> None:
    raw = text("call.quality", **{**QUALITY, "rtt_ms": 0}).replace(
        '"rtt_ms": 0', f'"rtt_ms": {literal}'
    )

    with pytest.raises(CodecError) as caught:
        decode(raw, max_bytes=MAX)

    assert caught.value.code == ErrorCode.INVALID_FIELDS


def test_an_sdp_over_the_message_limit_is_too_large() -> None:
    body = {"consultation_id": 1, "to": 2, "description": {"type": "offer", "sdp": "x" * 5000}}

    with pytest.raises(CodecError) as caught:
        decode(text("signal", **body), max_bytes=4096)

    assert caught.value.code == ErrorCode.TOO_LARGE


def test_every_call_type_is_a_client_type() -> None:
    assert CLIENT_TYPES.keys() >= CALL_TYPES


# Fuzz: the call messages decode or are refused with a stable code ----------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)
candidates = st.none() | json_values | st.fixed_dictionaries(
    {}, optional={"candidate": json_values | st.text(max_size=30), "sdpMid": json_values,
                  "sdpMLineIndex": json_values, "usernameFragment": json_values})  # fmt: skip
descriptions = json_values | st.fixed_dictionaries(
    {}, optional={"type": st.sampled_from(["offer", "answer", "rollback", "x"]) | json_values,
                  "sdp": st.text(max_size=30) | json_values})  # fmt: skip
bodies = st.fixed_dictionaries(
    {},
    optional={"consultation_id": st.integers() | json_values, "to": st.integers() | json_values,
              "description": descriptions, "candidate": candidates,
              "rtt_ms": st.floats() | json_values, "packet_loss": st.floats() | json_values,
              "bitrate_kbps": st.floats() | json_values, "relay": st.booleans() | json_values},
)  # fmt: skip


def decode_or_error(raw: str) -> Message | CodecError:
    try:
        return decode(raw, max_bytes=MAX)
    except CodecError as exc:
        return exc


@given(st.sampled_from(sorted(CALL_TYPES)), bodies)
def test_fuzz_call_messages(kind: str, body: dict[str, Any]) -> None:
    outcome = decode_or_error(json.dumps({"v": 1, "type": kind, **body}))
    if isinstance(outcome, CodecError):
        assert outcome.code == ErrorCode.INVALID_FIELDS
        return
    message = outcome
    assert message.type == kind
    assert 1 <= message.body["consultation_id"] < 2**63
    if kind == "signal":
        assert "description" in message.body or "candidate" in message.body
        assert 1 <= message.body["to"] < 2**63
