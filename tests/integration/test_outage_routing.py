"""Routing new calls while PostgreSQL cannot be reached, and handing them back afterwards.

The app reaches the real PostgreSQL through a gate (``tests/pg_gate.py``) that a test shuts:
new connections are refused and open ones drop. Redis is the real one throughout.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.asyncio import Redis

from advice_line.app import create_app
from advice_line.appkeys import KEYS, OUTAGE, OUTAGE_WATCH, REDIS
from tests.integration.routing_helpers import Person, on_duty_always
from tests.integration.test_push import Browser
from tests.integration.test_push import push_service as push_service  # the fixture
from tests.pg_gate import PostgresGate

ISBAR = {"situation": "Åndenød og uro", "background": "Lungekræft", "assessment": "TOBS 6",
         "request": "Råd om morfin"}  # fmt: skip


@pytest.fixture
async def world(request, aiohttp_server, settings, make_user, make_org, db):
    """A server that reaches PostgreSQL through a gate, fast ring timers, a nurse with a
    patient, and a way to add people."""
    gate = await PostgresGate.for_url(settings.database_url).open()
    changes: dict[str, Any] = {"database_url": gate.url(settings.database_url),
                               "ring_seconds": (1.0, 1.0, 1.0), "wake_grace_seconds": 0.5,
                               "retry_seconds": 0.5}  # fmt: skip
    changes.update(getattr(request, "param", {}))
    app = create_app(settings.replace(**changes))
    server = await aiohttp_server(app)
    home = await make_org(kind="home_care")
    nurse_user = await make_user("nurse", organisation_id=home["id"])
    patient_id = await db.fetchval(
        """INSERT INTO patients (reference, organisation_id, name, diagnosis_group)
           VALUES ('U-1', $1, 'Else Fiktivsen', 'cancer') RETURNING id""",
        home["id"],
    )
    people: list[Person] = []

    async def person(role: str, **kwargs: Any) -> Person:
        user = await make_user(role, **kwargs)
        p = await Person(str(server.make_url("/")), user).login()
        people.append(p)
        return p

    nurse = await Person(str(server.make_url("/")), nurse_user).login()
    people.append(nurse)

    async def outage() -> None:
        """Take the copy of the database now (as the watch does every few seconds), then
        shut the gate."""
        await app[OUTAGE_WATCH].check(refresh=True)
        await gate.shut()

    async def recovery() -> None:
        """Open the gate; the watch's next check hands everything back."""
        await gate.open()
        await app[OUTAGE_WATCH].check()
        assert not app[OUTAGE_WATCH].down

    yield {"app": app, "nurse": nurse, "patient_id": patient_id, "person": person, "db": db,
           "outage": outage, "recovery": recovery, "gate": gate, "home": home}  # fmt: skip
    for p in people:
        await p.close()
    await gate.shut()


async def ask(world: dict[str, Any], **changes: Any) -> tuple[int, Any]:
    body = {"patient_id": world["patient_id"], "channel": "video", "urgency": "urgent",
            "isbar": ISBAR, **changes}  # fmt: skip
    return await world["nurse"].call("POST", "/api/v1/consultations", json=body)


async def timeline(db: Any, consultation_id: int) -> list[str]:
    rows = await db.fetch(
        "SELECT type FROM consultation_events WHERE consultation_id = $1 ORDER BY id",
        consultation_id,
    )
    return [r["type"] for r in rows]


async def spooled_lines(app: Any) -> int:
    return sum(1 for _ in app[OUTAGE].spool.path.read_bytes().splitlines())


