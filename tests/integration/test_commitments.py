"""GP commitments: CRUD, access, bad input, audit; and routing that rings the own GP first."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from advice_line.app import create_app
from advice_line.settings import Settings
from rota.model import DEFAULT_TIMEZONE
from tests.conftest import login
from tests.integration.routing_helpers import Person, on_duty_always

ISBAR = {"situation": "Åndenød", "background": "Lungekræft", "assessment": "Uro",
         "request": "Råd om morfin"}  # fmt: skip
WEEKDAYS = [{"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "16:00"}]
ALWAYS = [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "00:00", "end": "00:00"}]


def _local_today() -> dt.date:
    return dt.datetime.now(ZoneInfo(DEFAULT_TIMEZONE)).date()


def _never_now() -> list[dict[str, Any]]:
    """A whole day three days from today: nowhere near now, whatever the time."""
    return [{"days": [(_local_today().weekday() + 3) % 7], "start": "00:00", "end": "00:00"}]


def _body(gp_id: int, **changes: Any) -> dict[str, Any]:
    return {"gp_id": gp_id, "windows": WEEKDAYS, "valid_from": "2026-11-02", "note": "Hverdage",
            **changes}  # fmt: skip


@pytest.fixture
async def care(make_org: Any, make_user: Any, db: asyncpg.Connection) -> dict[str, Any]:
    """A home-care organisation with a nurse, a coordinator and a patient; two GPs."""
    home = await make_org(kind="home_care")
    nurse = await make_user("nurse", organisation_id=home["id"])
    coordinator = await make_user("coordinator", organisation_id=home["id"])
    patient_id = await db.fetchval(
        """INSERT INTO patients (reference, organisation_id, name, diagnosis_group)
           VALUES ('C-1', $1, 'Agnes Fiktivsen', 'cancer') RETURNING id""",
        home["id"],
    )
    practice = await make_org(kind="gp_practice")
    gp = await make_user("advisor", tier="gp", organisation_id=practice["id"])
    other_gp = await make_user("advisor", tier="gp", organisation_id=practice["id"])
    return {"home": home, "nurse": nurse, "coordinator": coordinator, "patient_id": patient_id,
            "gp": gp, "other_gp": other_gp,
            "path": f"/api/v1/patients/{patient_id}/gp-commitments"}  # fmt: skip


async def as_user(client: Any, user: dict[str, Any]) -> None:
    client.session.cookie_jar.clear()
    client.session.headers.pop("X-CSRF-Token", None)
    await login(client, user["username"])


async def audit_rows(
    db: asyncpg.Connection, prefix: str = "gp_commitment."
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await db.fetch(
        "SELECT * FROM audit_log WHERE action LIKE $1 || '%' ORDER BY id", prefix
    )
    return rows


# CRUD and audit ---------------------------------------------------------------------------


async def test_create_read_replace_delete(
    client: Any, care: dict[str, Any], db: asyncpg.Connection
) -> None:
    await as_user(client, care["nurse"])
    response = await client.post(care["path"], json=_body(care["gp"]["id"]))
    assert response.status == 201, await response.text()
    created = (await response.json())["commitment"]
    assert created["gp_id"] == care["gp"]["id"] and created["gp_name"] == "Test advisor"
    assert created["windows"] == WEEKDAYS
    assert created["valid_from"] == "2026-11-02" and created["valid_to"] is None
    assert created["note"] == "Hverdage" and created["created_by"] == care["nurse"]["id"]

    listed = await (await client.get(care["path"])).json()
    assert [c["id"] for c in listed["commitments"]] == [created["id"]]

    evenings = [*WEEKDAYS, {"days": [0, 1, 2, 3, 4], "start": "16:00", "end": "22:00"}]
    response = await client.put(f"{care['path']}/{created['id']}", json=_body(
        care["other_gp"]["id"], windows=evenings, valid_to="2027-01-31", note="Også aftener"))  # fmt: skip
    assert response.status == 200, await response.text()
    replaced = (await response.json())["commitment"]
    assert replaced["gp_id"] == care["other_gp"]["id"] and replaced["windows"] == evenings
    assert replaced["valid_to"] == "2027-01-31" and replaced["note"] == "Også aftener"

    response = await client.delete(f"{care['path']}/{created['id']}")
    assert response.status == 204
    assert (await (await client.get(care["path"])).json())["commitments"] == []
    assert (await client.delete(f"{care['path']}/{created['id']}")).status == 404
    assert await db.fetchval("SELECT count(*) FROM gp_commitments") == 0


async def test_windows_are_stored_in_the_rota_format(
    client: Any, care: dict[str, Any], db: asyncpg.Connection
) -> None:
    await as_user(client, care["nurse"])
    windows = [{"days": [4, 0, 0], "start": "16:00:00", "end": "08:00"}]
    response = await client.post(care["path"], json=_body(care["gp"]["id"], windows=windows))
    assert response.status == 201, await response.text()
    stored = await db.fetchval("SELECT windows FROM gp_commitments")
    assert stored == [{"days": [0, 4], "start": "16:00", "end": "08:00"}]


async def test_active_now_says_whether_the_commitment_covers_this_moment(
    client: Any, care: dict[str, Any]
) -> None:
    await as_user(client, care["nurse"])
    yesterday = (_local_today() - dt.timedelta(days=1)).isoformat()
    for windows in (ALWAYS, _never_now()):
        response = await client.post(
            care["path"], json=_body(care["gp"]["id"], windows=windows, valid_from=yesterday)
        )
        assert response.status == 201
    future = (_local_today() + dt.timedelta(days=2)).isoformat()
    await client.post(care["path"], json=_body(care["gp"]["id"], windows=ALWAYS,
                                               valid_from=future))  # fmt: skip
    listed = (await (await client.get(care["path"])).json())["commitments"]
    assert [c["active_now"] for c in listed] == [True, False, False]


async def test_every_change_is_audited_with_before_and_after(
    client: Any, care: dict[str, Any], db: asyncpg.Connection
) -> None:
    await as_user(client, care["nurse"])
    created = (await (await client.post(care["path"], json=_body(care["gp"]["id"]))).json())[
        "commitment"
    ]
    url = f"{care['path']}/{created['id']}"
    await client.put(url, json=_body(care["gp"]["id"], valid_to="2026-12-31", note="Ny note"))
    await client.delete(url)
    rows = [r for r in await audit_rows(db) if r["action"] != "gp_commitment.list"]
    assert [r["action"] for r in rows] == [
        "gp_commitment.create", "gp_commitment.update", "gp_commitment.delete",
    ]  # fmt: skip
    for row in rows:
        assert row["reason"] == "care planning"
        assert row["patient_id"] == care["patient_id"]
        assert row["actor_id"] == care["nurse"]["id"]
        assert row["target_type"] == "gp_commitment" and row["target_id"] == str(created["id"])
    create, update, delete = (r["details"] for r in rows)
    assert create["before"] is None
    assert create["after"] == {"gp_id": care["gp"]["id"], "windows": WEEKDAYS,
                               "valid_from": "2026-11-02", "valid_to": None}  # fmt: skip
    assert update["changed"] == ["note", "valid_to"]
    assert update["before"]["valid_to"] is None and update["after"]["valid_to"] == "2026-12-31"
    assert delete["before"]["valid_to"] == "2026-12-31" and delete["after"] is None
    # The note is free text: named when it changed, never copied into the audit log.
    assert all("Ny note" not in str(r["details"]) for r in rows)


async def test_reads_are_audited_too(
    client: Any, care: dict[str, Any], db: asyncpg.Connection
) -> None:
    await as_user(client, care["nurse"])
    await client.post(care["path"], json=_body(care["gp"]["id"]))
    await client.get(care["path"])
    await as_user(client, care["gp"])
    await client.get("/api/v1/gp-commitments/mine")
    reads = [r for r in await audit_rows(db) if r["action"] == "gp_commitment.list"]
    assert [r["actor_id"] for r in reads] == [care["nurse"]["id"], care["gp"]["id"]]
    assert reads[0]["patient_id"] == care["patient_id"]
    assert reads[1]["details"]["patient_ids"] == [care["patient_id"]]


# Access ------------------------------------------------------------------------------------


async def test_coordinators_of_the_organisation_manage_them_too(
    client: Any, care: dict[str, Any]
) -> None:
    await as_user(client, care["coordinator"])
    response = await client.post(care["path"], json=_body(care["gp"]["id"]))
    assert response.status == 201
    assert len((await (await client.get(care["path"])).json())["commitments"]) == 1


@pytest.mark.parametrize("who", ["other_nurse", "other_coordinator", "gp", "admin"])
async def test_others_get_404_and_change_nothing(
    client: Any, care: dict[str, Any], make_user: Any, db: asyncpg.Connection, who: str
) -> None:
    await as_user(client, care["nurse"])
    created = (await (await client.post(care["path"], json=_body(care["gp"]["id"]))).json())[
        "commitment"
    ]
    roles = {"other_nurse": "nurse", "other_coordinator": "coordinator", "admin": "admin"}
    await as_user(client, care["gp"] if who == "gp" else await make_user(roles[who]))
    before = await db.fetch("SELECT * FROM gp_commitments ORDER BY id")
    url = f"{care['path']}/{created['id']}"
    assert (await client.get(care["path"])).status == 404
    assert (await client.post(care["path"], json=_body(care["gp"]["id"]))).status == 404
    assert (await client.put(url, json=_body(care["other_gp"]["id"]))).status == 404
    assert (await client.delete(url)).status == 404
    assert await db.fetch("SELECT * FROM gp_commitments ORDER BY id") == before


async def test_a_commitment_is_reached_only_through_its_own_patient(
    client: Any, care: dict[str, Any], db: asyncpg.Connection
) -> None:
    await as_user(client, care["nurse"])
    created = (await (await client.post(care["path"], json=_body(care["gp"]["id"]))).json())[
        "commitment"
    ]
    other_patient = await db.fetchval(
        """INSERT INTO patients (reference, organisation_id, name, diagnosis_group)
           VALUES ('C-2', $1, 'Bent Fiktivsen', 'cancer') RETURNING id""",
        care["home"]["id"],
    )
    wrong = f"/api/v1/patients/{other_patient}/gp-commitments/{created['id']}"
    assert (await client.put(wrong, json=_body(care["gp"]["id"]))).status == 404
    assert (await client.delete(wrong)).status == 404
    assert await db.fetchval("SELECT count(*) FROM gp_commitments") == 1


async def test_a_gp_reads_their_own_commitments(client: Any, care: dict[str, Any]) -> None:
    await as_user(client, care["nurse"])
    await client.post(care["path"], json=_body(care["gp"]["id"]))
    await as_user(client, care["gp"])
    mine = (await (await client.get("/api/v1/gp-commitments/mine")).json())["commitments"]
    assert len(mine) == 1
    assert mine[0]["patient_id"] == care["patient_id"]
    assert mine[0]["patient_name"] == "Agnes Fiktivsen" and mine[0]["patient_reference"] == "C-1"
    await as_user(client, care["other_gp"])
    assert (await (await client.get("/api/v1/gp-commitments/mine")).json())["commitments"] == []
    client.session.cookie_jar.clear()
    assert (await client.get("/api/v1/gp-commitments/mine")).status == 401


# Bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"valid_from": "2026-11-02", "valid_to": "2026-11-01"}, "valid_to"),
        ({"valid_from": "2026-02-30"}, "valid_from"),
        ({"windows": []}, "windows"),
        ({"windows": [{"days": [7], "start": "08:00", "end": "16:00"}]}, "windows[0].days[0]"),
        ({"windows": [{"days": [], "start": "08:00", "end": "16:00"}]}, "windows[0].days"),
        ({"windows": [{"days": [0], "start": "25:00", "end": "16:00"}]}, "windows[0].start"),
        ({"windows": [{"days": [0], "start": "08:00", "end": "4pm"}]}, "windows[0].end"),
        ({"windows": [{"days": [0], "start": "08:00"}]}, "windows[0].end"),
        ({"windows": [{"days": [0], "start": "08:00", "end": "16:00", "tz": "x"}]},
         "windows[0].tz"),
        ({"windows": {"days": [0], "start": "08:00", "end": "16:00"}}, "windows"),
    ],
)  # fmt: skip
async def test_bad_dates_and_windows_are_refused(
    client: Any, care: dict[str, Any], db: asyncpg.Connection, change: dict[str, Any], field: str
) -> None:
    await as_user(client, care["nurse"])
    response = await client.post(care["path"], json=_body(care["gp"]["id"], **change))
    assert response.status == 422, await response.text()
    assert field in {e["field"] for e in (await response.json())["errors"]}
    assert await db.fetchval("SELECT count(*) FROM gp_commitments") == 0
    assert not await audit_rows(db)


@pytest.mark.parametrize("who", ["unknown", "senior_nurse", "specialist", "nurse", "disabled"])
async def test_the_gp_must_be_an_active_gp(
    client: Any, care: dict[str, Any], make_user: Any, db: asyncpg.Connection, who: str
) -> None:
    if who == "unknown":
        gp_id = 999_999
    elif who in ("senior_nurse", "specialist"):
        gp_id = (await make_user("advisor", tier=who))["id"]
    elif who == "nurse":
        gp_id = care["nurse"]["id"]
    else:
        gp_id = care["other_gp"]["id"]
        await db.execute("UPDATE users SET disabled_at = now() WHERE id = $1", gp_id)
    await as_user(client, care["nurse"])
    response = await client.post(care["path"], json=_body(gp_id))
    assert response.status == 422
    assert [e["field"] for e in (await response.json())["errors"]] == ["gp_id"]
    created = await client.post(care["path"], json=_body(care["gp"]["id"]))
    commitment_id = (await created.json())["commitment"]["id"]
    response = await client.put(f"{care['path']}/{commitment_id}", json=_body(gp_id))
    assert response.status == 422
    stored = await db.fetchval("SELECT gp_id FROM gp_commitments WHERE id = $1", commitment_id)
    assert stored == care["gp"]["id"]
    assert [r["action"] for r in await audit_rows(db, "gp_commitment.c")] == [
        "gp_commitment.create"
    ]
    assert not await audit_rows(db, "gp_commitment.update")


# Routing with commitments -------------------------------------------------------------------


@pytest.fixture
async def line(
    aiohttp_server: Any, settings: Settings, make_user: Any, make_org: Any, db: asyncpg.Connection
) -> AsyncIterator[dict[str, Any]]:
    """A server with 1 s ring times, a nurse with a patient, and a way to add people."""
    app = create_app(settings.replace(ring_seconds=(1.0, 1.0, 1.0), wake_grace_seconds=0.5,
                                      retry_seconds=0.5))  # fmt: skip
    server = await aiohttp_server(app)
    base = str(server.make_url("/"))
    home = await make_org(kind="home_care")
    patient_id = await db.fetchval(
        """INSERT INTO patients (reference, organisation_id, name, diagnosis_group)
           VALUES ('R-9', $1, 'Karl Fiktivsen', 'cancer') RETURNING id""",
        home["id"],
    )
    people: list[Person] = []

    async def person(role: str, **kwargs: Any) -> Person:
        p = await Person(base, await make_user(role, **kwargs)).login()
        people.append(p)
        return p

    nurse = await person("nurse", organisation_id=home["id"])
    yield {"nurse": nurse, "patient_id": patient_id, "person": person, "db": db}
    for p in people:
        await p.close()


async def commit(line: dict[str, Any], gp: Person, windows: list[dict[str, Any]]) -> None:
    yesterday = (_local_today() - dt.timedelta(days=1)).isoformat()
    status, body = await line["nurse"].call(
        "POST", f"/api/v1/patients/{line['patient_id']}/gp-commitments",
        json={"gp_id": gp.id, "windows": windows, "valid_from": yesterday},
    )  # fmt: skip
    assert status == 201, body


async def ask(line: dict[str, Any]) -> dict[str, Any]:
    status, body = await line["nurse"].call("POST", "/api/v1/consultations", json={
        "patient_id": line["patient_id"], "channel": "audio", "urgency": "urgent", "isbar": ISBAR})  # fmt: skip
    assert status == 201, body
    return dict(body["consultation"])


async def offers(
    db: asyncpg.Connection, consultation_id: int
) -> list[tuple[str, list[int] | None, str | None]]:
    """The timeline's offers and timeouts: (type, advisors, stage)."""
    rows = await db.fetch(
        """SELECT type, data FROM consultation_events
            WHERE consultation_id = $1 AND type IN ('offered', 'timed_out') ORDER BY id""",
        consultation_id,
    )
    return [(r["type"], r["data"].get("advisors"), r["data"].get("stage")) for r in rows]


