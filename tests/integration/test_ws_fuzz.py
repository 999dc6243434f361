"""Fuzzing the live endpoint: random and malformed frames from a person in a live call never
crash the server, never reach a bystander, never break the sender's connection, and every
reply is either a normal reply or an error with a documented code."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signalling.codec import CLIENT_TYPES, ErrorCode
from tests.integration.call_helpers import Caller
from tests.integration.test_signalling import world as world  # the fixture

CODES = {v for k, v in vars(ErrorCode).items() if k.isupper()}
REPLIES = {"pong", "call.joined", "call.left", "error"}

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True),
    st.text(max_size=30),
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=10,
)


def messages(cid: int, peer: int) -> st.SearchStrategy[str]:
    """Frames that look like protocol messages often enough to get past the first checks."""
    near = st.sampled_from([cid, peer, cid + 1, 0, -1, 2**63, True])
    fields = st.fixed_dictionaries(
        {"v": st.sampled_from([1, 1, 1, 2, "1", None, True, 1.0]),
         "type": st.sampled_from([*CLIENT_TYPES, "nope", "", "welcome"]) | values},
        optional={"id": st.text(max_size=80) | values, "consultation_id": near | values,
                  "to": near | values, "description": values | st.fixed_dictionaries(
                      {"type": st.sampled_from(["offer", "answer", "rollback", "x"]),
                       "sdp": st.text(max_size=100)}),
                  "candidate": values | st.fixed_dictionaries(
                      {"candidate": st.text(max_size=60), "sdpMid": values,
                       "sdpMLineIndex": values}),
                  "rtt_ms": values, "packet_loss": values, "bitrate_kbps": values,
                  "relay": values, "resume": values, "extra": values},
    )  # fmt: skip
    raw = st.one_of(st.text(max_size=80), st.just("{"), st.just("[]"), st.just('"x"'))
    return st.one_of(fields.map(lambda m: json.dumps(m, allow_nan=True)), raw)


async def settle(person: Caller, start: int) -> list[dict[str, Any]]:
    """Ping until a pong comes back (the fuzz may have used up the rate limit); everything
    that arrived since ``start``."""
    for attempt in range(100):
        await person.send({"v": 1, "type": "ping", "id": f"settle-{attempt}"})
        for _ in range(20):
            if person.got("pong", id=f"settle-{attempt}"):
                return person.inbox[start:]
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)  # rate limited: the bucket refills
    raise AssertionError("the connection stopped answering")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
async def test_fuzzed_frames_get_clear_errors_and_touch_no_one_else(world, data) -> None:
    nurse, senior, cid = world["nurse"], world["senior"], world["cid"]
    if "bystander" not in world:
        world["bystander"] = await world["person"]("advisor", tier="gp")
        await nurse.join(cid)
    bystander = world["bystander"]
    frames = data.draw(st.lists(messages(cid, senior.id), min_size=1, max_size=12))
    start, quiet = len(nurse.inbox), len(bystander.inbox)
    assert nurse.ws is not None
    for frame in frames:
        await nurse.ws.send_str(frame)
    for message in await settle(nurse, start):
        assert message["type"] in REPLIES | {"consultation.updated"}, message
        if message["type"] == "error":
            assert message["code"] in CODES and message["detail"], message
    assert bystander.inbox[quiet:] == []
    assert nurse.failures == [] and not nurse.ws.closed