async def test_a_call_asked_for_during_an_outage_is_answered_and_handed_back(world):
    senior = await (await world["person"]("advisor", tier="senior_nurse")).connect()
    await on_duty_always(world["db"], "senior_nurse", [senior.id])
    await world["outage"]()

    status, body = await ask(world)
    assert status == 201, body
    asked = body["consultation"]
    assert asked["state"] == "ringing" and asked["degraded"] is True
    assert asked["isbar"] == ISBAR and asked["care_plan"] is None
    ring = await senior.wait_for("consultation.ringing", consultation__id=asked["id"])
    assert ring["isbar"] == ISBAR and ring["care_plan"] is None and ring["degraded"] is True
    assert ring["nurse"]["id"] == world["nurse"].id

    status, body = await senior.call("POST", f"/api/v1/consultations/{asked['id']}/accept")
    assert status == 200, body
    assert body["consultation"]["state"] == "connected"
    status, body = await world["nurse"].call("GET", f"/api/v1/consultations/{asked['id']}")
    assert status == 200
    held_types = [e["type"] for e in body["consultation"]["timeline"]]
    assert held_types[:3] == ["requested", "offered", "accepted"]
    status, listed = await senior.call("GET", "/api/v1/consultations")
    assert status == 200 and listed["degraded"] is True
    assert [c["id"] for c in listed["consultations"]] == [asked["id"]]
    status, ready = await world["nurse"].call("GET", "/readyz")
    assert status == 200 and ready["status"] == "degraded"
    assert await spooled_lines(world["app"]) == 2  # the request and the accept, on disk
    metrics = await (await world["nurse"].session.get("/metrics")).text()
    assert "advice_line_database_away 1.0" in metrics
    assert "advice_line_outage_consultations_total 1.0" in metrics

    await world["recovery"]()
    db = world["db"]
    row = await db.fetchrow("SELECT * FROM consultations WHERE id = $1", asked["id"])
    assert row["state"] == "connected" and row["routed_in_outage"] is True
    assert list(row["participants"]) == [senior.id]
    assert await timeline(db, asked["id"]) == held_types
    reads = await db.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'patient.read' AND actor_id = $1",
        senior.id,
    )
    assert reads == 2  # the ISBAR he was shown when rung, and again when he joined
    assert await world["app"][OUTAGE].store.ids() == []
    assert world["app"][OUTAGE].spool.size() == 0
    metrics = await (await world["nurse"].session.get("/metrics")).text()
    assert "advice_line_database_away 0.0" in metrics
    assert "advice_line_outage_handed_back_total 1.0" in metrics
    assert "advice_line_outage_spool_bytes 0.0" in metrics

    # From now on it is an ordinary consultation: ended and documented through the database.
    for action in ("end", "wrap-up-done"):
        status, body = await senior.call("POST", f"/api/v1/consultations/{asked['id']}/{action}")
        assert status == 200, body
    assert (
        await db.fetchval("SELECT state FROM consultations WHERE id = $1", asked["id"]) == "ended"
    )
    assert await db.fetchval(
        "SELECT count(*) FROM episode_facts WHERE consultation_id = $1", asked["id"]
    ) == 1  # fmt: skip


async def test_no_answer_during_an_outage_escalates_to_the_next_tier_on_time(world):
    senior = await (await world["person"]("advisor", tier="senior_nurse")).connect()
    gp = await (await world["person"]("advisor", tier="gp")).connect()
    await on_duty_always(world["db"], "senior_nurse", [senior.id])
    await on_duty_always(world["db"], "gp", [gp.id])
    await world["outage"]()
    status, body = await ask(world)
    assert status == 201, body
    cid = body["consultation"]["id"]
    await senior.wait_for("consultation.ringing", consultation__id=cid)
    await gp.wait_for("consultation.ringing", within=5, consultation__id=cid)
    await senior.wait_for("consultation.withdrawn", consultation_id=cid)
    status, body = await gp.call("POST", f"/api/v1/consultations/{cid}/accept")
    assert status == 200, body
    await world["recovery"]()
    types = await timeline(world["db"], cid)
    assert types[:2] == ["requested", "offered"]
    assert "timed_out" in types and types[-2:] == ["accepted", "joined"]


async def test_of_two_simultaneous_accepts_during_an_outage_one_connects(world):
    seniors = [await (await world["person"]("advisor", tier="senior_nurse")).connect()
               for _ in range(2)]  # fmt: skip
    await on_duty_always(world["db"], "senior_nurse", [s.id for s in seniors])
    await world["outage"]()
    _status, body = await ask(world)
    cid = body["consultation"]["id"]
    for senior in seniors:
        await senior.wait_for("consultation.ringing", consultation__id=cid)
    answers = await asyncio.gather(
        *(s.call("POST", f"/api/v1/consultations/{cid}/accept") for s in seniors)
    )
    assert sorted(status for status, _ in answers) == [200, 409]
    loser = seniors[[status for status, _ in answers].index(409)]
    await loser.wait_for("consultation.withdrawn", consultation_id=cid)
    await world["recovery"]()
    assert (await timeline(world["db"], cid)).count("accepted") == 1