async def test_the_committed_gp_is_rung_alone_first_then_the_rota(line: dict[str, Any]) -> None:
    own = await (await line["person"]("advisor", tier="gp")).connect()
    rota_gp = await (await line["person"]("advisor", tier="gp")).connect()
    await on_duty_always(line["db"], "gp", [rota_gp.id])
    await commit(line, own, ALWAYS)
    loop = asyncio.get_running_loop()
    asked = loop.time()
    consultation = await ask(line)  # nobody on duty as senior nurse: straight to the GP tier
    assert consultation["tier"] == "gp" and consultation["offered"] == [own.id]
    await own.wait_for("consultation.ringing", consultation__id=consultation["id"])
    assert not rota_gp.got("consultation.ringing")

    await rota_gp.wait_for("consultation.ringing", within=5, consultation__id=consultation["id"])
    rung_after = loop.time() - asked
    assert rung_after >= 0.9, f"the rota was rung {rung_after:.2f} s after the request"
    withdrawn = await own.wait_for("consultation.withdrawn", consultation_id=consultation["id"])
    assert withdrawn["reason"] == "timed_out"
    assert (await offers(line["db"], consultation["id"]))[:3] == [
        ("offered", [own.id], "own_gp"),
        ("timed_out", [own.id], "own_gp"),
        ("offered", [rota_gp.id], "rota"),
    ]
    status, body = await rota_gp.call("POST", f"/api/v1/consultations/{consultation['id']}/accept")
    assert status == 200 and body["consultation"]["participants"] == [rota_gp.id]


