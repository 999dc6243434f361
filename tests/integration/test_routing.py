"""Routing end to end on a real server: rings, first accept wins, timeouts, skips, queue, escalation."""

from __future__ import annotations

import asyncio

import pytest

from advice_line import audit, consultations
from advice_line.app import create_app
from advice_line.appkeys import PRESENCE, ROUTING, SENDERS
from advice_line.notify import RecordingSender
from escalation import new_consultation
from escalation.model import Channel, Start, StartTimer, Urgency
from tests.integration.routing_helpers import Person, on_duty_always

ISBAR = {"situation": "Uro og smerter", "background": "KOL", "assessment": "TOBS 5",
         "request": "Råd om medicin"}  # fmt: skip


@pytest.fixture
async def world(request, aiohttp_server, settings, make_user, make_org, db):
    """A server with fast ring timers, a nurse with a DNR patient, and advisors per tier
    (a test may change settings with ``@pytest.mark.parametrize("world", [{...}], indirect=True)``)."""
    changes = {"ring_seconds": (1.0, 1.0, 1.0), "wake_grace_seconds": 0.5, "retry_seconds": 0.5}
    changes.update(getattr(request, "param", {}))
    fast = settings.replace(**changes)
    app = create_app(fast)
    alerts, wakes = RecordingSender(), RecordingSender()
    server = await aiohttp_server(app)
    app[SENDERS].register("alert", alerts)
    app[SENDERS].register("wake", wakes)
    home = await make_org(kind="home_care")
    nurse_user = await make_user("nurse", organisation_id=home["id"])
    patient = await db.fetchrow(
        """INSERT INTO patients (reference, organisation_id, name, diagnosis_group, dnr, dnr_decided_by)
           VALUES ('R-1', $1, 'Karl Fiktivsen', 'non_cancer', true, 'Dr. Demosen') RETURNING id""",
        home["id"],
    )
    people: list[Person] = []

    async def person(role: str, **kwargs) -> Person:
        user = await make_user(role, **kwargs)
        p = await Person(str(server.make_url("/")), user).login()
        people.append(p)
        return p

    nurse = await Person(str(server.make_url("/")), nurse_user).login()
    people.append(nurse)
    yield {"app": app, "nurse": nurse, "patient_id": patient["id"], "person": person,
           "alerts": alerts, "wakes": wakes, "db": db}  # fmt: skip
    for p in people:
        await p.close()


async def eventually(condition, within: float = 3.0) -> None:
    """Notices are sent in the background: wait (with a deadline) until ``condition`` holds."""
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def ask(world, urgency="urgent") -> dict:
    status, body = await world["nurse"].call("POST", "/api/v1/consultations", json={
        "patient_id": world["patient_id"], "channel": "video", "urgency": urgency, "isbar": ISBAR})  # fmt: skip
    assert status == 201, body
    return body["consultation"]


async def timeline_types(db, consultation_id) -> list[str]:
    rows = await db.fetch("SELECT type FROM consultation_events WHERE consultation_id = $1 ORDER BY id",
                          consultation_id)  # fmt: skip
    return [r["type"] for r in rows]


async def test_a_call_rings_the_senior_nurse_with_isbar_and_dnr(world):
    senior = await (await world["person"]("advisor", tier="senior_nurse")).connect()
    await on_duty_always(world["db"], "senior_nurse", [senior.id])
    consultation = await ask(world)
    assert consultation["state"] == "ringing" and consultation["tier"] == "senior_nurse"
    ring = await senior.wait_for("consultation.ringing")
    assert ring["consultation"]["id"] == consultation["id"]
    assert ring["isbar"]["situation"] == "Uro og smerter"
    assert ring["care_plan"]["dnr"] is True and ring["care_plan"]["name"] == "Karl Fiktivsen"
    status, body = await senior.call("POST", f"/api/v1/consultations/{consultation['id']}/accept")
    assert status == 200 and body["consultation"]["state"] == "connected"
    assert body["consultation"]["participants"] == [senior.id]
    await world["nurse"].connect()
    read = await world["nurse"].call("GET", f"/api/v1/consultations/{consultation['id']}")
    types = [e["type"] for e in read[1]["consultation"]["timeline"]]
    assert types[:3] == ["requested", "offered", "accepted"] or "accepted" in types