async def test_bad_requests_during_an_outage_are_refused_and_write_nothing(world, make_user):
    senior = await (await world["person"]("advisor", tier="senior_nurse")).connect()
    await on_duty_always(world["db"], "senior_nurse", [senior.id])
    other_home = await world["db"].fetchval(
        "INSERT INTO organisations (name, kind) VALUES ('Anden hjemmepleje', 'home_care') RETURNING id"
    )
    foreign = await world["db"].fetchval(
        """INSERT INTO patients (reference, organisation_id, name, diagnosis_group)
           VALUES ('F-1', $1, 'Fremmed Person', 'cancer') RETURNING id""",
        other_home,
    )
    stranger = await world["person"]("advisor", tier="senior_nurse")
    await world["outage"]()
    app = world["app"]

    for changes, want in (({"patient_id": foreign}, 404), ({"patient_id": 999_999}, 404),
                          ({"channel": "fax"}, 422), ({"isbar": {}}, 422),
                          ({"urgency": None}, 422)):  # fmt: skip
        status, body = await ask(world, **changes)
        assert status == want, (changes, body)
        assert body["status"] == want and "type" in body  # problem+json
    assert await app[OUTAGE].store.ids() == []
    assert app[OUTAGE].spool.size() == 0

    status, body = await ask(world)
    cid = body["consultation"]["id"]
    await senior.wait_for("consultation.ringing", consultation__id=cid)
    # Someone who was never offered it sees nothing and can do nothing.
    for method, path in (("GET", ""), ("POST", "/accept"), ("POST", "/end"), ("POST", "/cancel")):
        status, body = await stranger.call(method, f"/api/v1/consultations/{cid}{path}")
        assert status == 404, (path, body)
    # Only the nurse who asked may cancel; nobody may accept it but the advisor rung.
    status, body = await senior.call("POST", f"/api/v1/consultations/{cid}/cancel")
    assert status == 403, body
    status, body = await world["nurse"].call("POST", f"/api/v1/consultations/{cid}/accept")
    assert status == 403, body
    status, body = await world["nurse"].call("POST", "/api/v1/consultations/{cid}/accept")
    assert status in (400, 404), body
    held = await app[OUTAGE].store.get(cid)
    assert held is not None and held["machine"]["state"] == "ringing" and held["version"] == 1
    assert await spooled_lines(app) == 1

    status, body = await world["nurse"].call("POST", f"/api/v1/consultations/{cid}/cancel")
    assert status == 200 and body["consultation"]["state"] == "cancelled"
    await senior.wait_for("consultation.withdrawn", consultation_id=cid)
    await world["recovery"]()
    assert await world["db"].fetchval(
        "SELECT count(*) FROM consultations WHERE routed_in_outage"
    ) == 1  # fmt: skip
    assert (await timeline(world["db"], cid))[-1] == "cancelled"


async def test_people_stay_signed_in_through_an_outage_but_a_logout_holds(world):
    senior = await world["person"]("advisor", tier="senior_nurse")
    gone = await world["person"]("advisor", tier="senior_nurse")
    status, _ = await gone.call("POST", "/api/v1/auth/logout")
    assert status == 204
    await world["outage"]()
    status, body = await senior.call("GET", "/api/v1/auth/me")
    assert status == 200 and body["user"]["id"] == senior.id
    status, body = await gone.call("GET", "/api/v1/auth/me")
    assert status == 401, body
    # The advisor can come online during the outage (the socket is welcomed).
    await senior.connect()


async def test_a_waiting_call_rings_an_advisor_who_comes_online_during_the_outage(world):
    senior = await world["person"]("advisor", tier="senior_nurse")
    await on_duty_always(world["db"], "senior_nurse", [senior.id])
    await world["outage"]()
    status, body = await ask(world)
    assert status == 201, body
    cid = body["consultation"]["id"]
    assert body["consultation"]["state"] in ("waking", "queued")
    await senior.connect()
    await senior.wait_for("consultation.ringing", consultation__id=cid)


async def test_an_acknowledged_step_survives_losing_redis_too(world, settings):
    senior = await (await world["person"]("advisor", tier="senior_nurse")).connect()
    await on_duty_always(world["db"], "senior_nurse", [senior.id])
    await world["outage"]()
    status, body = await ask(world)
    cid = body["consultation"]["id"]
    await senior.wait_for("consultation.ringing", consultation__id=cid)
    status, body = await senior.call("POST", f"/api/v1/consultations/{cid}/accept")
    assert status == 200, body
    app = world["app"]
    # Redis restarts and keeps nothing: what the nurse and the advisor were told is on disk.
    redis: Redis = app[REDIS]
    for key in await redis.keys(f"{app[KEYS].prefix}outage:*"):
        await redis.delete(key)
    await world["recovery"]()
    row = await world["db"].fetchrow("SELECT state, participants FROM consultations WHERE id = $1",
                                     cid)  # fmt: skip
    assert row["state"] == "connected" and list(row["participants"]) == [senior.id]
    assert (await timeline(world["db"], cid))[:3] == ["requested", "offered", "accepted"]
    assert app[OUTAGE].spool.size() == 0


