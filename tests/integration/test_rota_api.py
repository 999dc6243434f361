"""The rota REST API against real PostgreSQL: editing, questions about duty, audit, refusals."""

from __future__ import annotations

import pytest

from tests.conftest import login

# Monday 2 November 2026; Copenhagen is at UTC+1 (winter time).
WEEK_START = "2026-11-02"


@pytest.fixture
async def team(make_user, make_org):
    """Three senior nurses in one home-care organisation, a GP, and a coordinator."""
    org = await make_org(kind="home_care")
    nurses = [
        await make_user("advisor", tier="senior_nurse", organisation_id=org["id"]) for _ in range(3)
    ]
    gp = await make_user("advisor", tier="gp")
    coordinator = await make_user("coordinator", organisation_id=org["id"])
    return {"nurses": nurses, "gp": gp, "coordinator": coordinator, "org": org}


async def make_rota(client, name="Sygeplejersker", tier="senior_nurse"):
    response = await client.post("/api/v1/rotas", json={"name": name, "tier": tier})
    assert response.status == 201, await response.text()
    return (await response.json())["rota"]


def daily_layer(participants, **changes):
    return {
        "name": "Døgnvagt", "participants": participants, "shift_length": 1, "unit": "days",
        "handoff": "08:00", "start_date": WEEK_START, **changes,
    }  # fmt: skip


async def add_layer(client, rota_id, layer):
    response = await client.post(f"/api/v1/rotas/{rota_id}/layers", json=layer)
    assert response.status == 201, await response.text()
    return (await response.json())["rota"]


async def test_coordinator_builds_a_rota_and_asks_who_is_on_duty(client, team):
    await login(client, team["coordinator"]["username"])
    ids = [n["id"] for n in team["nurses"]]
    rota = await make_rota(client)
    rota = await add_layer(client, rota["id"], daily_layer(ids))
    assert rota["layers"][0]["participants"] == ids
    assert rota["clinicians"][str(ids[0])] == team["nurses"][0]["display_name"]

    # Tuesday 3 Nov 09:00 local = 08:00 UTC: the second day, so the second nurse.
    response = await client.get(
        "/api/v1/rota/on-duty", params={"tier": "senior_nurse", "at": "2026-11-03T08:00:00Z"}
    )
    assert response.status == 200
    assert await response.json() == {
        "tier": "senior_nurse",
        "at": "2026-11-03T08:00:00Z",
        "clinicians": [
            {"id": ids[1], "name": team["nurses"][1]["display_name"], "rota": "Sygeplejersker",
             "rota_id": rota["id"]}
        ],
    }  # fmt: skip
    # 07:59 local on Tuesday is still Monday's shift.
    early = await client.get(
        "/api/v1/rota/on-duty", params={"tier": "senior_nurse", "at": "2026-11-03T06:59:00Z"}
    )
    assert [c["id"] for c in (await early.json())["clinicians"]] == [ids[0]]


