"""Media between aiortc peers whose signalling goes through two different server processes,
and a call that outlives the node one of them was on (``kill -9``): media never stopped (it
is peer to peer), the client resumes its session on the surviving node and gets what was
sent to it meanwhile, and the consultation is still on."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.integration.call_helpers import (
    Caller,
    ConnectedCall,
    StunResponder,
    eventually,
    keep_ice_on_loopback,
)
from tests.integration.test_routing_processes import Cluster, arrange, ask
from tests.integration.test_routing_processes import cluster as cluster  # the fixture
from tests.integration.test_webrtc_media import close_all, media_flows, negotiate

pytestmark = pytest.mark.slow


async def caller(
    nodes: Cluster, base: str, user: dict, jar: aiohttp.CookieJar | None = None,
    query: dict[str, str] | None = None,
) -> Caller:  # fmt: skip
    """``user`` on the node at ``base``: logged in afresh, or with an existing browser's cookies."""
    person = Caller(base, user)
    if jar is None:
        await person.login()
    else:
        person.session = aiohttp.ClientSession(base_url=base, cookie_jar=jar)
    nodes.people.append(person)
    await person.connect(query)
    return person


async def test_media_across_two_processes_survives_the_death_of_one(
    cluster: Cluster,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keep_ice_on_loopback(monkeypatch)
    loop = asyncio.get_running_loop()
    stun, responder = await loop.create_datagram_endpoint(
        StunResponder, local_addr=("127.0.0.1", 0)
    )
    cluster.env["ADVICE_LINE_STUN_URLS"] = f"stun:127.0.0.1:{responder.port}"
    node_a, node_b = await cluster.start("a"), await cluster.start("b")
    people = await arrange(cluster.db)
    nurse = await caller(cluster, node_a.base, people["nurse"])
    senior = await caller(cluster, node_b.base, people["senior"])
    cid = (await ask(nurse, people["patient_id"]))["id"]
    await senior.wait_for("consultation.ringing", consultation__id=cid)
    status, body = await senior.call("POST", f"/api/v1/consultations/{cid}/accept")
    assert status == 200, body
    call = ConnectedCall(cid, nurse, senior, people["patient_id"], 0)
    peers = await negotiate(call)
    try:
        await media_flows(call, peers, video=True)

        welcome = senior.got("welcome")[-1]
        resume = {
            "resume": welcome["resume_token"],
            "last": senior.seqs[-1] if senior.seqs else welcome["seq"],
        }
        await node_b.kill()
        before = peers[1].received.video_frames
        # While the senior has no signalling at all, the nurse's app still sends to her.
        status, body = await nurse.call("GET", f"/api/v1/consultations/{cid}")
        assert status == 200 and body["consultation"]["state"] == "connected", body
        await eventually(lambda: peers[1].received.video_frames >= before + 15, within=10)

        jar = senior.session.cookie_jar
        back = await caller(cluster, node_a.base, people["senior"], jar=jar, query=resume)
        resumed = back.got("welcome")[-1]
        assert resumed["resumed"] is True
        status, body = await back.call("GET", f"/api/v1/consultations/{cid}")
        assert body["consultation"]["state"] == "connected", body

        # Its node died without a word, so its place in the call lapsed: a fresh join.
        await back.send(
            {"v": 1, "type": "call.join", "consultation_id": cid, "resume": True, "id": "r"}
        )
        joined = await back.wait_for("call.joined", id="r")
        assert [p["user_id"] for p in joined["peers"]] == [nurse.id]
        status, body = await nurse.call("POST", f"/api/v1/consultations/{cid}/end")
        assert status == 200, body
        ended = await back.wait_for("call.ended", within=10, consultation_id=cid)
        assert ended["reason"] == "wrap_up"
    finally:
        await close_all(*peers)
        stun.close()