async def test_reading_a_consultation_audits_its_care_plan_read_for_the_reader(world):
    senior = await (await world["person"]("advisor", tier="senior_nurse")).connect()
    await on_duty_always(world["db"], "senior_nurse", [senior.id])
    consultation = await ask(world)
    await senior.wait_for("consultation.ringing")
    before = await world["db"].fetchval("SELECT max(id) FROM audit_log")
    status, body = await senior.call("GET", f"/api/v1/consultations/{consultation['id']}")
    assert status == 200 and body["consultation"]["care_plan"]["dnr"] is True
    rows = await world["db"].fetch("SELECT * FROM audit_log WHERE id > $1", before)
    assert [(r["action"], r["actor_id"], r["patient_id"]) for r in rows] == [
        ("patient.read", senior.id, world["patient_id"])
    ]
    assert rows[0]["reason"] == f"consultation {consultation['id']}"
    assert rows[0]["ip"] and rows[0]["request_id"] and rows[0]["actor_username"]
    # Someone who may not see it reads nothing and leaves no read behind.
    stranger = await world["person"]("advisor", tier="gp")
    status, _ = await stranger.call("GET", f"/api/v1/consultations/{consultation['id']}")
    assert status == 404
    reads = "SELECT count(*) FROM audit_log WHERE id > $1 AND action = 'patient.read'"
    assert await world["db"].fetchval(reads, before) == 1


async def test_first_accept_wins_and_the_other_ring_is_withdrawn(world):
    first = await (await world["person"]("advisor", tier="senior_nurse")).connect()
    second = await (await world["person"]("advisor", tier="senior_nurse")).connect()
    await on_duty_always(world["db"], "senior_nurse", [first.id, second.id])
    consultation = await ask(world)
    await first.wait_for("consultation.ringing")
    await second.wait_for("consultation.ringing")
    results = await asyncio.gather(
        first.call("POST", f"/api/v1/consultations/{consultation['id']}/accept"),
        second.call("POST", f"/api/v1/consultations/{consultation['id']}/accept"),
    )
    statuses = sorted(status for status, _ in results)
    assert statuses == [200, 409]
    loser = second if results[0][0] == 200 else first
    withdrawn = await loser.wait_for("consultation.withdrawn", consultation_id=consultation["id"])
    assert withdrawn["reason"] == "answered_elsewhere"
    again = await loser.call("POST", f"/api/v1/consultations/{consultation['id']}/accept")
    assert again[0] == 409


async def test_calls_asked_for_at_once_never_ring_one_advisor_twice(world):
    # Each step reads who is free without a lock; the routing lock and the check under it
    # (one round trip) keep two concurrent steps from ringing the same advisor.
    seniors = [await (await world["person"]("advisor", tier="senior_nurse")).connect()
               for _ in range(2)]  # fmt: skip
    gp = await (await world["person"]("advisor", tier="gp")).connect()
    await on_duty_always(world["db"], "senior_nurse", [p.id for p in seniors])
    await on_duty_always(world["db"], "gp", [gp.id])
    asked = await asyncio.gather(*(ask(world) for _ in range(8)))
    states = sorted(c["state"] for c in asked)
    assert states.count("ringing") == 2 and states.count("queued") == 6, states
    rows = await world["db"].fetch(
        "SELECT id, offered FROM consultations WHERE state = 'ringing' ORDER BY id"
    )
    offered = [set(r["offered"]) for r in rows]
    assert sorted(map(sorted, offered)) == sorted([sorted(p.id for p in seniors), [gp.id]])
    assert not offered[0] & offered[1]


