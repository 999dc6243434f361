"""CSV import and export through the API: all or nothing, line-numbered errors, round trip."""

from __future__ import annotations

import pytest

from tests.conftest import login

HEADER = "tier,clinician,start,end\n"


@pytest.fixture
async def people(make_user, make_org, client):
    org = await make_org(kind="home_care")
    anne = await make_user(
        "advisor", tier="senior_nurse", username="anne", organisation_id=org["id"]
    )
    bent = await make_user(
        "advisor", tier="senior_nurse", username="bent", organisation_id=org["id"]
    )
    gustav = await make_user("advisor", tier="gp", username="gustav")
    coordinator = await make_user("coordinator", organisation_id=org["id"])
    await login(client, coordinator["username"])
    return {"anne": anne, "bent": bent, "gustav": gustav}


async def post_csv(client, text: str, **params):
    return await client.post("/api/v1/rota/import", data=text.encode(), params=params,
                             headers={"Content-Type": "text/csv"})  # fmt: skip


GOOD = HEADER + (
    "senior_nurse,anne,2026-11-02 08:00,2026-11-02 16:00\n"
    "senior_nurse,bent,2026-11-02 16:00,2026-11-03 08:00\n"
    "gp,gustav,2026-11-02 08:00,2026-11-02 16:00\n"
)


async def test_dry_run_shows_the_changes_and_writes_nothing(client, people, db):
    response = await post_csv(client, GOOD, dry_run="true")
    assert response.status == 200
    body = await response.json()
    assert body["dry_run"] is True and body["rows"] == 3 and body["added"] == 3
    assert [c["line"] for c in body["changes"]] == [2, 3, 4]
    assert body["changes"][0] == {
        "line": 2, "tier": "senior_nurse", "clinician": "anne", "clinician_id": people["anne"]["id"],
        "start": "2026-11-02T07:00:00+00:00", "end": "2026-11-02T15:00:00+00:00", "status": "add",
    }  # fmt: skip
    assert await db.fetchval("SELECT count(*) FROM rota_overrides") == 0
    assert await db.fetchval("SELECT count(*) FROM rotas") == 0


async def test_import_applies_all_rows_and_is_idempotent(client, people, db):
    response = await post_csv(client, GOOD)
    body = await response.json()
    assert body["added"] == 3 and body["unchanged"] == 0
    names = [r["name"] for r in await db.fetch("SELECT name FROM rotas ORDER BY name")]
    assert names == ["Importerede vagter (gp)", "Importerede vagter (senior_nurse)"]
    on_duty = await (await client.get("/api/v1/rota/on-duty",
                                      params={"tier": "senior_nurse", "at": "2026-11-02T20:00:00Z"})).json()  # fmt: skip
    assert [c["id"] for c in on_duty["clinicians"]] == [people["bent"]["id"]]
    again = await (await post_csv(client, GOOD)).json()
    assert again["added"] == 0 and again["unchanged"] == 3
    assert await db.fetchval("SELECT count(*) FROM rota_overrides") == 3
    audit_rows = await db.fetch("SELECT details FROM audit_log WHERE action = 'rota.import'")
    assert len(audit_rows) == 1 and len(audit_rows[0]["details"]["added"]) == 3


async def test_any_bad_row_rejects_the_whole_file_by_line(client, people, db):
    text = GOOD + (
        "pilot,anne,2026-11-04 08:00,2026-11-04 16:00\n"
        "senior_nurse,nobody,2026-11-04 08:00,2026-11-04 16:00\n"
        "senior_nurse,anne,2026-03-29 02:30,2026-03-29 08:00\n"
        "gp,anne,2026-11-05 08:00,2026-11-05 07:00\n"
    )
    response = await post_csv(client, text)
    assert response.status == 422
    problem = await response.json()
    assert problem["type"].endswith("/csv-invalid")
    assert [(e["line"], e["field"]) for e in problem["errors"]] == [
        (5, "tier"),
        (6, "clinician"),
        (7, "start"),
        (8, "clinician"),
        (8, "end"),
    ]
    assert await db.fetchval("SELECT count(*) FROM rota_overrides") == 0


