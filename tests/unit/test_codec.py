"""signalling.codec: strict decoding of client messages, encoding of server messages."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signalling.codec import (
    CLIENT_TYPES,
    MAX_ID_LENGTH,
    PROTOCOL_VERSION,
    CodecError,
    ErrorCode,
    Message,
    decode,
    encode,
    error,
)

MAX = 4096
LONGEST_ID = "x" * MAX_ID_LENGTH


def codec_error(text: str | bytes, max_bytes: int = MAX) -> CodecError:
    with pytest.raises(CodecError) as caught:
        decode(text, max_bytes=max_bytes)
    return caught.value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"v": 1, "type": "ping"}', Message("ping", {}, None)),
        ('{"v": 1, "type": "ping", "id": "abc"}', Message("ping", {}, "abc")),
        ('{"v": 1, "type": "ping", "id": null}', Message("ping", {}, None)),
        ('{"v": 1, "type": "ping", "id": ""}', Message("ping", {}, "")),
        (f'{{"type": "ping", "id": "{LONGEST_ID}", "v": 1}}', Message("ping", {}, LONGEST_ID)),
        (b'{"v": 1, "type": "ping"}', Message("ping", {}, None)),
        ('  {"v":1,"type":"ping"}\n', Message("ping", {}, None)),
    ],
)
def test_valid_messages_decode(text: str | bytes, expected: Message) -> None:
    assert decode(text, max_bytes=MAX) == expected


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", ErrorCode.MALFORMED),
        ("{", ErrorCode.MALFORMED),
        ("ping", ErrorCode.MALFORMED),
        ("{'v': 1, 'type': 'ping'}", ErrorCode.MALFORMED),
        (b"\xff\xfe\xfa", ErrorCode.MALFORMED),
        ("[]", ErrorCode.MALFORMED),
        ('[{"v": 1, "type": "ping"}]', ErrorCode.MALFORMED),
        ('"ping"', ErrorCode.MALFORMED),
        ("1", ErrorCode.MALFORMED),
        ("null", ErrorCode.MALFORMED),
        ('{"v": 1, "type": "ping", "id": 7}', ErrorCode.MALFORMED),
        ('{"v": 1, "type": "ping", "id": ["a"]}', ErrorCode.MALFORMED),
        (f'{{"v": 1, "type": "ping", "id": "{LONGEST_ID}x"}}', ErrorCode.MALFORMED),
        ('{"type": "ping"}', ErrorCode.UNSUPPORTED_VERSION),
        ('{"v": 2, "type": "ping"}', ErrorCode.UNSUPPORTED_VERSION),
        ('{"v": 0, "type": "ping"}', ErrorCode.UNSUPPORTED_VERSION),
        ('{"v": "1", "type": "ping"}', ErrorCode.UNSUPPORTED_VERSION),
        ('{"v": null, "type": "ping"}', ErrorCode.UNSUPPORTED_VERSION),
        pytest.param('{"v": true, "type": "ping"}', ErrorCode.UNSUPPORTED_VERSION, id="v-true"),
        ('{"v": 1}', ErrorCode.UNKNOWN_TYPE),
        ('{"v": 1, "type": "pong"}', ErrorCode.UNKNOWN_TYPE),
        ('{"v": 1, "type": "PING"}', ErrorCode.UNKNOWN_TYPE),
        ('{"v": 1, "type": 1}', ErrorCode.UNKNOWN_TYPE),
        ('{"v": 1, "type": null}', ErrorCode.UNKNOWN_TYPE),
        ('{"v": 1, "type": ["ping"]}', ErrorCode.UNKNOWN_TYPE),
        ('{"v": 1, "type": "ping", "extra": 1}', ErrorCode.INVALID_FIELDS),
        ('{"v": 1, "type": "ping", "body": {}}', ErrorCode.INVALID_FIELDS),
        # Nesting far beyond the interpreter's recursion limit, yet well under the size limit.
        pytest.param("[" * 5000, ErrorCode.MALFORMED, id="deep-array"),
        pytest.param('{"a":' * 5000, ErrorCode.MALFORMED, id="deep-object"),
    ],
)
def test_invalid_messages_raise_the_expected_code(text: str | bytes, code: str) -> None:
    assert codec_error(text, max_bytes=65536).code == code


def test_oversize_message_is_too_large() -> None:
    text = json.dumps({"v": 1, "type": "ping", "id": "x" * 10})

    assert decode(text, max_bytes=len(text)).type == "ping"
    assert codec_error(text, max_bytes=len(text) - 1).code == ErrorCode.TOO_LARGE


def test_size_is_counted_in_utf8_bytes_not_characters() -> None:
    text = '{"v": 1, "type": "ping", "x": "ææææ"}'

    too_large = codec_error(text, max_bytes=len(text))

    assert too_large.code == ErrorCode.TOO_LARGE


def test_oversize_garbage_is_too_large_before_it_is_parsed() -> None:
    assert codec_error("x" * 101, max_bytes=100).code == ErrorCode.TOO_LARGE


def test_errors_after_the_id_is_known_carry_it_for_the_reply() -> None:
    assert codec_error('{"v": 2, "type": "ping", "id": "m1"}').message_id == "m1"
    assert codec_error('{"v": 1, "type": "nope", "id": "m2"}').message_id == "m2"
    assert codec_error('{"v": 1, "type": "ping", "id": "m3", "x": 1}').message_id == "m3"


def test_errors_before_the_id_is_known_carry_none() -> None:
    assert codec_error("{").message_id is None
    assert codec_error('{"id": 5, "v": 1, "type": "ping"}').message_id is None


def test_error_details_do_not_echo_long_client_input() -> None:
    long_type = "t" * 1000

    detail = codec_error(json.dumps({"v": 1, "type": long_type}), max_bytes=65536).detail

    assert len(detail) < 100


# Encoding ------------------------------------------------------------------------------


def test_ping_round_trips_through_encode_and_decode() -> None:
    text = encode("ping", reply_to="r1")

    assert json.loads(text) == {"v": PROTOCOL_VERSION, "type": "ping", "id": "r1"}
    assert decode(text, max_bytes=MAX) == Message("ping", {}, "r1")


def test_encode_without_reply_has_no_id_and_is_compact() -> None:
    text = encode("pong")

    assert text == '{"v":1,"type":"pong"}'


def test_encode_merges_the_body_into_the_envelope() -> None:
    assert json.loads(encode("welcome", {"heartbeat_seconds": 15.0, "user": {"id": 1}})) == {
        "v": 1,
        "type": "welcome",
        "heartbeat_seconds": 15.0,
        "user": {"id": 1},
    }


def test_error_message_shape() -> None:
    assert json.loads(error(ErrorCode.UNKNOWN_TYPE, "no such type", reply_to="m9")) == {
        "v": 1,
        "type": "error",
        "id": "m9",
        "code": "unknown_type",
        "detail": "no such type",
    }


# Fuzz: decode() is total ---------------------------------------------------------------


def decodes_or_refuses(text: str | bytes, max_bytes: int = MAX) -> None:
    try:
        outcome: Message | CodecError = decode(text, max_bytes=max_bytes)
    except CodecError as exc:
        outcome = exc
    if isinstance(outcome, CodecError):
        assert outcome.code in {
            ErrorCode.MALFORMED,
            ErrorCode.TOO_LARGE,
            ErrorCode.UNSUPPORTED_VERSION,
            ErrorCode.UNKNOWN_TYPE,
            ErrorCode.INVALID_FIELDS,
        }
        assert outcome.message_id is None or isinstance(outcome.message_id, str)
    else:
        assert isinstance(outcome, Message)
        assert outcome.type in CLIENT_TYPES


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=15,
)
envelope_values = {
    "v": st.sampled_from([1, 2, 0, "1", None, True, 1.0]) | json_values,
    "type": st.sampled_from(["ping", "pong", "error", ""]) | json_values,
    "id": st.none() | st.text(max_size=70) | json_values,
}
json_objects = st.fixed_dictionaries({}, optional=envelope_values) | st.dictionaries(
    st.sampled_from(["v", "type", "id", "x"]) | st.text(max_size=6), json_values
)


@given(st.text(max_size=200))
def test_fuzz_decode_of_arbitrary_text(text: str) -> None:
    decodes_or_refuses(text)


@given(st.binary(max_size=200))
def test_fuzz_decode_of_arbitrary_bytes(data: bytes) -> None:
    decodes_or_refuses(data)


@given(json_objects, st.sampled_from([16, 64, MAX]))
def test_fuzz_decode_of_arbitrary_json_objects(data: dict[str, Any], max_bytes: int) -> None:
    text = json.dumps(data)
    decodes_or_refuses(text, max_bytes)
    decodes_or_refuses(text.encode(), max_bytes)