async def test_many_simultaneous_accepts_connect_exactly_one_advisor(world):
    # Accepts are stored without a transaction when nothing else needs one; the version check
    # must still let exactly one of them through, with one "accepted" in the timeline.
    seniors = [await (await world["person"]("advisor", tier="senior_nurse")).connect()
               for _ in range(8)]  # fmt: skip
    await on_duty_always(world["db"], "senior_nurse", [s.id for s in seniors])
    consultation = await ask(world)
    for senior in seniors:
        await senior.wait_for("consultation.ringing", consultation__id=consultation["id"])
    results = await asyncio.gather(*(
        s.call("POST", f"/api/v1/consultations/{consultation['id']}/accept") for s in seniors
    ))  # fmt: skip
    assert sorted(status for status, _ in results) == [200] + [409] * 7
    winner = next(s for s, (status, _) in zip(seniors, results, strict=True) if status == 200)
    _, body = await world["nurse"].call("GET", f"/api/v1/consultations/{consultation['id']}")
    assert body["consultation"]["state"] == "connected"
    assert body["consultation"]["participants"] == [winner.id]
    types = await timeline_types(world["db"], consultation["id"])
    assert types.count("accepted") == 1 and types.count("joined") <= 1


async def test_an_empty_tier_is_skipped_at_once_and_coordinators_alerted(world):
    gp = await (await world["person"]("advisor", tier="gp")).connect()
    await on_duty_always(world["db"], "gp", [gp.id])
    consultation = await ask(world)  # nobody on duty as senior nurse
    assert consultation["tier"] == "gp"
    await gp.wait_for("consultation.ringing")
    types = await timeline_types(world["db"], consultation["id"])
    assert types[:3] == ["requested", "tier_skipped", "offered"]
    await eventually(lambda: any(n.data["kind"] == "tier_skipped" for n in world["alerts"].notices))


async def test_no_answer_escalates_to_the_next_tier_on_time(world):
    senior = await (await world["person"]("advisor", tier="senior_nurse")).connect()
    gp = await (await world["person"]("advisor", tier="gp")).connect()
    await on_duty_always(world["db"], "senior_nurse", [senior.id])
    await on_duty_always(world["db"], "gp", [gp.id])
    consultation = await ask(world)
    await senior.wait_for("consultation.ringing")
    await gp.wait_for("consultation.ringing", within=5)
    await senior.wait_for("consultation.withdrawn", consultation_id=consultation["id"])
    types = await timeline_types(world["db"], consultation["id"])
    assert "timed_out" in types


async def test_declining_moves_on(world):
    senior = await (await world["person"]("advisor", tier="senior_nurse")).connect()
    gp = await (await world["person"]("advisor", tier="gp")).connect()
    await on_duty_always(world["db"], "senior_nurse", [senior.id])
    await on_duty_always(world["db"], "gp", [gp.id])
    consultation = await ask(world)
    await senior.wait_for("consultation.ringing")
    status, body = await senior.call("POST", f"/api/v1/consultations/{consultation['id']}/decline")
    assert status == 200 and body["consultation"]["tier"] == "gp"
    await gp.wait_for("consultation.ringing")


async def test_an_asleep_tier_is_woken_then_skipped(world):
    senior = await world["person"]("advisor", tier="senior_nurse")  # on duty, not connected
    gp = await (await world["person"]("advisor", tier="gp")).connect()
    await on_duty_always(world["db"], "senior_nurse", [senior.id])
    await on_duty_always(world["db"], "gp", [gp.id])
    consultation = await ask(world)
    assert consultation["state"] == "waking"
    await eventually(lambda: [n.user_id for n in world["wakes"].notices] == [senior.id])
    await gp.wait_for("consultation.ringing", within=5)