async def test_the_committed_gp_answering_gets_the_call(line: dict[str, Any]) -> None:
    own = await (await line["person"]("advisor", tier="gp")).connect()
    rota_gp = await (await line["person"]("advisor", tier="gp")).connect()
    await on_duty_always(line["db"], "gp", [rota_gp.id])
    await commit(line, own, ALWAYS)
    consultation = await ask(line)
    await own.wait_for("consultation.ringing")
    status, body = await own.call("POST", f"/api/v1/consultations/{consultation['id']}/accept")
    assert status == 200 and body["consultation"]["state"] == "connected"
    assert not rota_gp.got("consultation.ringing")


async def test_outside_the_commitment_the_rota_is_rung_directly(line: dict[str, Any]) -> None:
    own = await (await line["person"]("advisor", tier="gp")).connect()
    rota_gp = await (await line["person"]("advisor", tier="gp")).connect()
    await on_duty_always(line["db"], "gp", [rota_gp.id])
    await commit(line, own, _never_now())
    consultation = await ask(line)
    assert consultation["tier"] == "gp" and consultation["offered"] == [rota_gp.id]
    await rota_gp.wait_for("consultation.ringing", consultation__id=consultation["id"])
    assert not own.got("consultation.ringing")
    assert await offers(line["db"], consultation["id"]) == [("offered", [rota_gp.id], "rota")]