async def test_a_row_overlapping_a_change_already_in_the_rota(client, people, db):
    await post_csv(client, GOOD)
    clash = HEADER + "senior_nurse,anne,2026-11-02 12:00,2026-11-02 20:00\n"
    response = await post_csv(client, clash)
    assert response.status == 422
    assert (await response.json())["errors"][0]["line"] == 2
    assert await db.fetchval("SELECT count(*) FROM rota_overrides") == 3


async def test_import_into_a_given_rota_checks_its_tier(client, people, db):
    rota = await (
        await client.post("/api/v1/rotas", json={"name": "Sygeplejersker", "tier": "senior_nurse"})
    ).json()
    only_nurses = HEADER + "senior_nurse,anne,2026-11-02 08:00,2026-11-02 16:00\n"
    ok = await post_csv(client, only_nurses, rota_id=str(rota["rota"]["id"]))
    assert ok.status == 200
    assert await db.fetchval("SELECT rota_id FROM rota_overrides") == rota["rota"]["id"]
    mixed = await post_csv(client, GOOD, rota_id=str(rota["rota"]["id"]))
    assert mixed.status == 422
    assert (await post_csv(client, GOOD, rota_id="999999")).status == 404


@pytest.mark.parametrize(
    ("body", "content_type", "params", "status"),
    [
        (b"", "text/csv", {}, 422),
        (b"name,when\nx,y\n", "text/csv", {}, 422),
        (b"tier,clinician,start,end\n\xff\xfe\n", "text/csv", {}, 422),
        (b'{"tier": "gp"}', "application/json", {}, 415),
        (GOOD.encode(), "text/csv", {"dry_run": "maybe"}, 400),
        (GOOD.encode(), "text/csv", {"rota_id": "x"}, 400),
    ],
)
async def test_malformed_uploads(client, people, db, body, content_type, params, status):
    response = await client.post("/api/v1/rota/import", data=body, params=params,
                                 headers={"Content-Type": content_type})  # fmt: skip
    assert response.status == status
    assert response.content_type == "application/problem+json"
    assert await db.fetchval("SELECT count(*) FROM rota_overrides") == 0


async def test_an_oversize_file_is_refused(client, people, monkeypatch):
    from advice_line.views import rota_api

    monkeypatch.setattr(rota_api, "IMPORT_MAX_BYTES", 1000)
    response = await post_csv(client, GOOD * 20)
    assert response.status == 413


async def test_only_editors_import(client, make_user):
    nurse = await make_user("nurse")
    client.session.cookie_jar.clear()
    await login(client, nurse["username"])
    assert (await post_csv(client, GOOD)).status == 403


async def test_export_then_import_gives_the_same_schedule(client, people, db):
    # Build a layered rota across the autumn DST night, export it, import the export into
    # an empty system (the layers removed), and compare the final schedules.
    ids = [people["anne"]["id"], people["bent"]["id"]]
    rota = await (
        await client.post("/api/v1/rotas", json={"name": "Nat", "tier": "senior_nurse"})
    ).json()
    layer = {"name": "Nat", "participants": ids, "shift_length": 1, "unit": "days", "handoff": "22:00",
             "start_date": "2026-10-20", "windows": [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "22:00", "end": "07:00"}]}  # fmt: skip
    assert (
        await client.post(f"/api/v1/rotas/{rota['rota']['id']}/layers", json=layer)
    ).status == 201
    period = {"tier": "senior_nurse", "from": "2026-10-23T00:00:00Z", "to": "2026-10-28T00:00:00Z"}
    before = await (await client.get("/api/v1/rota/shifts", params=period)).json()
    exported = await (await client.get("/api/v1/rota/export", params=period)).text()
    assert exported.startswith("tier,clinician,start,end\n")
    assert "senior_nurse,anne,2026-10-24 22:00,2026-10-25 07:00" in exported  # the 10-hour night
    assert (await client.delete(f"/api/v1/rotas/{rota['rota']['id']}")).status == 204
    assert (await post_csv(client, exported)).status == 200
    after = await (await client.get("/api/v1/rota/shifts", params=period)).json()

    def stretches(body):
        return [(s["start"], s["end"], [c["id"] for c in s["clinicians"]]) for s in body["shifts"]]

    assert stretches(after) == stretches(before)