@pytest.mark.parametrize("world", [{"wake_grace_seconds": 60.0}], indirect=True)
async def test_a_woken_advisor_who_came_online_during_the_step_is_rung_at_once(world):
    """The race: her own connect looked for waiting calls just before the step that woke
    her was committed. After delivering a wake, the engine looks again at who is online."""
    senior = await world["person"]("advisor", tier="senior_nurse")
    await on_duty_always(world["db"], "senior_nurse", [senior.id])
    app = world["app"]
    engine = app[ROUTING]
    real_wake_check = engine._recheck_woken
    came_online: list[int] = []

    def online_meanwhile(advisors: list[int]) -> None:
        # She connects now: online in presence, but her connect's search is already over.
        came_online.extend(advisors)
        now_ms = int(engine.clock().timestamp() * 1000)
        task = asyncio.create_task(app[PRESENCE].refresh([(senior.id, 4242)], now_ms))
        task.add_done_callback(lambda _t: real_wake_check(advisors))

    engine._recheck_woken = online_meanwhile  # type: ignore[method-assign]
    consultation = await ask(world)
    assert came_online == [senior.id]  # the step woke her (she was offline when it decided)

    async def state() -> tuple[str, list[int]]:
        row = await world["db"].fetchrow("SELECT state, offered FROM consultations WHERE id = $1",
                                         consultation["id"])  # fmt: skip
        return row["state"], list(row["offered"])

    deadline = asyncio.get_running_loop().time() + 5
    while await state() != ("ringing", [senior.id]):
        assert asyncio.get_running_loop().time() < deadline, await state()
        await asyncio.sleep(0.05)


async def test_all_tiers_exhausted_queues_and_an_advisor_coming_online_gets_it(world):
    await world["nurse"].connect()
    coordinator = await (await world["person"]("coordinator")).connect()
    consultation = await ask(world)  # nobody on duty anywhere
    assert consultation["state"] == "queued"
    assert consultation["queue_position"] == 1
    assert consultation["fallback"]["phone"] == "1813"
    told = await world["nurse"].wait_for("consultation.status", status="fallback")
    assert "lægevagten" in told["instructions"]["da"]
    await eventually(
        lambda: any(
            m["kind"] == "all_tiers_exhausted" for m in coordinator.got("coordinator.alert")
        )
    )
    assert all("at" in m and m["tier"] for m in coordinator.got("coordinator.alert"))
    await eventually(
        lambda: any(n.data["kind"] == "all_tiers_exhausted" for n in world["alerts"].notices)
    )
    senior = await world["person"]("advisor", tier="senior_nurse")
    await on_duty_always(world["db"], "senior_nurse", [senior.id])
    await senior.connect()
    await senior.wait_for("consultation.ringing", within=5)
    status, body = await senior.call("POST", f"/api/v1/consultations/{consultation['id']}/accept")
    assert status == 200 and body["consultation"]["state"] == "connected"


async def test_escalation_mid_call_brings_the_gp_into_the_same_call(world):
    senior = await (await world["person"]("advisor", tier="senior_nurse")).connect()
    gp = await (await world["person"]("advisor", tier="gp")).connect()
    await on_duty_always(world["db"], "senior_nurse", [senior.id])
    await on_duty_always(world["db"], "gp", [gp.id])
    consultation = await ask(world)
    cid = consultation["id"]
    await senior.wait_for("consultation.ringing")
    assert (await senior.call("POST", f"/api/v1/consultations/{cid}/accept"))[0] == 200
    status, body = await senior.call(
        "POST", f"/api/v1/consultations/{cid}/escalate", json={"note": "Behov for læge"}
    )
    assert status == 200 and body["consultation"]["state"] == "escalating"
    ring = await gp.wait_for("consultation.ringing")
    assert ring["isbar"]["request"] == "Råd om medicin"
    assert ring["escalation_note"] == "Behov for læge"
    assert ring["nurse"]["name"] == world["nurse"].user["display_name"]
    assert [p["id"] for p in ring["people"]] == [senior.id]
    status, body = await gp.call("POST", f"/api/v1/consultations/{cid}/accept")
    assert status == 200 and body["consultation"]["participants"] == [senior.id, gp.id]
    status, body = await senior.call("POST", f"/api/v1/consultations/{cid}/leave")
    assert status == 200 and body["consultation"]["participants"] == [gp.id]
    status, body = await gp.call("POST", f"/api/v1/consultations/{cid}/end")
    assert body["consultation"]["state"] == "wrap_up"
    status, body = await gp.call("POST", f"/api/v1/consultations/{cid}/wrap-up-done")
    assert body["consultation"]["state"] == "ended"
    types = await timeline_types(world["db"], cid)
    for expected in ("requested", "offered", "accepted", "escalated", "joined", "left", "ended"):
        assert expected in types