async def test_replaying_the_same_outage_twice_changes_nothing(world):
    from advice_line.outage.handback import write_back

    senior = await (await world["person"]("advisor", tier="senior_nurse")).connect()
    await on_duty_always(world["db"], "senior_nurse", [senior.id])
    await world["outage"]()
    _status, body = await ask(world)
    cid = body["consultation"]["id"]
    record = await world["app"][OUTAGE].store.get(cid)
    await world["recovery"]()
    before = await timeline(world["db"], cid)
    async with world["db"].transaction():
        assert not await write_back(world["db"], record)  # older or equal: nothing moves
    assert await timeline(world["db"], cid) == before


@pytest.mark.parametrize("world", [{"ring_seconds": (30.0, 30.0, 30.0)}], indirect=True)
async def test_a_node_without_a_copy_of_the_database_answers_503(world):
    from advice_line.outage.directory import Directory

    await world["outage"]()
    world["app"][OUTAGE].directory = Directory()  # as a node started during the outage
    status, body = await ask(world)
    assert status == 503 and body["status"] == 503, body
    status, ready = await world["nurse"].call("GET", "/readyz")
    assert status == 503 and ready["checks"]["outage_routing"].startswith("unavailable")


@pytest.mark.parametrize(
    "world", [{"ws_resume_grace_seconds": 1.0, "ring_seconds": (30.0, 30.0, 30.0)}], indirect=True
)
async def test_a_nurse_gone_during_an_outage_stops_her_ringing_call(world):
    senior = await (await world["person"]("advisor", tier="senior_nurse")).connect()
    await on_duty_always(world["db"], "senior_nurse", [senior.id])
    await world["nurse"].connect()
    await world["outage"]()
    status, body = await ask(world)
    assert status == 201, body
    cid = body["consultation"]["id"]
    await senior.wait_for("consultation.ringing", consultation__id=cid)
    await world["nurse"].ws.close()  # gone for longer than the grace
    withdrawn = await senior.wait_for("consultation.withdrawn", within=6, consultation_id=cid)
    assert withdrawn["reason"] == "abandoned"
    await world["recovery"]()
    assert await world["db"].fetchval("SELECT state FROM consultations WHERE id = $1", cid) == (
        "abandoned"
    )


async def test_a_spool_is_cut_only_once_everything_in_it_is_in_the_database(world):
    from advice_line.outage.handback import _replay_spools

    senior = await (await world["person"]("advisor", tier="senior_nurse")).connect()
    await on_duty_always(world["db"], "senior_nurse", [senior.id])
    await world["outage"]()
    status, body = await ask(world)
    assert status == 201, body
    router = world["app"][OUTAGE]
    size = router.spool.size()
    await world["gate"].open()
    # Redis still holds the consultation: the spool keeps it until it is handed back.
    assert await _replay_spools(world["app"][OUTAGE_WATCH].pool, router.store, router.spool) == 0
    assert router.spool.size() == size > 0
    await world["recovery"]()
    assert router.spool.size() == 0
    assert await router.store.ids() == []


async def test_closed_calls_of_the_outage_hold_nobody_and_are_not_listed(world):
    senior = await (await world["person"]("advisor", tier="senior_nurse")).connect()
    await on_duty_always(world["db"], "senior_nurse", [senior.id])
    await world["outage"]()
    status, body = await ask(world)
    first = body["consultation"]["id"]
    await senior.wait_for("consultation.ringing", consultation__id=first)
    status, body = await world["nurse"].call("POST", f"/api/v1/consultations/{first}/cancel")
    assert status == 200, body
    status, body = await world["nurse"].call("GET", "/api/v1/consultations")
    assert status == 200 and body["consultations"] == []
    # The senior nurse is free again for the next call.
    status, body = await ask(world)
    second = body["consultation"]["id"]
    await senior.wait_for("consultation.ringing", consultation__id=second)
    router = world["app"][OUTAGE]
    assert [r["id"] for r in await router.store.open()] == [second]
    assert sorted(await router.store.ids()) == [first, second]