async def test_an_offline_committed_gp_is_passed_over(line: dict[str, Any]) -> None:
    own = await line["person"]("advisor", tier="gp")  # committed, but not connected
    rota_gp = await (await line["person"]("advisor", tier="gp")).connect()
    await on_duty_always(line["db"], "gp", [rota_gp.id])
    await commit(line, own, ALWAYS)
    consultation = await ask(line)
    assert consultation["offered"] == [rota_gp.id]


async def test_a_second_committed_gp_answers_when_the_first_is_offline(
    line: dict[str, Any],
) -> None:
    asleep = await line["person"]("advisor", tier="gp")  # committed first, not connected
    awake = await (await line["person"]("advisor", tier="gp")).connect()
    rota_gp = await (await line["person"]("advisor", tier="gp")).connect()
    await on_duty_always(line["db"], "gp", [rota_gp.id])
    await commit(line, asleep, ALWAYS)
    await commit(line, awake, ALWAYS)
    consultation = await ask(line)
    assert consultation["offered"] == [awake.id]


async def test_a_committed_gp_on_the_rota_is_not_rung_twice(line: dict[str, Any]) -> None:
    own = await (await line["person"]("advisor", tier="gp")).connect()
    rota_gp = await (await line["person"]("advisor", tier="gp")).connect()
    await on_duty_always(line["db"], "gp", [own.id, rota_gp.id])
    await commit(line, own, ALWAYS)
    consultation = await ask(line)
    assert consultation["offered"] == [own.id]
    await rota_gp.wait_for("consultation.ringing", within=5)
    assert (await offers(line["db"], consultation["id"]))[:3] == [
        ("offered", [own.id], "own_gp"),
        ("timed_out", [own.id], "own_gp"),
        ("offered", [rota_gp.id], "rota"),
    ]