async def test_the_nurse_cancels_and_the_rings_stop(world):
    senior = await (await world["person"]("advisor", tier="senior_nurse")).connect()
    await on_duty_always(world["db"], "senior_nurse", [senior.id])
    consultation = await ask(world)
    await senior.wait_for("consultation.ringing")
    status, body = await world["nurse"].call(
        "POST", f"/api/v1/consultations/{consultation['id']}/cancel"
    )
    assert status == 200 and body["consultation"]["state"] == "cancelled"
    await senior.wait_for("consultation.withdrawn", consultation_id=consultation["id"])
    assert (await senior.call("POST", f"/api/v1/consultations/{consultation['id']}/accept"))[
        0
    ] == 409


async def test_only_the_asking_nurse_may_cancel_and_strangers_see_nothing(world):
    senior = await (await world["person"]("advisor", tier="senior_nurse")).connect()
    await on_duty_always(world["db"], "senior_nurse", [senior.id])
    consultation = await ask(world)
    other_nurse = await world["person"]("nurse")
    stranger = await world["person"]("advisor", tier="gp")
    cid = consultation["id"]
    assert (await other_nurse.call("GET", f"/api/v1/consultations/{cid}"))[0] == 404
    assert (await other_nurse.call("POST", f"/api/v1/consultations/{cid}/cancel"))[0] == 404
    assert (await stranger.call("POST", f"/api/v1/consultations/{cid}/accept"))[0] == 404
    assert (await senior.call("POST", f"/api/v1/consultations/{cid}/cancel"))[0] == 403
    status, _ = await senior.call(
        "POST", f"/api/v1/consultations/{cid}/escalate", json={"note": "x"}
    )
    assert status in (403, 409)
    assert (await world["nurse"].call("POST", f"/api/v1/consultations/{cid}/accept"))[0] == 403


async def test_an_away_advisor_is_not_rung(world):
    senior = await (await world["person"]("advisor", tier="senior_nurse")).connect()
    await on_duty_always(world["db"], "senior_nurse", [senior.id])
    assert (await senior.call("PUT", "/api/v1/presence", json={"status": "away"}))[0] == 200
    consultation = await ask(world)
    assert consultation["state"] == "queued"
    assert not senior.got("consultation.ringing")
    assert (await senior.call("PUT", "/api/v1/presence", json={"status": "available"}))[0] == 200
    await senior.wait_for("consultation.ringing")


async def test_a_patient_of_another_organisation_cannot_be_asked_about(world, make_user):
    other = await world["person"]("nurse")
    status, _ = await other.call("POST", "/api/v1/consultations", json={
        "patient_id": world["patient_id"], "channel": "audio", "urgency": "acute", "isbar": ISBAR})  # fmt: skip
    assert status == 404
    assert await world["db"].fetchval("SELECT count(*) FROM consultations") == 0