async def test_gaps_and_how_an_override_closes_one(client, team):
    await login(client, team["coordinator"]["username"])
    ids = [n["id"] for n in team["nurses"]]
    rota = await make_rota(client)
    # Weekdays 08:00-16:00 only: the evening of Monday 2 Nov is a gap.
    day = daily_layer(ids, windows=[{"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "16:00"}])
    rota = await add_layer(client, rota["id"], day)
    params = {"tier": "senior_nurse", "from": "2026-11-02T07:00:00Z", "to": "2026-11-02T23:00:00Z"}
    before = await (await client.get("/api/v1/rota/gaps", params=params)).json()
    assert before == {"tier": "senior_nurse", "gaps": [{"start": "2026-11-02T15:00:00Z",
                                                       "end": "2026-11-02T23:00:00Z"}]}  # fmt: skip
    cover = {"kind": "add", "clinician_id": ids[2], "start": "2026-11-02T16:00:00+01:00",
             "end": "2026-11-03T00:00:00+01:00", "note": "Aftendækning"}  # fmt: skip
    response = await client.post(f"/api/v1/rotas/{rota['id']}/overrides", json=cover)
    assert response.status == 201, await response.text()
    after = await (await client.get("/api/v1/rota/gaps", params=params)).json()
    assert after["gaps"] == []
    shifts = await (await client.get("/api/v1/rota/shifts", params=params)).json()
    assert [
        (s["start"], s["end"], [c["id"] for c in s["clinicians"]]) for s in shifts["shifts"]
    ] == [
        ("2026-11-02T07:00:00Z", "2026-11-02T15:00:00Z", [ids[0]]),
        ("2026-11-02T15:00:00Z", "2026-11-02T23:00:00Z", [ids[2]]),
    ]


async def test_replace_override_and_its_removal(client, team):
    await login(client, team["coordinator"]["username"])
    ids = [n["id"] for n in team["nurses"]]
    rota = await make_rota(client)
    rota = await add_layer(client, rota["id"], daily_layer(ids[:2]))
    body = {"kind": "replace", "clinician_id": ids[2], "replaces_id": ids[0],
            "start": "2026-11-02T10:00:00Z", "end": "2026-11-02T12:00:00Z"}  # fmt: skip
    created = await (await client.post(f"/api/v1/rotas/{rota['id']}/overrides", json=body)).json()
    override_id = created["rota"]["overrides"][0]["id"]
    at = {"tier": "senior_nurse", "at": "2026-11-02T11:00:00Z"}
    assert [
        c["id"]
        for c in (await (await client.get("/api/v1/rota/on-duty", params=at)).json())["clinicians"]
    ] == [ids[2]]
    removed = await client.delete(f"/api/v1/rotas/{rota['id']}/overrides/{override_id}")
    assert removed.status == 200
    assert [
        c["id"]
        for c in (await (await client.get("/api/v1/rota/on-duty", params=at)).json())["clinicians"]
    ] == [ids[0]]


async def test_overlapping_overrides_for_one_clinician_are_refused(client, team, db):
    await login(client, team["coordinator"]["username"])
    ids = [n["id"] for n in team["nurses"]]
    rota = await make_rota(client)
    first = {"kind": "add", "clinician_id": ids[0], "start": "2026-11-02T10:00:00Z",
             "end": "2026-11-02T12:00:00Z"}  # fmt: skip
    assert (await client.post(f"/api/v1/rotas/{rota['id']}/overrides", json=first)).status == 201
    second = {**first, "start": "2026-11-02T11:00:00Z", "end": "2026-11-02T13:00:00Z"}
    response = await client.post(f"/api/v1/rotas/{rota['id']}/overrides", json=second)
    assert response.status == 422
    error = (await response.json())["errors"][0]
    assert error["code"] == "overlap" and error["clinician"] == ids[0]
    assert "overlap" in error["message"]
    assert await db.fetchval("SELECT count(*) FROM rota_overrides") == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"end": "2026-11-02T09:00:00Z"}, "end"),
        ({"start": "2026-11-02T10:00:00"}, "start"),
        ({"kind": "add", "replaces_id": 1}, "replaces_id"),
        ({"kind": "swap"}, "kind"),
    ],
)
async def test_bad_overrides_name_the_field(client, team, db, body, field):
    await login(client, team["coordinator"]["username"])
    rota = await make_rota(client)
    base = {"kind": "replace", "clinician_id": team["nurses"][0]["id"],
            "start": "2026-11-02T10:00:00Z", "end": "2026-11-02T12:00:00Z"}  # fmt: skip
    response = await client.post(f"/api/v1/rotas/{rota['id']}/overrides", json={**base, **body})
    assert response.status == 422
    assert field in [e["field"] for e in (await response.json())["errors"]]
    assert await db.fetchval("SELECT count(*) FROM rota_overrides") == 0


