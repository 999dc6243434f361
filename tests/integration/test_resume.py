"""Session resume: a client that drops and comes back within the grace period, on the same
node or another, gets what it missed and keeps its place in the call; one that does not come
back leaves it; a token works once, for its own user and session only."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis

from advice_line.app import create_app
from signalling.bus import Gap, UserBus
from signalling.registry import ConnectionRegistry
from tests.integration.call_helpers import Caller, connected_call, eventually

GRACE = 2.0
OFFER = {"type": "offer", "sdp": "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"}


def signal(cid: int, to: int, n: int) -> dict[str, Any]:
    return {"v": 1, "type": "signal", "consultation_id": cid, "to": to,
            "candidate": {"candidate": f"candidate:{n} 1 udp 1 127.0.0.1 {5000 + n} typ host",
                          "sdpMid": "0"}}  # fmt: skip


def resume_query(person: Caller) -> dict[str, str]:
    """What a client sends to resume: its token and the last seq it saw."""
    welcome = person.got("welcome")[-1]
    return {
        "resume": welcome["resume_token"],
        "last": person.seqs[-1] if person.seqs else welcome["seq"],
    }


async def drop(person: Caller) -> None:
    """The network goes: the socket ends without a normal close (as a lost tablet does)."""
    assert person.ws is not None
    await person.ws.close(code=4000)
    if person._reader is not None:
        person._reader.cancel()


async def reconnect(person: Caller, **query: str) -> dict[str, Any]:
    """Open a new socket for the same login; its welcome."""
    before = len(person.got("welcome"))
    await person.connect(query or None)
    await eventually(lambda: len(person.got("welcome")) > before)
    return person.got("welcome")[-1]


@pytest.fixture
def resume_settings(settings):
    return dataclasses.replace(settings, ws_resume_grace_seconds=GRACE)


@pytest.fixture
async def call(aiohttp_server, resume_settings, make_user, make_org, db):
    server = await aiohttp_server(create_app(resume_settings))
    people: list[Any] = []
    call = await connected_call(str(server.make_url("/")), make_user, make_org, db, people)
    await call.nurse.join(call.consultation_id)
    await call.senior.join(call.consultation_id)
    yield call, server, people
    for p in people:
        await p.close()


async def test_the_welcome_carries_a_token_and_every_message_a_growing_seq(call):
    c, _server, _people = call
    welcome = c.senior.got("welcome")[-1]
    assert len(welcome["resume_token"]) >= 40 and welcome["resumed"] is False
    assert welcome["resume_grace_seconds"] == GRACE
    for n in range(3):
        await c.nurse.send(signal(c.consultation_id, c.senior.id, n))
    await eventually(lambda: len(c.senior.got("signal")) == 3)
    assert len(c.senior.seqs) >= 3  # unstamped() asserted that they only grew


async def test_a_blip_replays_what_was_missed_and_the_call_goes_on_quietly(call):
    c, _server, _people = call
    cid, senior, nurse = c.consultation_id, c.senior, c.nurse
    query = resume_query(senior)
    await drop(senior)
    for n in range(3):  # the nurse's browser keeps negotiating while the senior is away
        await nurse.send(signal(cid, senior.id, n))
    await asyncio.sleep(0.3)
    before = len(senior.got("signal"))

    welcome = await reconnect(senior, **query)
    assert welcome["resumed"] is True and welcome["replayed"] == 3
    await eventually(lambda: len(senior.got("signal")) == before + 3)
    ports = [m["candidate"]["candidate"].split()[5] for m in senior.got("signal")[before:]]
    assert ports == ["5000", "5001", "5002"]  # in order, each once

    await senior.send(
        {"v": 1, "type": "call.join", "consultation_id": cid, "resume": True, "id": "again"}
    )
    joined = await senior.wait_for("call.joined", id="again")
    assert joined["resumed"] is True
    await asyncio.sleep(GRACE + 0.5)  # past the grace: the dropped connection has lapsed
    assert nurse.got("call.peer_left") == []
    assert len(nurse.got("call.peer_joined")) == 1  # only the senior's first join
    await nurse.send(signal(cid, senior.id, 9))
    await senior.wait_for("signal", consultation_id=cid, candidate__sdpMid="0")


async def test_a_client_that_does_not_come_back_leaves_the_call_after_the_grace(call):
    c, _server, _people = call
    await drop(c.senior)
    await asyncio.sleep(GRACE * 0.5)
    assert c.nurse.got("call.peer_left") == []
    gone = await c.nurse.wait_for("call.peer_left", within=GRACE + 15, user_id=c.senior.id)
    assert gone["consultation_id"] == c.consultation_id


async def test_leaving_the_page_leaves_at_once(call):
    c, _server, _people = call
    assert c.senior.ws is not None
    await c.senior.ws.close()  # 1000: the page was closed on purpose
    await c.nurse.wait_for("call.peer_left", within=GRACE * 0.75, user_id=c.senior.id)


async def test_a_fresh_join_after_a_resume_that_failed_renegotiates(call):
    c, _server, _people = call
    await drop(c.senior)
    welcome = await reconnect(c.senior, resume="not-a-token", last="0-0")
    assert welcome["resumed"] is False and welcome["replayed"] == 0
    await c.senior.send(
        {
            "v": 1,
            "type": "call.join",
            "consultation_id": c.consultation_id,
            "resume": True,
            "id": "j2",
        }
    )
    joined = await c.senior.wait_for("call.joined", id="j2")
    # Its place was still kept (within the grace), so the join is quiet either way.
    assert joined["resumed"] is True


@pytest.mark.parametrize(
    "query",
    [
        {"resume": "x" * 500, "last": "0-0"},
        {"resume": "", "last": "0-0"},
        {"last": "1-0"},
        {"resume": "abc", "last": "yesterday"},
        {"resume": "abc", "last": "-1-0"},
        {"resume": "abc"},
    ],
)
async def test_bad_resume_parameters_just_start_afresh(call, query):
    c, _server, _people = call
    await drop(c.senior)
    welcome = await reconnect(c.senior, **query)
    assert welcome["resumed"] is False and welcome["replayed"] == 0
    await c.senior.send({"v": 1, "type": "ping", "id": "p"})
    await c.senior.wait_for("pong", id="p")


async def test_a_token_resumes_once_and_only_for_its_own_user(call):
    c, _server, _people = call
    query = resume_query(c.senior)
    await drop(c.senior)
    stolen = await reconnect(c.nurse, **query)  # the nurse presents the senior's token
    assert stolen["resumed"] is False
    again = await reconnect(c.senior, **query)  # and now it is used up
    assert again["resumed"] is False


async def test_a_token_expires_after_the_grace(call):
    c, _server, _people = call
    query = resume_query(c.senior)
    await drop(c.senior)
    await asyncio.sleep(GRACE + 0.5)
    welcome = await reconnect(c.senior, **query)
    assert welcome["resumed"] is False


async def test_a_resume_lands_on_another_node(
    aiohttp_server, resume_settings, make_user, make_org, db
):
    node_a = await aiohttp_server(create_app(resume_settings))
    node_b = await aiohttp_server(create_app(resume_settings))
    people: list[Any] = []
    try:
        c = await connected_call(str(node_a.make_url("/")), make_user, make_org, db, people)
        cid = c.consultation_id
        await c.nurse.join(cid)
        await c.senior.join(cid)
        query = resume_query(c.senior)
        await drop(c.senior)
        await c.nurse.send(signal(cid, c.senior.id, 1))
        await asyncio.sleep(0.2)
        other = Caller(str(node_b.make_url("/")), c.senior.user)
        # The same browser (its cookies), now talking to node B.
        other.session = aiohttp.ClientSession(
            base_url=other.base, cookie_jar=c.senior.session.cookie_jar
        )
        people.append(other)
        await other.connect(query)  # the same browser session, through node B
        welcome = await other.wait_for("welcome")
        assert welcome["resumed"] is True and welcome["replayed"] == 1
        await other.wait_for("signal", consultation_id=cid)
    finally:
        for p in people:
            await p.close()


async def test_a_replay_that_cannot_be_complete_is_refused(settings):
    redis = Redis.from_url(settings.redis_url, decode_responses=True)
    prefix = settings.redis_key_prefix + "gap:"
    bus = UserBus(redis, lambda u: f"{prefix}c:{u}", f"{prefix}c:*", ConnectionRegistry(),
                  lambda u: f"{prefix}s:{u}", max_entries=3)  # fmt: skip
    try:
        sent = []
        for n in range(5):
            await bus.send(7, {"type": "x", "n": n})
            sent.append(await bus.head(7))
        assert [seq for seq, _ in await bus.replay(7, sent[1])] == sent[2:]
        with pytest.raises(Gap):
            await bus.replay(7, sent[0])  # entry 1 was trimmed away: it cannot be replayed
        with pytest.raises(Gap):
            await bus.replay(7, "0-0")
        assert await bus.replay(7, sent[-1]) == []
        assert await bus.replay(8, "0-0") == []  # nothing was ever sent to user 8
    finally:
        await redis.aclose()


async def test_a_batch_is_delivered_and_kept_as_single_sends_are(settings):
    """``send_many`` (one Redis call, a shared message encoded once) publishes and keeps
    exactly what one ``send`` per message would: per user, in order, replayable without gap."""
    redis = Redis.from_url(settings.redis_url, decode_responses=True)
    prefix = settings.redis_key_prefix + "batch:"
    bus = UserBus(redis, lambda u: f"{prefix}c:{u}", f"{prefix}c:*", ConnectionRegistry(),
                  lambda u: f"{prefix}s:{u}")  # fmt: skip
    pubsub = redis.pubsub()
    await pubsub.psubscribe(f"{prefix}c:*")
    try:
        await bus.send(7, {"type": "before"})
        before = await bus.head(7)
        shared = {"type": "ring", "text": 'ÆØÅ "quoted" {braces}'}
        await bus.send_many([(7, shared), (8, shared), (7, {"type": "own"}), (9, shared)])
        published: list[tuple[str, str]] = []
        deadline = asyncio.get_running_loop().time() + 5
        while len(published) < 5 and asyncio.get_running_loop().time() < deadline:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is not None:  # None: the subscription's own confirmation, or nothing
                published.append((message["channel"].rsplit(":", 1)[1], message["data"]))
        assert [user for user, _ in published] == ["7", "7", "8", "7", "9"]
        replayed = [json.loads(text) for _, text in await bus.replay(7, before)]
        assert [m["type"] for m in replayed] == ["ring", "own"]
        assert replayed[0]["text"] == shared["text"]
        for user in (8, 9):
            [(seq, text)] = await bus.replay(user, "0-0")
            assert json.loads(text) == {**shared, "seq": seq}
        await bus.send_many([])  # nothing to send: no call at all
    finally:
        await pubsub.aclose()
        await redis.aclose()
