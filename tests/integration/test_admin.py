"""Admins manage organisations and users; every change is audited with before and after."""

from __future__ import annotations

import pytest

from tests.conftest import login

NEW_USER = {
    "username": "ny.laege",
    "display_name": "Ny Læge",
    "password": "lang-nok-kode",
    "role": "advisor",
    "tier": "gp",
}


async def test_admin_creates_an_organisation(client, login_as, db):
    await login_as("admin")
    response = await client.post(
        "/api/v1/organisations", json={"name": "Ny praksis", "kind": "gp_practice"}
    )
    assert response.status == 201
    org = (await response.json())["organisation"]
    assert org["kind"] == "gp_practice"
    duplicate = await client.post(
        "/api/v1/organisations", json={"name": "Ny praksis", "kind": "hospital"}
    )
    assert duplicate.status == 409
    assert (await duplicate.json())["errors"] == [
        {"field": "name", "code": "taken", "message": "is taken"}
    ]
    listed = await (await client.get("/api/v1/organisations?kind=gp_practice")).json()
    assert [o["name"] for o in listed["organisations"]] == ["Ny praksis"]
    assert (await client.get("/api/v1/organisations?kind=zoo")).status == 400
    row = await db.fetchrow("SELECT * FROM audit_log WHERE action = 'organisation.create'")
    assert row["details"]["after"] == {"name": "Ny praksis", "kind": "gp_practice"}


async def test_admin_creates_a_user_who_can_log_in(client, login_as, make_org):
    await login_as("admin")
    practice = await make_org(kind="gp_practice")
    response = await client.post(
        "/api/v1/users", json={**NEW_USER, "organisation_id": practice["id"]}
    )
    assert response.status == 201, await response.text()
    created = (await response.json())["user"]
    assert created["tier"] == "gp" and created["organisation_name"] == practice["name"]
    assert "password_hash" not in created
    client.session.cookie_jar.clear()
    await login(client, "ny.laege", "lang-nok-kode")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"tier": None}, "tier"),
        ({"role": "nurse"}, "tier"),
        ({"organisation_id": None}, "organisation_id"),
        ({"organisation_id": 999999}, "organisation_id"),
        ({"password": "short"}, "password"),
        ({"username": "Has Spaces"}, "username"),
    ],
)
async def test_user_rules(client, login_as, make_org, db, changes, field):
    await login_as("admin")
    practice = await make_org(kind="gp_practice")
    before = await db.fetchval("SELECT count(*) FROM users")
    response = await client.post(
        "/api/v1/users", json={**NEW_USER, "organisation_id": practice["id"], **changes}
    )
    assert response.status == 422
    assert field in [e["field"] for e in (await response.json())["errors"]]
    assert await db.fetchval("SELECT count(*) FROM users") == before


async def test_nurses_belong_to_home_care(client, login_as, make_org):
    await login_as("admin")
    hospital = await make_org(kind="hospital")
    response = await client.post("/api/v1/users", json={
        "username": "ny.sygeplejerske", "display_name": "Ny", "password": "lang-nok-kode",
        "role": "nurse", "organisation_id": hospital["id"]})  # fmt: skip
    assert response.status == 422


async def test_taken_username_conflicts(client, login_as, make_user):
    await login_as("admin")
    existing = await make_user("admin")
    response = await client.post("/api/v1/users", json={
        "username": existing["username"], "display_name": "X", "password": "lang-nok-kode", "role": "admin"})  # fmt: skip
    assert response.status == 409
    assert (await response.json())["errors"][0]["field"] == "username"


async def test_disabling_a_user_ends_their_sessions_and_is_audited(
    client, aiohttp_client, settings, make_user, db
):
    from advice_line.app import create_app

    nurse = await make_user("nurse")
    nurse_client = await aiohttp_client(create_app(settings))
    await login(nurse_client, nurse["username"])
    admin = await make_user("admin")
    await login(client, admin["username"])
    response = await client.patch(f"/api/v1/users/{nurse['id']}", json={"disabled": True})
    assert response.status == 200
    assert (await response.json())["user"]["disabled"] is True
    assert (await nurse_client.get("/api/v1/auth/me")).status == 401
    row = await db.fetchrow("SELECT * FROM audit_log WHERE action = 'user.update'")
    assert row["details"] == {"before": {"disabled": False}, "after": {"disabled": True}}
    assert row["actor_id"] == admin["id"]
    enabled = await client.patch(f"/api/v1/users/{nurse['id']}", json={"disabled": False})
    assert (await enabled.json())["user"]["disabled"] is False


async def test_admin_cannot_disable_themselves(client, login_as):
    admin = await login_as("admin")
    response = await client.patch(f"/api/v1/users/{admin['id']}", json={"disabled": True})
    assert response.status == 400


@pytest.mark.parametrize("role", ["nurse", "advisor", "coordinator"])
async def test_only_admins_manage_people(client, login_as, role, db):
    await login_as(role)
    before = await db.fetchval("SELECT count(*) FROM users")
    assert (await client.get("/api/v1/users")).status == 403
    assert (
        await client.post("/api/v1/users", json={**NEW_USER, "organisation_id": 1})
    ).status == 403
    assert (
        await client.post("/api/v1/organisations", json={"name": "X", "kind": "hospital"})
    ).status == 403
    assert (await client.patch("/api/v1/users/1", json={"disabled": True})).status == 403
    assert await db.fetchval("SELECT count(*) FROM users") == before


async def test_user_list_filters(client, login_as, make_user):
    await login_as("admin")
    nurse = await make_user("nurse")
    response = await client.get("/api/v1/users", params={"role": "nurse"})
    assert [u["username"] for u in (await response.json())["users"]] == [nurse["username"]]
    assert (await client.get("/api/v1/users", params={"role": "pilot"})).status == 400
    assert (await client.get("/api/v1/users", params={"organisation_id": "x"})).status == 400
    assert (await client.patch("/api/v1/users/999999", json={"disabled": True})).status == 404