async def test_clinicians_must_be_advisors_of_the_rotas_tier(client, team, db):
    await login(client, team["coordinator"]["username"])
    rota = await make_rota(client)
    wrong = [team["nurses"][0]["id"], team["gp"]["id"], team["coordinator"]["id"], 999999]
    response = await client.post(f"/api/v1/rotas/{rota['id']}/layers", json=daily_layer(wrong))
    assert response.status == 422
    messages = [e["message"] for e in (await response.json())["errors"]]
    assert len(messages) == 3 and all(
        "not an active advisor of the tier senior_nurse" in m for m in messages
    )
    assert await db.fetchval("SELECT count(*) FROM rota_layers") == 0
    override = {"kind": "add", "clinician_id": team["gp"]["id"],
                "start": "2026-11-02T10:00:00Z", "end": "2026-11-02T12:00:00Z"}  # fmt: skip
    refused = await client.post(f"/api/v1/rotas/{rota['id']}/overrides", json=override)
    assert refused.status == 422


async def test_layer_priority_and_moving_layers(client, team):
    await login(client, team["coordinator"]["username"])
    ids = [n["id"] for n in team["nurses"]]
    rota = await make_rota(client)
    rota = await add_layer(client, rota["id"], daily_layer([ids[0]]))
    rota = await add_layer(client, rota["id"], daily_layer([ids[1]], name="Dagvagt",
                           windows=[{"days": [0], "start": "08:00", "end": "16:00"}]))  # fmt: skip
    at_day = {"tier": "senior_nurse", "at": "2026-11-02T09:00:00Z"}
    at_night = {"tier": "senior_nurse", "at": "2026-11-02T20:00:00Z"}

    async def who(params):
        return [
            c["id"]
            for c in (await (await client.get("/api/v1/rota/on-duty", params=params)).json())[
                "clinicians"
            ]
        ]

    assert await who(at_day) == [ids[1]], "the higher layer wins where it covers"
    assert await who(at_night) == [ids[0]], "the lower layer fills the rest"
    top = rota["layers"][1]["id"]
    moved = await client.post(
        f"/api/v1/rotas/{rota['id']}/layers/{top}/position", json={"position": 0}
    )
    assert moved.status == 200
    assert await who(at_day) == [ids[0]]


async def test_swap_between_two_clinicians(client, team):
    await login(client, team["coordinator"]["username"])
    ids = [n["id"] for n in team["nurses"]]
    rota = await make_rota(client)
    rota = await add_layer(client, rota["id"], daily_layer(ids[:2]))
    # Monday (ids[0], 07:00Z-07:00Z) and Tuesday (ids[1]) are swapped.
    swap = {"first_id": ids[0], "second_id": ids[1],
            "first_start": "2026-11-02T07:00:00Z", "first_end": "2026-11-03T07:00:00Z",
            "second_start": "2026-11-03T07:00:00Z", "second_end": "2026-11-04T07:00:00Z"}  # fmt: skip
    response = await client.post(f"/api/v1/rotas/{rota['id']}/swaps", json=swap)
    assert response.status == 201, await response.text()
    monday = await (
        await client.get(
            "/api/v1/rota/on-duty", params={"tier": "senior_nurse", "at": "2026-11-02T12:00:00Z"}
        )
    ).json()
    tuesday = await (
        await client.get(
            "/api/v1/rota/on-duty", params={"tier": "senior_nurse", "at": "2026-11-03T12:00:00Z"}
        )
    ).json()
    assert [c["id"] for c in monday["clinicians"]] == [ids[1]]
    assert [c["id"] for c in tuesday["clinicians"]] == [ids[0]]


async def test_every_rota_change_is_audited_with_before_and_after(client, team, db):
    coordinator = team["coordinator"]
    await login(client, coordinator["username"])
    rota = await make_rota(client)
    await add_layer(client, rota["id"], daily_layer([team["nurses"][0]["id"]]))
    await client.patch(f"/api/v1/rotas/{rota['id']}", json={"name": "Nyt navn"})
    rows = await db.fetch("SELECT * FROM audit_log WHERE target_type = 'rota' ORDER BY id")
    assert [r["action"] for r in rows] == ["rota.create", "rota.layer_add", "rota.update"]
    assert all(r["actor_id"] == coordinator["id"] for r in rows)
    assert rows[1]["details"]["before"]["layers"] == []
    assert len(rows[1]["details"]["after"]["layers"]) == 1
    assert rows[2]["details"]["after"]["name"] == "Nyt navn"


