"""The call relay on a real server: joining, relaying offers/answers/ICE only between the people
of a live consultation, leaving, the end of a call, quality reports, and ICE servers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

import aiohttp
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from advice_line.app import create_app
from advice_line.appkeys import CALLS, DB, KEYS, REDIS
from advice_line.call_relay import (
    ACCESS_TTL_SECONDS,
    STALE_ACCESS_SECONDS,
    AccessCache,
    CallAccess,
)
from tests.integration.call_helpers import (
    Caller,
    ask,
    connected_call,
    eventually,
    eventually_found,
    make_patient,
)
from tests.integration.routing_helpers import on_duty_always

OFFER = {"type": "offer", "sdp": "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"}
QUALITY = {"type": "call.quality", "rtt_ms": 10, "packet_loss": 0, "bitrate_kbps": 500,
           "relay": False}  # fmt: skip
CANDIDATE = {"candidate": "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host",
             "sdpMid": "0", "sdpMLineIndex": 0}  # fmt: skip


@pytest.fixture
async def world(aiohttp_server, settings, make_user, make_org, db):
    """A server and a connected consultation: the nurse and the senior nurse, both online."""
    app = create_app(settings)
    server = await aiohttp_server(app)
    base = str(server.make_url("/"))
    people: list[Any] = []
    call = await connected_call(base, make_user, make_org, db, people)

    async def person(role: str, **kwargs: Any) -> Caller:
        someone = await Caller(base, await make_user(role, **kwargs)).login()
        people.append(someone)
        return await someone.connect()

    yield {"call": call, "cid": call.consultation_id, "nurse": call.nurse, "senior": call.senior,
           "person": person, "db": db, "base": base, "make_user": make_user, "people": people, "app": app}  # fmt: skip
    for p in people:
        await p.close()


def signal(cid: int, to: int, **fields: Any) -> dict[str, Any]:
    return {"type": "signal", "consultation_id": cid, "to": to, **fields}


async def still_up(person: Caller) -> None:
    reply = await person.request({"type": "ping"})
    assert reply["type"] == "pong"


async def test_both_join_and_each_learns_the_other_with_its_role(world):
    nurse, senior, cid = world["nurse"], world["senior"], world["cid"]

    first = await nurse.join(cid)
    second = await senior.join(cid)

    assert first["channel"] == "video" and first["peers"] == []
    assert first["ice_servers"] == [{"urls": ["stun:127.0.0.1:3478"]}]
    assert first["id"] == f"join-{cid}"
    assert second["peers"] == [{"user_id": nurse.id, "polite": senior.id < nurse.id}]
    announced = await nurse.wait_for("call.peer_joined", consultation_id=cid)
    assert announced["user_id"] == senior.id
    # Within a pair the lower user id is polite: exactly one of the two is.
    assert announced["polite"] == (nurse.id < senior.id) != second["peers"][0]["polite"]


async def test_descriptions_and_candidates_are_relayed_between_the_two(world):
    nurse, senior, cid = world["nurse"], world["senior"], world["cid"]
    await nurse.join(cid)
    await senior.join(cid)

    await nurse.send({"v": 1, **signal(cid, senior.id, description=OFFER)})
    got = await senior.wait_for("signal", consultation_id=cid)
    await senior.send({"v": 1, **signal(cid, nurse.id, candidate=CANDIDATE)})
    back = await nurse.wait_for("signal", consultation_id=cid)
    await senior.send({"v": 1, **signal(cid, nurse.id, candidate=None)})  # end of candidates
    await eventually(lambda: len(nurse.got("signal")) == 2)

    assert got == {"v": 1, "type": "signal", "consultation_id": cid, "from": nurse.id,
                   "description": OFFER}  # fmt: skip
    assert back["from"] == senior.id and back["candidate"] == CANDIDATE
    assert nurse.got("signal")[1]["candidate"] is None


async def test_strangers_cannot_join_or_signal_and_nothing_reaches_the_call(world):
    nurse, senior, cid = world["nurse"], world["senior"], world["cid"]
    await senior.join(cid)
    stranger = await world["person"]("advisor", tier="gp")
    other_nurse = await world["person"]("nurse")
    other_patient = await make_patient(world["db"], other_nurse.user["organisation_id"], "R-2")
    other_cid = await ask(other_nurse, other_patient)  # another consultation, not connected

    attempts = [
        (stranger, {"type": "call.join", "consultation_id": cid}),
        (stranger, signal(cid, senior.id, description=OFFER)),
        (stranger, signal(cid, nurse.id, candidate=CANDIDATE)),
        (other_nurse, {"type": "call.join", "consultation_id": cid}),
        (other_nurse, signal(cid, senior.id, description=OFFER)),
        (other_nurse, signal(other_cid, senior.id, description=OFFER)),
        (other_nurse, {"type": "call.join", "consultation_id": other_cid}),
        (nurse, signal(other_cid, senior.id, description=OFFER)),
        (nurse, signal(cid, stranger.id, description=OFFER)),  # recipient not of the call
        (nurse, signal(cid, nurse.id, description=OFFER)),  # to oneself
        (nurse, signal(987654, senior.id, description=OFFER)),  # no such consultation
        (stranger, {**QUALITY, "consultation_id": cid}),
        (stranger, {"type": "call.leave", "consultation_id": cid}),
    ]
    for who, message in attempts:
        reply = await who.request(message)
        assert (reply["type"], reply.get("code")) == ("error", "not_in_call"), message
        await still_up(who)

    # A legitimate signal sent afterwards is the only one that arrives anywhere.
    await nurse.send({"v": 1, **signal(cid, senior.id, candidate=CANDIDATE)})
    await senior.wait_for("signal", consultation_id=cid)
    assert [m["from"] for m in senior.got("signal")] == [nurse.id]
    assert stranger.got("signal") == [] and other_nurse.got("signal") == []
    assert not senior.got("call.peer_joined")
    assert await world["db"].fetchval(
        "SELECT count(*) FROM consultation_events WHERE type = 'call_quality'") == 0  # fmt: skip


async def test_a_consultation_not_yet_connected_has_no_call(world):
    nurse = world["nurse"]
    gp = await world["person"]("advisor", tier="gp")
    await on_duty_always(world["db"], "gp", [gp.id])
    patient = await make_patient(world["db"], nurse.user["organisation_id"], "R-3")
    ringing = await ask(nurse, patient)

    for message in ({"type": "call.join", "consultation_id": ringing},
                    signal(ringing, world["senior"].id, description=OFFER)):  # fmt: skip
        reply = await nurse.request(message)
        assert reply["code"] == "not_in_call"
    await still_up(nurse)


@pytest.mark.parametrize(
    "fields",
    [
        {},  # neither description nor candidate
        {"to": "2", "description": OFFER},
        {"to": True, "description": OFFER},
        {"to": 0, "description": OFFER},
        {"consultation_id": -1, "description": OFFER},
        {"consultation_id": 2**63, "description": OFFER},
        {"description": {"type": "bogus", "sdp": "v=0"}},
        {"description": {"type": "offer"}},
        {"description": {"type": "answer", "sdp": 5}},
        {"description": {"type": "offer", "sdp": "v=0", "extra": 1}},
        {"description": "v=0"},
        {"candidate": {"candidate": "candidate:1 1 udp 1 127.0.0.1 5 typ host"}},
        {"candidate": {"candidate": 5, "sdpMid": "0"}},
        {"candidate": {"candidate": "c", "sdpMLineIndex": -1}},
        {"candidate": {"candidate": "c", "sdpMid": "0", "foo": 1}},
        {"candidate": "candidate:1 1 udp 1 127.0.0.1 5 typ host"},
        {"from": 1, "description": OFFER},
    ],
)
async def test_malformed_signals_are_invalid_fields_and_nothing_is_relayed(world, fields):
    nurse, senior, cid = world["nurse"], world["senior"], world["cid"]
    message = {**signal(cid, senior.id), **fields}

    reply = await nurse.request(message)

    assert (reply["type"], reply["code"]) == ("error", "invalid_fields")
    await still_up(nurse)
    assert senior.got("signal") == []


async def test_missing_recipient_and_consultation_are_invalid(world):
    nurse, cid = world["nurse"], world["cid"]
    for message in ({"type": "signal", "consultation_id": cid, "description": OFFER},
                    {"type": "signal", "to": world["senior"].id, "description": OFFER},
                    {"type": "call.join"}, {"type": "call.join", "consultation_id": "1"}):  # fmt: skip
        reply = await nurse.request(message)
        assert reply["code"] == "invalid_fields", message
    await still_up(nurse)


async def test_an_oversized_sdp_is_too_large_and_the_connection_stays(world):
    nurse, senior, cid = world["nurse"], world["senior"], world["cid"]
    huge = {"type": "offer", "sdp": "a=x-padding:" + "x" * 70_000}

    await nurse.send({"v": 1, **signal(cid, senior.id, description=huge)})

    await nurse.wait_for("error", code="too_large")  # refused unread: no id to echo
    await still_up(nurse)
    assert senior.got("signal") == []


async def test_leaving_and_disconnecting_tell_the_others(world):
    nurse, senior, cid = world["nurse"], world["senior"], world["cid"]
    await nurse.join(cid)
    await senior.join(cid)

    left = await senior.request({"type": "call.leave", "consultation_id": cid})
    assert left["type"] == "call.left"
    gone = await nurse.wait_for("call.peer_left", consultation_id=cid)
    assert gone["user_id"] == senior.id

    await senior.join(cid)
    await eventually(lambda: len(nurse.got("call.peer_joined")) == 2)
    assert senior.ws is not None
    await senior.ws.close()
    await eventually(lambda: len(nurse.got("call.peer_left")) == 2)


async def test_the_end_of_the_consultation_ends_the_call(world):
    nurse, senior, cid = world["nurse"], world["senior"], world["cid"]
    await nurse.join(cid)
    await senior.join(cid)

    status, body = await senior.call("POST", f"/api/v1/consultations/{cid}/end")
    assert status == 200 and body["consultation"]["state"] == "wrap_up"

    for person in (nurse, senior):
        ended = await person.wait_for("call.ended", consultation_id=cid)
        assert ended["reason"] == "wrap_up"
    for message in ({"type": "call.join", "consultation_id": cid},
                    signal(cid, senior.id, description=OFFER)):  # fmt: skip
        assert (await nurse.request(message))["code"] == "not_in_call"
    assert senior.got("signal") == []


async def test_an_escalated_gp_joins_and_the_senior_who_leaves_is_dropped(world):
    nurse, senior, cid = world["nurse"], world["senior"], world["cid"]
    gp = await world["person"]("advisor", tier="gp")
    await on_duty_always(world["db"], "gp", [gp.id])
    await nurse.join(cid)
    await senior.join(cid)
    status, _ = await senior.call("POST", f"/api/v1/consultations/{cid}/escalate",
                                  json={"note": "Behov for læge"})  # fmt: skip
    assert status == 200
    await gp.wait_for("consultation.ringing", consultation__id=cid)
    assert (await gp.call("POST", f"/api/v1/consultations/{cid}/accept"))[0] == 200

    joined = await gp.join(cid)
    assert {p["user_id"] for p in joined["peers"]} == {nurse.id, senior.id}
    for person in (nurse, senior):
        announced = await person.wait_for("call.peer_joined", user_id=gp.id)
        assert announced["polite"] == (person.id < gp.id)

    assert (await senior.call("POST", f"/api/v1/consultations/{cid}/leave"))[0] == 200
    assert (await senior.wait_for("call.ended", consultation_id=cid))["reason"] == "left"
    for person in (nurse, gp):
        await person.wait_for("call.peer_left", user_id=senior.id)
    reply = await senior.request(signal(cid, nurse.id, description=OFFER))
    assert reply["code"] == "not_in_call"


async def test_quality_reports_are_stored_on_the_timeline_and_rate_limited(world):
    nurse, cid, db = world["nurse"], world["cid"], world["db"]
    report = {"type": "call.quality", "consultation_id": cid, "rtt_ms": 42.5,
              "packet_loss": 0.02, "bitrate_kbps": 850, "relay": True}  # fmt: skip
    await nurse.send({"v": 1, **report})

    async def stored() -> list[Any]:
        return await db.fetch(
            "SELECT actor_id, data FROM consultation_events "
            "WHERE consultation_id = $1 AND type = 'call_quality'", cid)  # fmt: skip

    rows = await eventually_found(stored)
    assert [(r["actor_id"], r["data"]) for r in rows] == [
        (nurse.id, {"rtt_ms": 42.5, "packet_loss": 0.02, "bitrate_kbps": 850, "relay": True})
    ]
    again = await nurse.request(report)
    assert again["code"] == "rate_limited"
    for bad in ({"packet_loss": 1.5}, {"rtt_ms": -1}, {"relay": "yes"}, {"bitrate_kbps": None}):
        assert (await nurse.request({**report, **bad}))["code"] == "invalid_fields", bad
    missing = {k: v for k, v in report.items() if k != "relay"}
    assert (await nurse.request(missing))["code"] == "invalid_fields"
    await still_up(nurse)
    assert len(await stored()) == 1


async def test_a_store_failure_answers_unavailable_and_keeps_the_connection(world, monkeypatch):
    nurse, cid = world["nurse"], world["cid"]

    async def database_away(consultation_id: int) -> None:
        raise ConnectionRefusedError("PostgreSQL is restarting")

    monkeypatch.setattr(world["app"][CALLS], "access", database_away)
    reply = await nurse.request({"type": "call.join", "consultation_id": cid})
    assert (reply["type"], reply["code"]) == ("error", "unavailable")
    await still_up(nurse)
    monkeypatch.undo()
    assert (await nurse.join(cid))["consultation_id"] == cid


async def test_ice_servers_over_rest_need_a_session(world):
    status, body = await world["nurse"].call("GET", "/api/v1/ice-servers")
    assert status == 200
    assert body == {"ice_servers": [{"urls": ["stun:127.0.0.1:3478"]}], "ttl_seconds": 3600}
    async with aiohttp.ClientSession(base_url=world["base"]) as session:
        response = await session.get("/api/v1/ice-servers")
        assert response.status == 401


async def test_turn_credentials_follow_coturns_rest_scheme(aiohttp_server, settings, make_user):
    secret = "s3cret-shared-with-coturn"
    app = create_app(settings.replace(
        stun_urls=("stun:turn.example.dk:3478",), turn_urls=("turn:turn.example.dk:3478?transport=udp",
        "turn:turn.example.dk:3478?transport=tcp"), turn_secret=secret, turn_ttl_seconds=600))  # fmt: skip
    server = await aiohttp_server(app)
    user = await make_user("advisor", tier="gp")
    person = await Caller(str(server.make_url("/")), user).login()
    try:
        before = int(time.time())
        status, body = await person.call("GET", "/api/v1/ice-servers")
        after = int(time.time())
    finally:
        await person.close()

    assert status == 200 and body["ttl_seconds"] == 600
    stun_server, turn_server = body["ice_servers"]
    assert stun_server == {"urls": ["stun:turn.example.dk:3478"]}
    assert turn_server["urls"] == ["turn:turn.example.dk:3478?transport=udp",
                                   "turn:turn.example.dk:3478?transport=tcp"]  # fmt: skip
    expiry, user_part = turn_server["username"].split(":")
    assert user_part == str(user["id"]) and before + 600 <= int(expiry) <= after + 600
    expected = hmac.new(secret.encode(), turn_server["username"].encode(), hashlib.sha1).digest()
    assert base64.b64decode(turn_server["credential"]) == expected


async def test_peers_on_two_nodes_join_and_signal_each_other(
    aiohttp_server, settings, make_user, make_org, db
):
    node_a = await aiohttp_server(create_app(settings))
    node_b = await aiohttp_server(create_app(settings))
    people: list[Any] = []
    try:
        call = await connected_call(str(node_a.make_url("/")), make_user, make_org, db, people)
        nurse, cid = call.nurse, call.consultation_id
        senior = await Caller(str(node_b.make_url("/")), call.senior.user).login()
        people.append(senior)
        await senior.connect()

        await nurse.join(cid)
        joined = await senior.join(cid)
        assert [p["user_id"] for p in joined["peers"]] == [nurse.id]
        await nurse.wait_for("call.peer_joined", user_id=senior.id)
        await nurse.send({"v": 1, **signal(cid, senior.id, description=OFFER)})
        relayed = await senior.wait_for("signal", consultation_id=cid)
        assert relayed["from"] == nurse.id and relayed["description"] == OFFER
        assert senior.ws is not None
        await senior.ws.close()
        await nurse.wait_for("call.peer_left", user_id=senior.id)
    finally:
        for p in people:
            await p.close()


# The per-node cache of calls' access, and forgetting it on every node ----------------------


def test_a_read_that_began_before_a_change_is_not_kept_and_a_call_not_live_is_dropped():
    now = [0.0]
    cache = AccessCache(lambda: now[0], ttl=5.0)
    live = CallAccess(1, 10, frozenset({20}), "connected", "video")
    began = cache.generation
    cache.forget(1)  # a change heard of while the database read was under way
    cache.put(live, began)
    assert cache.get(1) is None
    cache.put(live, cache.generation)
    assert cache.get(1) == live
    cache.put(CallAccess(1, 10, frozenset({20}), "wrap_up", "video"), cache.generation - 1)
    assert cache.get(1) is None  # a later read found it over: never stale, always dropped
    cache.put(live, cache.generation)
    now[0] = 5.0
    assert cache.get(1) is None  # lapsed: the database is asked again
    assert cache.last_known(1) == live  # ... unless it cannot be reached
    now[0] = 5.0 + cache.stale
    assert cache.last_known(1) is None
    cache.put(live, cache.generation)
    cache.forget(1)
    assert cache.last_known(1) is None  # a change heard of is never overruled


@pytest.fixture
async def two_nodes(aiohttp_server, settings, make_user, make_org, db):
    """A connected call: the nurse on node A, the senior nurse on node B (one Redis)."""
    app_a, app_b = create_app(settings), create_app(settings)
    node_a, node_b = await aiohttp_server(app_a), await aiohttp_server(app_b)
    people: list[Any] = []
    call = await connected_call(str(node_a.make_url("/")), make_user, make_org, db, people)
    senior = await Caller(str(node_b.make_url("/")), call.senior.user).login()
    people.append(senior)
    await senior.connect()
    await call.senior.close()
    yield {"a": app_a, "b": app_b, "nurse": call.nurse, "senior": senior,
           "cid": call.consultation_id}  # fmt: skip
    for p in people:
        await p.close()


async def test_an_ended_call_is_refused_at_once_where_it_ended_and_soon_on_the_other_node(
    two_nodes,
):
    nurse, senior, cid = two_nodes["nurse"], two_nodes["senior"], two_nodes["cid"]
    relay_a, relay_b = two_nodes["a"][CALLS], two_nodes["b"][CALLS]
    await nurse.join(cid)
    await senior.join(cid)
    await nurse.send({"v": 1, **signal(cid, senior.id, candidate=CANDIDATE)})
    await senior.wait_for("signal", consultation_id=cid)
    await senior.send({"v": 1, **signal(cid, nurse.id, candidate=CANDIDATE)})
    await nurse.wait_for("signal", consultation_id=cid)
    assert relay_a.cache.get(cid) is not None and relay_b.cache.get(cid) is not None

    status, body = await nurse.call("POST", f"/api/v1/consultations/{cid}/end")  # on node A
    assert status == 200 and body["consultation"]["state"] == "wrap_up", body

    assert relay_a.cache.get(cid) is None
    refused = await nurse.request(signal(cid, senior.id, candidate=CANDIDATE))
    assert refused["code"] == "not_in_call"  # the first signal after the change, on node A
    await eventually(lambda: relay_b.cache.get(cid) is None, within=2.0)  # the pub/sub delay
    refused = await senior.request(signal(cid, nurse.id, candidate=CANDIDATE))
    assert refused["code"] == "not_in_call"
    assert len(nurse.got("signal")) == 1 and len(senior.got("signal")) == 1


async def test_an_advisor_who_left_on_one_node_is_refused_on_the_other(two_nodes, make_user, db):
    nurse, senior, cid = two_nodes["nurse"], two_nodes["senior"], two_nodes["cid"]
    gp = await Caller(nurse.base, await make_user("advisor", tier="gp")).login()
    try:
        await gp.connect()
        await on_duty_always(db, "gp", [gp.id])
        await senior.join(cid)  # node B keeps the call's access
        status, _ = await senior.call("POST", f"/api/v1/consultations/{cid}/escalate",
                                      json={"note": "Behov for læge"})  # fmt: skip
        assert status == 200
        await gp.wait_for("consultation.ringing", consultation__id=cid)
        assert (await gp.call("POST", f"/api/v1/consultations/{cid}/accept"))[0] == 200
        await senior.send({"v": 1, **signal(cid, nurse.id, candidate=CANDIDATE)})  # B: cached
        await nurse.wait_for("signal", consultation_id=cid)

        assert (await senior.call("POST", f"/api/v1/consultations/{cid}/leave"))[0] == 200
        # The leave was decided on node B: refused there at once, and nothing relayed.
        refused = await senior.request(signal(cid, nurse.id, candidate=CANDIDATE))
        assert refused["code"] == "not_in_call"
        assert len(nurse.got("signal")) == 1
        # Node A heard of it too: the others still signal each other there.
        await eventually(lambda: two_nodes["a"][CALLS].cache.get(cid) is None, within=2.0)
        await gp.send({"v": 1, **signal(cid, nurse.id, candidate=CANDIDATE)})
        await eventually(lambda: len(nurse.got("signal")) == 2)
    finally:
        await gp.close()


async def test_a_cached_call_admits_until_a_change_is_published_or_it_lapses(world, monkeypatch):
    nurse, senior, cid, db, app = (world[k] for k in ("nurse", "senior", "cid", "db", "app"))
    relay = app[CALLS]
    await nurse.join(cid)
    # Behind the relay's back (no node announces it): only the cache says it is live.
    await db.execute("UPDATE consultations SET state = 'wrap_up' WHERE id = $1", cid)
    await nurse.send({"v": 1, **signal(cid, senior.id, candidate=CANDIDATE)})
    await senior.wait_for("signal", consultation_id=cid)

    await app[REDIS].publish(app[KEYS].calls_changed_channel, str(cid))  # as another node
    await eventually(lambda: relay.cache.get(cid) is None)
    assert (await nurse.request(signal(cid, senior.id, candidate=CANDIDATE)))[
        "code"
    ] == "not_in_call"

    await db.execute("UPDATE consultations SET state = 'connected' WHERE id = $1", cid)
    await nurse.send({"v": 1, **signal(cid, senior.id, candidate=CANDIDATE)})
    await eventually(lambda: len(senior.got("signal")) == 2)
    await db.execute("UPDATE consultations SET state = 'wrap_up' WHERE id = $1", cid)
    later = relay.monotonic() + ACCESS_TTL_SECONDS
    monkeypatch.setattr(relay, "monotonic", lambda: later)  # the safety net: the TTL
    assert (await nurse.request(signal(cid, senior.id, candidate=CANDIDATE)))[
        "code"
    ] == "not_in_call"
    assert len(senior.got("signal")) == 2


async def test_a_call_keeps_its_signalling_while_postgresql_is_away(world, monkeypatch):
    nurse, senior, cid, app = world["nurse"], world["senior"], world["cid"], world["app"]
    relay = app[CALLS]
    await nurse.send({"v": 1, **signal(cid, senior.id, candidate=CANDIDATE)})  # read, then cached
    await eventually(lambda: len(senior.got("signal")) == 1)
    stranger = await world["person"]("advisor", tier="gp")
    # PostgreSQL away for this node (its pool refuses every acquire, as with the server
    # down), and the cached access lapsed long ago: the call goes on as it was.
    later = time.monotonic() + ACCESS_TTL_SECONDS + 60
    monkeypatch.setattr(relay, "monotonic", lambda: later)
    await app[DB].close()
    await senior.send({"v": 1, **signal(cid, nurse.id, description=OFFER)})
    await eventually(lambda: len(nurse.got("signal")) == 1)
    await nurse.send({"v": 1, **signal(cid, senior.id, candidate=CANDIDATE)})
    await eventually(lambda: len(senior.got("signal")) == 2)
    # Nobody else gets in, and what needs the database fails clearly; the sockets stay up.
    reply = await stranger.request(signal(cid, nurse.id, candidate=CANDIDATE))
    assert (reply["type"], reply["code"]) == ("error", "unavailable")
    reply = await nurse.request({"consultation_id": cid, **QUALITY})
    assert (reply["type"], reply["code"]) == ("error", "unavailable")
    await still_up(nurse)
    await still_up(senior)
    assert len(nurse.got("signal")) == 1
    # Over REST the answer is a problem the client may retry, not an internal error.
    response = await nurse.session.get(f"/api/v1/consultations/{cid}")
    assert response.status == 503 and response.headers["Retry-After"] == "5"
    assert response.content_type == "application/problem+json"
    assert (await response.json())["type"].endswith("/unavailable")
    # Past the stale horizon the last known access no longer admits anyone.
    much_later = later + STALE_ACCESS_SECONDS
    monkeypatch.setattr(relay, "monotonic", lambda: much_later)
    reply = await nurse.request(signal(cid, senior.id, candidate=CANDIDATE))
    assert (reply["type"], reply["code"]) == ("error", "unavailable")


async def test_someone_just_added_is_never_refused_by_a_cached_call(world):
    nurse, cid, db, relay = world["nurse"], world["cid"], world["db"], world["app"][CALLS]
    await nurse.join(cid)
    assert relay.cache.get(cid) is not None
    gp = await world["person"]("advisor", tier="gp")
    await db.execute(  # no change announced: the cache does not know the GP yet
        "UPDATE consultations SET participants = array_append(participants, $2) WHERE id = $1",
        cid, gp.id,
    )  # fmt: skip

    joined = await gp.join(cid)  # refused by the cache, so read again: admitted

    assert {p["user_id"] for p in joined["peers"]} == {nurse.id}
    await gp.send({"v": 1, **signal(cid, nurse.id, candidate=CANDIDATE)})
    await nurse.wait_for("signal", consultation_id=cid)


async def test_signals_sent_together_arrive_in_order_and_a_redis_failure_is_unavailable(
    world, monkeypatch
):
    nurse, senior, cid, relay = world["nurse"], world["senior"], world["cid"], world["app"][CALLS]
    burst = [
        {**CANDIDATE, "candidate": f"candidate:{n} 1 udp 2130706431 127.0.0.1 {50000 + n} typ host"}
        for n in range(30)
    ]
    for candidate in burst:  # within the burst the rate limit allows
        await nurse.send({"v": 1, **signal(cid, senior.id, candidate=candidate)})
    await eventually(lambda: len(senior.got("signal")) == len(burst))
    assert [m["candidate"] for m in senior.got("signal")] == burst

    async def redis_away(messages: Any) -> None:
        raise RedisConnectionError("Redis is restarting")

    monkeypatch.setattr(relay.signals.bus, "send_many", redis_away)
    reply = await nurse.request(signal(cid, senior.id, candidate=CANDIDATE))
    assert (reply["type"], reply["code"]) == ("error", "unavailable")
    monkeypatch.undo()
    await nurse.send({"v": 1, **signal(cid, senior.id, candidate=CANDIDATE)})
    await eventually(lambda: len(senior.got("signal")) == len(burst) + 1)