async def test_timers_survive_a_restart_of_the_engine(world, aiohttp_server, settings):
    senior = await (await world["person"]("advisor", tier="senior_nurse")).connect()
    gp = await (await world["person"]("advisor", tier="gp")).connect()
    await on_duty_always(world["db"], "senior_nurse", [senior.id])
    await on_duty_always(world["db"], "gp", [gp.id])
    engine = world["app"][ROUTING]
    consultation = await ask(world)
    await senior.wait_for("consultation.ringing")
    due = await world["db"].fetchrow("SELECT * FROM consultation_timers WHERE consultation_id = $1",
                                     consultation["id"])  # fmt: skip
    assert due["kind"] == "ring"
    # The ring timer is a row: whichever engine polls after it is due fires it exactly once.
    await asyncio.sleep(1.2)
    fired = await engine.fire_due_timers()
    assert fired in (0, 1)
    await gp.wait_for("consultation.ringing", within=5)
    types = await timeline_types(world["db"], consultation["id"])
    assert types.count("timed_out") == 1


async def test_an_advisor_coming_online_is_offered_the_head_of_the_queue(world):
    routine = await ask(world, urgency="routine")
    acute = await ask(world, urgency="acute")
    assert routine["state"] == acute["state"] == "queued"
    _, body = await world["nurse"].call("GET", f"/api/v1/consultations/{routine['id']}")
    assert body["consultation"]["queue_position"] == 2, "acute goes first"
    senior = await world["person"]("advisor", tier="senior_nurse")
    await on_duty_always(world["db"], "senior_nurse", [senior.id])
    await senior.connect()
    ring = await senior.wait_for("consultation.ringing")
    assert ring["consultation"]["id"] == acute["id"]
    assert not senior.got("consultation.ringing", consultation__id=routine["id"])


async def test_an_advisor_sees_their_own_presence_duty_and_state(world):
    senior = await world["person"]("advisor", tier="senior_nurse")
    status, body = await senior.call("GET", "/api/v1/presence")
    assert status == 200
    assert body["status"] == "offline" and body["on_duty"] is False and body["next_shift"] is None
    await on_duty_always(world["db"], "senior_nurse", [senior.id])
    await senior.connect()
    body = (await senior.call("GET", "/api/v1/presence"))[1]
    assert body["status"] == "available" and body["on_duty"] is True and body["online"] is True
    consultation = await ask(world)
    await senior.wait_for("consultation.ringing")
    assert (await senior.call("GET", "/api/v1/presence"))[1]["status"] == "ringing"
    await senior.call("POST", f"/api/v1/consultations/{consultation['id']}/accept")
    assert (await senior.call("GET", "/api/v1/presence"))[1]["status"] == "in_call"
    await senior.call("POST", f"/api/v1/consultations/{consultation['id']}/end")
    assert (await senior.call("GET", "/api/v1/presence"))[1]["status"] == "wrap_up"
    await senior.call("POST", f"/api/v1/consultations/{consultation['id']}/wrap-up-done")
    await senior.call("PUT", "/api/v1/presence", json={"status": "away"})
    assert (await senior.call("GET", "/api/v1/presence"))[1]["status"] == "away"
    assert (await world["nurse"].call("GET", "/api/v1/presence"))[0] == 403


@pytest.mark.parametrize("world", [{"retry_seconds": 120.0}], indirect=True)
async def test_a_waiting_call_rings_the_advisor_the_moment_they_are_free(world):
    senior = await (await world["person"]("advisor", tier="senior_nurse")).connect()
    await on_duty_always(world["db"], "senior_nurse", [senior.id])
    first = await ask(world)
    await senior.wait_for("consultation.ringing", consultation__id=first["id"])
    await senior.call("POST", f"/api/v1/consultations/{first['id']}/accept")
    second = await ask(world)
    assert second["state"] == "queued", "the only advisor is busy"
    await senior.call("POST", f"/api/v1/consultations/{first['id']}/end")
    await senior.call("POST", f"/api/v1/consultations/{first['id']}/wrap-up-done")
    # Not the two-minute retry: the advisor is offered the waiting call as soon as they are free.
    await senior.wait_for("consultation.ringing", within=3, consultation__id=second["id"])