@pytest.mark.parametrize("role", ["nurse", "advisor"])
async def test_only_coordinators_and_admins_edit(client, make_user, role, db):
    user = await make_user(role)
    await login(client, user["username"])
    response = await client.post("/api/v1/rotas", json={"name": "X", "tier": "gp"})
    assert response.status == 403
    assert (await client.get("/api/v1/rotas")).status == 200, "everyone may read"
    assert await db.fetchval("SELECT count(*) FROM rotas") == 0


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/rota/on-duty", {"tier": "pilot"}),
        ("/api/v1/rota/on-duty", {"tier": "gp", "at": "tomorrow"}),
        ("/api/v1/rota/gaps", {"tier": "gp", "from": "2026-11-02T00:00:00Z"}),
        (
            "/api/v1/rota/gaps",
            {"tier": "gp", "from": "2026-11-03T00:00:00Z", "to": "2026-11-02T00:00:00Z"},
        ),
        (
            "/api/v1/rota/shifts",
            {"tier": "gp", "from": "2026-01-01T00:00:00Z", "to": "2028-01-01T00:00:00Z"},
        ),
        ("/api/v1/rota/handoffs", {"tier": "gp", "count": "0"}),
        ("/api/v1/rotas", {"tier": "pilot"}),
    ],
)
async def test_bad_questions_get_400(client, login_as, path, params):
    await login_as("nurse")
    response = await client.get(path, params=params)
    assert response.status == 400
    assert response.content_type == "application/problem+json"


async def test_unknown_time_zone_and_duplicate_name(client, team, db):
    await login(client, team["coordinator"]["username"])
    bad = await client.post(
        "/api/v1/rotas", json={"name": "X", "tier": "gp", "timezone": "Mars/Olympus"}
    )
    assert bad.status == 422
    await make_rota(client, name="Læger", tier="gp")
    duplicate = await client.post("/api/v1/rotas", json={"name": "Læger", "tier": "gp"})
    assert duplicate.status == 422
    assert await db.fetchval("SELECT count(*) FROM rotas") == 1


async def test_changing_the_tier_checks_the_clinicians(client, team):
    await login(client, team["coordinator"]["username"])
    rota = await make_rota(client)
    await add_layer(client, rota["id"], daily_layer([team["nurses"][0]["id"]]))
    response = await client.patch(f"/api/v1/rotas/{rota['id']}", json={"tier": "gp"})
    assert response.status == 422


async def test_handoffs(client, team):
    await login(client, team["coordinator"]["username"])
    ids = [n["id"] for n in team["nurses"]]
    rota = await make_rota(client)
    await add_layer(client, rota["id"], daily_layer(ids[:2]))
    response = await client.get("/api/v1/rota/handoffs",
                                params={"tier": "senior_nurse", "at": "2026-11-02T12:00:00Z", "count": "2"})  # fmt: skip
    body = await response.json()
    assert [h["at"] for h in body["handoffs"]] == ["2026-11-03T07:00:00Z", "2026-11-04T07:00:00Z"]
    assert [c["id"] for c in body["handoffs"][0]["after"]] == [ids[1]]


async def test_deleting_a_rota_and_missing_things(client, team, db):
    await login(client, team["coordinator"]["username"])
    rota = await make_rota(client)
    assert (await client.delete(f"/api/v1/rotas/{rota['id']}/layers/999")).status == 404
    assert (await client.delete(f"/api/v1/rotas/{rota['id']}/overrides/999")).status == 404
    assert (await client.delete(f"/api/v1/rotas/{rota['id']}")).status == 204
    assert (await client.get(f"/api/v1/rotas/{rota['id']}")).status == 404
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'rota.delete'") == 1


async def test_clinicians_of_a_tier(client, team):
    await login(client, team["coordinator"]["username"])
    response = await client.get("/api/v1/rota/clinicians", params={"tier": "senior_nurse"})
    ids = [c["id"] for c in (await response.json())["clinicians"]]
    assert sorted(ids) == sorted(n["id"] for n in team["nurses"])
    assert (await client.get("/api/v1/rota/clinicians", params={"tier": "x"})).status == 400