async def test_an_offline_advisor_is_woken_by_push_and_coordinators_alerted_in_an_outage(
    world, push_service
):
    senior = await world["person"]("advisor", tier="senior_nurse")  # on duty, no socket open
    phone = Browser(push_service.endpoint("senior-phone"))
    status, _ = await senior.call("POST", "/api/v1/push/subscriptions", json=phone.subscription())
    assert status == 201
    await on_duty_always(world["db"], "senior_nurse", [senior.id])
    coordinator = await (
        await world["person"]("coordinator", organisation_id=world["home"]["id"])
    ).connect()
    await world["outage"]()

    status, body = await ask(world)
    assert status == 201 and body["consultation"]["state"] == "waking", body
    cid = body["consultation"]["id"]
    (push,) = await push_service.wait_for(1)
    message = phone.decrypt(push.body)
    assert message["type"] == "wake" and message["consultation_id"] == cid
    # The coordinators are told on their live board: the tier is asleep, and (nobody else on
    # duty) the next tiers are skipped.
    kinds: list[tuple[str, str]] = []
    for _ in range(250):  # the deadline loop: up to 5 s
        alerts = coordinator.got("coordinator.alert", consultation_id=cid)
        kinds = [(a["kind"], a["tier"]) for a in alerts]
        if any(kind == "tier_skipped" for kind, _ in kinds):
            break
        await asyncio.sleep(0.02)
    assert kinds[0] == ("tier_asleep", "senior_nurse"), kinds
    assert any(kind == "tier_skipped" for kind, _ in kinds), kinds


async def test_a_logout_during_an_outage_holds_and_is_recorded_when_the_database_is_back(world):
    senior = await world["person"]("advisor", tier="senior_nurse")
    await world["outage"]()
    status, _ = await senior.call("POST", "/api/v1/auth/logout")
    assert status == 204
    status, _ = await senior.call("GET", "/api/v1/auth/me")
    assert status == 401  # ended at once, on every node (the session cache)
    await world["recovery"]()
    db = world["db"]
    assert await db.fetchval(
        "SELECT count(*) FROM sessions WHERE user_id = $1 AND revoked_at IS NULL", senior.id
    ) == 0  # fmt: skip
    assert await db.fetchval(
        "SELECT reason FROM audit_log WHERE action = 'auth.logout' AND actor_id = $1", senior.id
    ) == "logout (during a database outage)"  # fmt: skip
    status, _ = await senior.call("GET", "/api/v1/auth/me")
    assert status == 401


async def test_spools_of_several_nodes_are_merged_and_an_orphan_is_replayed_then_deleted(world):
    senior = await (await world["person"]("advisor", tier="senior_nurse")).connect()
    await on_duty_always(world["db"], "senior_nurse", [senior.id])
    await world["outage"]()
    status, body = await ask(world)
    cid = body["consultation"]["id"]
    await senior.wait_for("consultation.ringing", consultation__id=cid)
    status, body = await senior.call("POST", f"/api/v1/consultations/{cid}/accept")
    assert status == 200, body
    app = world["app"]
    spool = app[OUTAGE].spool
    first, _ = spool.path.read_bytes().splitlines(keepends=True)
    # A node that died holding only the request; Redis then lost everything.
    orphan = spool.directory / "gone-node.spool"
    orphan.write_bytes(first)
    redis: Redis = app[REDIS]
    for key in await redis.keys(f"{app[KEYS].prefix}outage:*"):
        await redis.delete(key)
    await world["recovery"]()
    row = await world["db"].fetchrow("SELECT state, version FROM consultations WHERE id = $1", cid)
    assert row["state"] == "connected"  # the newest of the two histories, whichever came first
    assert (await timeline(world["db"], cid))[:3] == ["requested", "offered", "accepted"]
    assert not orphan.exists() and spool.size() == 0


async def test_a_write_back_never_overlays_a_row_the_database_has_moved_on(world):
    from advice_line.outage.handback import write_back

    senior = await (await world["person"]("advisor", tier="senior_nurse")).connect()
    await on_duty_always(world["db"], "senior_nurse", [senior.id])
    await world["outage"]()
    status, body = await ask(world)
    cid = body["consultation"]["id"]
    await senior.wait_for("consultation.ringing", consultation__id=cid)
    status, body = await senior.call("POST", f"/api/v1/consultations/{cid}/accept")
    record = await world["app"][OUTAGE].store.get(cid)
    await world["recovery"]()
    status, body = await senior.call("POST", f"/api/v1/consultations/{cid}/end")
    assert status == 200, body
    before = await timeline(world["db"], cid)
    newer_looking = {**record, "version": record["version"] + 5}  # another node's history
    async with world["db"].transaction():
        assert not await write_back(world["db"], newer_looking)
    assert await world["db"].fetchval("SELECT state FROM consultations WHERE id = $1", cid) == (
        "wrap_up"
    )
    assert await timeline(world["db"], cid) == before
