"""The coordinators' live board: GET /api/v1/board on a real server (PostgreSQL, Redis), and
the rota part of the snapshot (who is on duty until when, gaps, handoffs) from the core."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from advice_line import board
from advice_line.app import create_app
from advice_line.appkeys import PRESENCE
from advice_line.sessions import SessionUser
from rota.model import Layer, Rota, Unit, Window
from tests.integration.call_helpers import ISBAR, ask, make_patient
from tests.integration.routing_helpers import Person, on_duty_always

PATIENT_NAME = "Inger Fiktivsen"  # what make_patient calls every patient
NOTE = "Fortroligt: morfin virker ikke, overvej midazolam"


@pytest.fixture
async def line(aiohttp_server, settings, make_user, make_org, db):
    """A server whose rings last long enough to be seen, a nurse with a patient, and a way
    to sign more people in."""
    app = create_app(settings.replace(ring_seconds=(60.0, 60.0, 60.0), retry_seconds=60.0))
    server = await aiohttp_server(app)
    home = await make_org(name="Hjemmeplejen Nord", kind="home_care")
    people: list[Person] = []

    async def person(role: str, **kwargs: Any) -> Person:
        user = await make_user(role, **kwargs)
        signed_in = await Person(str(server.make_url("/")), user).login()
        people.append(signed_in)
        return signed_in

    nurse = await person("nurse", organisation_id=home["id"])
    patient_id = await make_patient(db, home["id"], "R-77")
    yield {"app": app, "server": server, "nurse": nurse, "patient_id": patient_id,
           "person": person, "home": home, "db": db}  # fmt: skip
    for p in people:
        await p.close()


def tier(snapshot: dict[str, Any], number: int) -> dict[str, Any]:
    found = [t for t in snapshot["tiers"] if t["tier"] == number]
    assert len(found) == 1
    return found[0]


def card(snapshot: dict[str, Any], consultation_id: int) -> tuple[int, str, dict[str, Any]]:
    """(tier, "waiting" or "in_progress", the card) of a consultation on the board."""
    found = [(t["tier"], part, c) for t in snapshot["tiers"] for part in ("waiting", "in_progress")
             for c in t[part] if c["id"] == consultation_id]  # fmt: skip
    assert len(found) == 1, found
    return found[0]


def people(snapshot: dict[str, Any], number: int) -> dict[int, str]:
    return {p["id"]: p["status"] for p in tier(snapshot, number)["on_duty"]}


async def read_board(person: Person) -> dict[str, Any]:
    status, body = await person.call("GET", "/api/v1/board")
    assert status == 200, body
    return body


async def test_the_board_shows_calls_duty_and_alerts_per_tier(line):
    nurse, db = line["nurse"], line["db"]
    coordinator = await line["person"]("coordinator", organisation_id=line["home"]["id"])

    # Nobody on duty anywhere: every tier is skipped and the call queued (then cancelled).
    skipped = await ask(nurse, line["patient_id"])
    status, _ = await nurse.call("POST", f"/api/v1/consultations/{skipped}/cancel")
    assert status == 200

    senior1 = await (await line["person"]("advisor", tier="senior_nurse")).connect()
    senior2 = await (await line["person"]("advisor", tier="senior_nurse")).connect()
    asleep = await line["person"]("advisor", tier="senior_nurse")  # on duty, never connected
    gp = await (await line["person"]("advisor", tier="gp")).connect()
    off_duty = await (await line["person"]("advisor", tier="senior_nurse")).connect()
    await on_duty_always(db, "senior_nurse", [senior1.id, senior2.id, asleep.id])
    await on_duty_always(db, "gp", [gp.id])

    # A call rings both online senior nurses; the first takes it.
    first = await ask(nurse, line["patient_id"])
    await senior1.wait_for("consultation.ringing", consultation__id=first)
    snapshot = await read_board(coordinator)
    number, part, ringing = card(snapshot, first)
    assert (number, part, ringing["state"]) == (1, "waiting", "ringing")
    assert {p["id"] for p in ringing["offered"]} == {senior1.id, senior2.id}
    assert {p["name"] for p in ringing["offered"]} == {senior1.user["display_name"]}
    assert ringing["urgency"] == "urgent" and ringing["channel"] == "video"
    assert ringing["organisation"] == "Hjemmeplejen Nord"
    assert ringing["patient_reference"] == "R-77"  # the coordinator's own organisation
    assert ringing["seconds"] >= 0 and ringing["participants"] == []
    assert people(snapshot, 1) == {
        senior1.id: "ringing",
        senior2.id: "ringing",
        asleep.id: "offline",
    }
    assert off_duty.id not in people(snapshot, 1)  # available, but not on duty: not routable
    assert tier(snapshot, 1)["counts"] == {"waiting": 1, "in_progress": 0, "on_duty": 3,
                                           "available": 0}  # fmt: skip

    status, _ = await senior1.call("POST", f"/api/v1/consultations/{first}/accept")
    assert status == 200
    snapshot = await read_board(coordinator)
    number, part, connected = card(snapshot, first)
    assert (number, part, connected["state"]) == (1, "in_progress", "connected")
    assert [p["id"] for p in connected["participants"]] == [senior1.id]
    assert connected["participants"][0]["name"] == senior1.user["display_name"]
    assert people(snapshot, 1) == {senior1.id: "in_call", senior2.id: "available",
                                   asleep.id: "offline"}  # fmt: skip

    # A second call rings the free senior nurse; the first call is escalated to the GP.
    second = await ask(nurse, line["patient_id"])
    await senior2.wait_for("consultation.ringing", consultation__id=second)
    status, _ = await senior1.call("POST", f"/api/v1/consultations/{first}/escalate",
                                   json={"note": NOTE})  # fmt: skip
    assert status == 200
    await gp.wait_for("consultation.ringing", consultation__id=first)
    snapshot = await read_board(coordinator)
    number, part, again = card(snapshot, second)
    assert (number, part, again["state"]) == (1, "waiting", "ringing")
    assert [p["id"] for p in again["offered"]] == [senior2.id]
    number, part, escalated = card(snapshot, first)
    assert (number, part, escalated["state"]) == (2, "in_progress", "escalating")
    assert [p["id"] for p in escalated["participants"]] == [senior1.id]
    assert [p["id"] for p in escalated["offered"]] == [gp.id]
    assert escalated["escalation"]["from_tier"] == 1
    assert escalated["escalation"]["by"] == {"id": senior1.id, "name": senior1.user["display_name"]}
    assert people(snapshot, 2) == {gp.id: "ringing"}
    assert tier(snapshot, 3)["on_duty"] == [] and tier(snapshot, 3)["waiting"] == []

    # The skipped tiers and the queue are alerts, newest first.
    alerts = [a for a in snapshot["alerts"] if a["consultation_id"] == skipped]
    assert [(a["type"], a["tier"], a["reason"]) for a in alerts] == [
        ("queued", None, None),
        ("tier_skipped", 3, "nobody_on_duty"),
        ("tier_skipped", 2, "nobody_on_duty"),
        ("tier_skipped", 1, "nobody_on_duty"),
    ]
    assert alerts[0]["tiers"] == [1, 2, 3]
    assert [a["at"] for a in snapshot["alerts"]] == sorted(
        (a["at"] for a in snapshot["alerts"]), reverse=True
    )
    assert all(a["consultation_id"] in (skipped, first, second) for a in snapshot["alerts"])

    # No patient name, no clinical free text (ISBAR, the escalation note) anywhere.
    text = json.dumps(snapshot, ensure_ascii=False)
    assert PATIENT_NAME not in text
    assert NOTE not in text and "note" not in escalated["escalation"]
    for value in ISBAR.values():
        assert value not in text

    # Another organisation's coordinator, and an admin, see the calls without the reference.
    other = await line["person"]("coordinator")
    admin = await line["person"]("admin")
    for reader in (other, admin):
        seen = await read_board(reader)
        assert card(seen, first)[2]["patient_reference"] is None
        assert "R-77" not in json.dumps(seen)

    for consultation_id in (second,):
        await nurse.call("POST", f"/api/v1/consultations/{consultation_id}/cancel")
    await nurse.call("POST", f"/api/v1/consultations/{first}/end")


async def test_a_tier_on_duty_but_asleep_is_an_alert_until_someone_answers(line):
    nurse, db = line["nurse"], line["db"]
    coordinator = await line["person"]("coordinator", organisation_id=line["home"]["id"])
    asleep = await line["person"]("advisor", tier="senior_nurse")
    await on_duty_always(db, "senior_nurse", [asleep.id])
    consultation_id = await ask(nurse, line["patient_id"])
    snapshot = await read_board(coordinator)
    number, part, waking = card(snapshot, consultation_id)
    assert (number, part, waking["state"]) == (1, "waiting", "waking")
    assert [p["id"] for p in waking["woken"]] == [asleep.id]
    assert [(a["type"], a["tier"]) for a in snapshot["alerts"]] == [("waking", 1)]

    # Woken again (as at every retry of a queued call): still one alert, the latest.
    again = await db.fetchval(
        """INSERT INTO consultation_events (consultation_id, at, type, data)
           SELECT consultation_id, at, type, data FROM consultation_events
            WHERE consultation_id = $1 AND type = 'waking' RETURNING id""",
        consultation_id,
    )
    snapshot = await read_board(coordinator)
    assert [(a["type"], a["id"]) for a in snapshot["alerts"]] == [("waking", again)]

    # The woken advisor comes online and answers: no longer an alert.
    await asleep.connect()
    await asleep.wait_for("consultation.ringing", consultation__id=consultation_id)
    status, _ = await asleep.call("POST", f"/api/v1/consultations/{consultation_id}/accept")
    assert status == 200
    snapshot = await read_board(coordinator)
    assert snapshot["alerts"] == []
    assert card(snapshot, consultation_id)[1] == "in_progress"
    await nurse.call("POST", f"/api/v1/consultations/{consultation_id}/end")


@pytest.mark.parametrize("role", ["nurse", "advisor"])
async def test_only_coordinators_and_admins_may_read_the_board(line, role):
    reader = await line["person"](role)
    status, body = await reader.call("GET", "/api/v1/board")
    assert status == 403
    assert body["type"].endswith("/forbidden")


async def test_the_board_needs_a_session(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings))
    response = await client.get("/api/v1/board")
    assert response.status == 401
    assert response.content_type == "application/problem+json"


@pytest.mark.parametrize(("role", "status"), [("coordinator", 200), ("admin", 200),
                                             ("nurse", 403), ("advisor", 403)])  # fmt: skip
async def test_the_board_page_is_for_coordinators_and_admins(line, role, status):
    reader = await line["person"](role)
    code, body = await reader.call("GET", "/board", headers={"Accept": "text/html"})
    assert code == status
    if status == 200:
        assert 'data-testid="board"' in body and "board.js" in body
        assert 'href="/board"' in body  # in the navigation


async def test_the_board_page_sends_the_logged_out_to_the_login(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings))
    response = await client.get("/board", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == "/login?next=/board"


async def test_query_parameters_are_refused_and_change_nothing(line):
    coordinator = await line["person"]("coordinator")
    before = await line["db"].fetchval("SELECT count(*) FROM audit_log")
    status, body = await coordinator.call("GET", "/api/v1/board?tier=1")
    assert status == 400
    assert body["type"].endswith("/bad-request")
    assert await line["db"].fetchval("SELECT count(*) FROM audit_log") == before


async def test_the_snapshot_costs_the_same_queries_for_one_call_as_for_many(line, make_user):
    """No query per call or per advisor: the statements of a snapshot do not grow."""
    nurse, db = line["nurse"], line["db"]
    seniors = [await (await line["person"]("advisor", tier="senior_nurse")).connect()
               for _ in range(3)]  # fmt: skip
    await on_duty_always(db, "senior_nurse", [s.id for s in seniors])
    coordinator = await make_user("coordinator", organisation_id=line["home"]["id"])
    viewer = SessionUser(coordinator["id"], coordinator["username"], "K", "coordinator", None,
                         line["home"]["id"], "Hjemmeplejen Nord", "da", False, False)  # fmt: skip
    presence = line["app"][PRESENCE]

    async def statements() -> int:
        seen: list[str] = []

        def note(record: Any) -> None:
            seen.append(record.query)

        db.add_query_logger(note)
        try:
            await board.snapshot(db, presence, viewer, dt.datetime.now(dt.UTC))
        finally:
            db.remove_query_logger(note)
        return len(seen)

    one = await ask(nurse, line["patient_id"])
    await seniors[0].wait_for("consultation.ringing", consultation__id=one)
    with_one = await statements()
    opened = [one]
    for number in range(3):
        opened.append(await ask(nurse, await make_patient(db, line["home"]["id"], f"Q-{number}")))
    with_many = await statements()
    assert with_one == with_many
    assert 5 <= with_one <= 12, with_one
    for consultation_id in opened:
        await nurse.call("POST", f"/api/v1/consultations/{consultation_id}/cancel")


# The rota part, from the pure core ----------------------------------------------------

NOW = dt.datetime(2026, 3, 11, 11, 0, tzinfo=dt.UTC)  # a Wednesday, 12:00 in Copenhagen


def _rota(
    rota_id: int, tier: str, participants: tuple[int, ...], windows: tuple[Window, ...]
) -> Rota:
    layer = Layer(rota_id, "dag", participants, 1, Unit.DAYS, dt.time(0),
                  dt.date(2026, 3, 9), windows)  # fmt: skip
    return Rota(id=rota_id, name=f"rota {rota_id}", tier=tier, layers=(layer,))


def test_tier_duty_on_duty_until_the_next_handoff_and_the_gap_at_night():
    weekdays = frozenset(range(5))
    days = _rota(1, "gp", (7, 8), (Window(weekdays, dt.time(8), dt.time(22)),))
    duty = board.tier_duty([days], "gp", NOW)
    # Wednesday: participant index 2 % 2 = 0 -> 7, until 22:00 local (21:00 UTC).
    assert duty.on_duty == ((7, dt.datetime(2026, 3, 11, 21, 0, tzinfo=dt.UTC)),)
    assert duty.next_gap is not None
    assert duty.next_gap.start == dt.datetime(2026, 3, 11, 21, 0, tzinfo=dt.UTC)
    assert duty.next_gap.end == dt.datetime(2026, 3, 12, 7, 0, tzinfo=dt.UTC)
    assert duty.next_handoff == (dt.datetime(2026, 3, 11, 21, 0, tzinfo=dt.UTC),
                                 frozenset({7}), frozenset())  # fmt: skip


def test_tier_duty_a_gap_going_on_now_shows_when_it_began():
    nights = _rota(2, "specialist", (9,), (Window(frozenset(range(7)), dt.time(22), dt.time(8)),))
    night = dt.datetime(2026, 3, 11, 13, 0, tzinfo=dt.UTC)  # 14:00 local: nobody on duty
    duty = board.tier_duty([nights], "specialist", night)
    assert duty.on_duty == ()
    assert duty.next_gap is not None
    assert duty.next_gap.start == dt.datetime(2026, 3, 11, 7, 0, tzinfo=dt.UTC)  # 08:00 local
    assert duty.next_gap.end == dt.datetime(2026, 3, 11, 21, 0, tzinfo=dt.UTC)
    assert duty.next_handoff == (dt.datetime(2026, 3, 11, 21, 0, tzinfo=dt.UTC), frozenset(),
                                 frozenset({9}))  # fmt: skip


def test_tier_duty_always_covered_has_no_gap_and_no_end():
    always = _rota(3, "senior_nurse", (5,), ())
    duty = board.tier_duty([always], "senior_nurse", NOW)
    assert duty.on_duty == ((5, None),)
    assert duty.next_gap is None and duty.next_handoff is None


def test_tier_duty_no_rota_is_one_gap_for_the_whole_window():
    duty = board.tier_duty([], "gp", NOW)
    assert duty.on_duty == () and duty.next_handoff is None
    assert duty.next_gap is not None and duty.next_gap.start <= NOW < duty.next_gap.end


@pytest.mark.parametrize(
    ("chosen", "online", "calls", "expected"),
    [
        ("available", False, [("connected", True)], "offline"),
        ("available", True, [("wrap_up", True), ("ringing", False)], "wrap_up"),
        ("away", True, [("escalating", True)], "in_call"),
        ("available", True, [("queued", False)], "ringing"),
        ("away", True, [], "away"),
        (None, True, [], "available"),
    ],
)
def test_advisor_status(chosen, online, calls, expected):
    assert board.advisor_status(chosen, online, calls) == expected