@pytest.mark.parametrize("world", [{"retry_seconds": 120.0}], indirect=True)
async def test_advisors_freed_together_ring_for_the_head_of_the_queue_only(world):
    seniors = [await (await world["person"]("advisor", tier="senior_nurse")).connect()
               for _ in range(3)]  # fmt: skip
    await on_duty_always(world["db"], "senior_nurse", [s.id for s in seniors])
    first = await ask(world)
    for senior in seniors:
        await senior.wait_for("consultation.ringing", consultation__id=first["id"])
    waiting = [await ask(world, urgency=u) for u in ("routine", "acute", "urgent")]
    assert [w["state"] for w in waiting] == ["queued"] * 3, "a ring-all call holds the tier"
    await seniors[0].call("POST", f"/api/v1/consultations/{first['id']}/accept")
    # The two others are freed by the withdrawal, together: the acute call rings them both
    # (ring-all), and nobody is offered the other two meanwhile.
    for senior in seniors[1:]:
        ring = await senior.wait_for(
            "consultation.ringing", within=3, consultation__id=waiting[1]["id"]
        )
        assert ring["consultation"]["urgency"] == "acute"
    await asyncio.sleep(0.5)
    for other in (waiting[0], waiting[2]):
        _, body = await world["nurse"].call("GET", f"/api/v1/consultations/{other['id']}")
        assert body["consultation"]["state"] == "queued" and not body["consultation"]["offered"]


async def test_simultaneous_calls_never_ring_one_advisor_twice(world):
    senior = await (await world["person"]("advisor", tier="senior_nurse")).connect()
    await on_duty_always(world["db"], "senior_nurse", [senior.id])
    calls = await asyncio.gather(*(ask(world) for _ in range(4)))
    rung = [c for c in calls if senior.id in c["offered"]]
    assert len(rung) == 1, [c["state"] for c in calls]
    assert sorted(c["state"] for c in calls) == ["queued", "queued", "queued", "ringing"]


@pytest.mark.parametrize("world", [{"wake_grace_seconds": 60.0}], indirect=True)
async def test_a_woken_advisor_is_rung_the_moment_they_come_online(world):
    senior = await world["person"]("advisor", tier="senior_nurse")  # on duty, asleep
    await on_duty_always(world["db"], "senior_nurse", [senior.id])
    consultation = await ask(world)
    assert consultation["state"] == "waking"
    await senior.connect()  # woken by the push, opens the console: not after the minute's grace
    ring = await senior.wait_for("consultation.ringing", within=3)
    assert ring["consultation"]["id"] == consultation["id"]


async def test_a_step_that_is_rolled_back_leaves_no_timer_planned(world):
    # A step's timers are planned only once its transaction has committed: a rolled-back
    # step must not leave a planned try standing in the place of the row still there.
    senior = await (await world["person"]("advisor", tier="senior_nurse")).connect()
    await on_duty_always(world["db"], "senior_nurse", [senior.id])
    engine = world["app"][ROUTING]
    nurse = world["nurse"]
    org = await world["db"].fetchval(
        "SELECT organisation_id FROM patients WHERE id = $1", world["patient_id"]
    )
    planned = len(engine.timers)

    async def step_then_fail() -> None:
        async with engine.pool.acquire() as conn, conn.transaction():
            found = await consultations.new_id_for(conn, world["patient_id"], org)
            machine = new_consultation(found, nurse.id, world["patient_id"], Urgency.URGENT,
                                       Channel.VIDEO, engine.clock())  # fmt: skip
            await consultations.insert(conn, machine, org, {"situation": "x"})
            outcome = await engine.step(conn, machine, Start(), audit.SYSTEM)
            assert any(isinstance(a, StartTimer) for a in outcome.actions)
            raise RuntimeError("the commit fails")

    with pytest.raises(RuntimeError):
        await step_then_fail()
    assert len(engine.timers) == planned
    assert await world["db"].fetchval("SELECT count(*) FROM consultation_timers") == 0
    # The same step committed (a request) plans its ring timer.
    await ask(world)
    assert len(engine.timers) == planned + 1
