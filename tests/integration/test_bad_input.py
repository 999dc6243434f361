"""Every endpoint that takes a body, fed bad input: a clear 4xx problem, and nothing written."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from advice_line import openapi
from advice_line.app import create_app
from tests.conftest import login

LAYER = {
    "name": "Døgn", "participants": [1], "shift_length": 1, "unit": "days", "handoff": "08:00",
    "start_date": "2026-11-02", "windows": [{"days": [0], "start": "08:00", "end": "16:00"}],
}  # fmt: skip
COMMITMENT = {
    "gp_id": 1, "windows": [{"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "16:00"}],
    "valid_from": "2026-11-02", "note": "Hverdage",
}  # fmt: skip


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    role: str | None
    valid: dict


ENDPOINTS = [
    Endpoint("POST", "/api/v1/auth/login", None, {"username": "someone", "password": "x" * 12}),
    Endpoint("PATCH", "/api/v1/auth/me", "nurse", {"language": "en"}),
    Endpoint("POST", "/api/v1/auth/totp/confirm", "nurse", {"code": "123456"}),
    Endpoint("POST", "/api/v1/auth/password", "nurse",
             {"current_password": "x" * 12, "new_password": "y" * 12}),
    Endpoint("DELETE", "/api/v1/auth/totp", "nurse", {"code": "123456"}),
    Endpoint("POST", "/api/v1/patients", "nurse",
             {"reference": "R-1", "name": "Karl Fiktivsen", "diagnosis_group": "cancer"}),
    Endpoint("PATCH", "/api/v1/patients/{patient_id}", "nurse", {"notes": "ok"}),
    Endpoint("POST", "/api/v1/organisations", "admin", {"name": "Ny org", "kind": "hospital"}),
    Endpoint("POST", "/api/v1/users", "admin",
             {"username": "ny.bruger", "display_name": "Ny", "password": "x" * 12, "role": "admin"}),
    Endpoint("PATCH", "/api/v1/users/{user_id}", "admin", {"display_name": "Nyt navn"}),
    Endpoint("PUT", "/api/v1/role-policies/{role}", "admin", {"totp_required": True}),
    Endpoint("POST", "/api/v1/consultations", "nurse",
             {"patient_id": 1, "channel": "video", "urgency": "urgent",
              "isbar": {"situation": "Smerter"}}),
    Endpoint("POST", "/api/v1/consultations/{consultation_id}/escalate", "advisor",
             {"note": "Brug for læge"}),
    Endpoint("PUT", "/api/v1/presence", "advisor", {"status": "away"}),
    Endpoint("POST", "/api/v1/push/subscriptions", "advisor",
             {"endpoint": "https://push.example.com/send/abc",
              "keys": {"p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
                       "auth": "tBHItJI5svbpez7KI4CCXg"}}),
    Endpoint("DELETE", "/api/v1/push/subscriptions", "advisor",
             {"endpoint": "https://push.example.com/send/abc"}),
    Endpoint("POST", "/api/v1/patients/{patient_id}/gp-commitments", "nurse", COMMITMENT),
    Endpoint("POST", "/api/v1/echo-test", "nurse", {"type": "offer", "sdp": "v=0\r\n"}),
    Endpoint("POST", "/api/v1/episodes/{consultation_id}/documentation", "advisor",
             {"disposition": "phone_advice", "advice": "Råd", "follow_up": False}),
    Endpoint("POST", "/api/v1/patients/{patient_id}/course-outcome", "nurse",
             {"course_ended_on": "2026-01-10", "died": True, "place_of_death": "home"}),
    Endpoint("PUT", "/api/v1/patients/{patient_id}/gp-commitments/{commitment_id}", "nurse",
             COMMITMENT),
    Endpoint("POST", "/api/v1/rotas", "admin", {"name": "Ny vagtplan", "tier": "gp"}),
    Endpoint("PATCH", "/api/v1/rotas/{rota_id}", "admin", {"name": "Omdøbt"}),
    Endpoint("POST", "/api/v1/rotas/{rota_id}/layers", "admin", LAYER),
    Endpoint("PUT", "/api/v1/rotas/{rota_id}/layers/{layer_id}", "admin", LAYER),
    Endpoint("POST", "/api/v1/rotas/{rota_id}/layers/{layer_id}/position", "admin", {"position": 0}),
    Endpoint("POST", "/api/v1/rotas/{rota_id}/overrides", "admin",
             {"kind": "add", "clinician_id": 1, "start": "2026-11-02T10:00:00Z",
              "end": "2026-11-02T12:00:00Z"}),
    Endpoint("POST", "/api/v1/rotas/{rota_id}/swaps", "admin",
             {"first_id": 1, "second_id": 2, "first_start": "2026-11-02T10:00:00Z",
              "first_end": "2026-11-02T12:00:00Z", "second_start": "2026-11-03T10:00:00Z",
              "second_end": "2026-11-03T12:00:00Z"}),
]  # fmt: skip

BAD_BODIES = {
    "malformed json": (b'{"name": ', "application/json", 400),
    "not utf-8": (b'{"name": "\xff\xfe"}', "application/json", 400),
    "json array": (b"[1, 2, 3]", "application/json", 422),
    "json string": (b'"hello"', "application/json", 422),
    "json null": (b"null", "application/json", 422),
    "empty body": (b"", "application/json", 400),
    "form encoded": (b"name=x", "application/x-www-form-urlencoded", 415),
    "no content type": (b"{}", "", 415),
    "unknown field": (b'{"surprise": 1}', "application/json", 422),
}


async def snapshot(db) -> dict:
    """Everything a request could have written (session touch times excluded)."""
    tables = {}
    tables_with_rows = (
        "organisations", "users", "patients", "role_policies", "audit_log", "rotas",
        "rota_layers", "rota_participants", "rota_overrides", "rota_swaps", "consultations",
        "consultation_events", "advisor_presence", "push_subscriptions", "gp_commitments",
        "episode_documents", "course_outcomes",
    )  # fmt: skip
    for table in tables_with_rows:
        rows = await db.fetch(f"SELECT * FROM {table} ORDER BY 1")
        tables[table] = [dict(r) for r in rows]
    tables["sessions"] = [
        dict(r) for r in await db.fetch("SELECT token_hash, revoked_at FROM sessions ORDER BY 1")
    ]
    return tables


@pytest.fixture
async def arranged(client, make_user, db):
    """A nurse with a patient, an admin, and a function to log in as either."""
    nurse = await make_user("nurse")
    admin = await make_user("admin")
    await login(client, nurse["username"])
    created = await client.post(
        "/api/v1/patients",
        json={"reference": "EXIST-1", "name": "Agnes Fiktivsen", "diagnosis_group": "cancer"},
    )
    patient_id = (await created.json())["patient"]["id"]
    await client.post("/api/v1/auth/logout")
    client.session.cookie_jar.clear()
    advisor = await make_user("advisor", tier="senior_nurse")
    import datetime as dt

    from advice_line import rota_store
    from tests.conftest import TEST_ACTOR

    rota = await rota_store.create_rota(
        db, TEST_ACTOR, {"name": "Eksisterende", "tier": "senior_nurse"}
    )
    rota = await rota_store.save_layer(db, TEST_ACTOR, rota.id, None, {
        "name": "Døgn", "participants": [advisor["id"]], "shift_length": 1, "unit": "days",
        "handoff": dt.time(8), "start_date": dt.date(2026, 11, 2), "windows": []})  # fmt: skip
    people = {"nurse": nurse, "admin": admin, "advisor": advisor}
    ids = {"patient_id": patient_id, "user_id": nurse["id"], "role": "nurse", "rota_id": rota.id,
           "layer_id": rota.layers[0].id, "consultation_id": 999999, "commitment_id": 999999}  # fmt: skip

    async def as_role(role):
        client.session.cookie_jar.clear()
        client.session.headers.pop("X-CSRF-Token", None)
        if role:
            await login(client, people[role]["username"])

    return as_role, ids


def _ids(endpoint):
    return f"{endpoint.method} {endpoint.path}"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_ids)
@pytest.mark.parametrize("case", list(BAD_BODIES))
async def test_bad_bodies_get_a_problem_and_change_nothing(client, db, arranged, endpoint, case):
    as_role, ids = arranged
    await as_role(endpoint.role)
    body, content_type, status = BAD_BODIES[case]
    before = await snapshot(db)
    headers = {"Content-Type": content_type} if content_type else {}
    if not content_type:
        headers["Content-Type"] = ""
    response = await client.request(
        endpoint.method, endpoint.path.format(**ids), data=body, headers=headers
    )
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    problem = await response.json()
    assert problem["status"] == status
    assert problem["type"].startswith("https://") and problem["title"]
    if status == 422:
        assert problem["errors"], "validation problems name the offending fields"
    assert await snapshot(db) == before


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_ids)
async def test_wrong_types_name_every_offending_field(client, db, arranged, endpoint):
    as_role, ids = arranged
    await as_role(endpoint.role)
    before = await snapshot(db)
    wrong = {
        name: ([] if isinstance(value, str) else "not-a-bool")
        for name, value in endpoint.valid.items()
    }
    response = await client.request(endpoint.method, endpoint.path.format(**ids), json=wrong)
    assert response.status == 422
    fields = {e["field"] for e in (await response.json())["errors"]}
    assert fields == set(endpoint.valid)
    assert await snapshot(db) == before


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_ids)
async def test_oversize_bodies_are_refused(
    aiohttp_client, settings, db, arranged, endpoint, make_user
):
    _, ids = arranged
    client = await aiohttp_client(create_app(settings.replace(max_body_bytes=4096)))
    user = None
    if endpoint.role:
        user = await make_user(endpoint.role)
        await login(client, user["username"])
    before = await snapshot(db)
    huge = {**endpoint.valid, "padding": "x" * 10_000}
    response = await client.request(endpoint.method, endpoint.path.format(**ids), json=huge)
    assert response.status == 413
    assert response.content_type == "application/problem+json"
    assert await snapshot(db) == before


async def test_every_endpoint_with_a_body_is_covered_here(client):
    document = openapi.build(client.app)
    with_body = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    }
    covered = {(e.method, e.path) for e in ENDPOINTS}
    assert with_body == covered


@pytest.mark.parametrize(
    "path",
    ["/api/v1/patients/abc", "/api/v1/patients/-1", "/api/v1/patients/99999999999999999999",
     "/api/v1/patients/1.5"],
)  # fmt: skip
async def test_malformed_ids_are_not_found(client, login_as, path):
    await login_as("nurse")
    response = await client.get(path)
    assert response.status == 404
    assert response.content_type == "application/problem+json"


@pytest.mark.parametrize(
    "query", [{"limit": "0"}, {"limit": "201"}, {"limit": "ten"}, {"q": "x" * 101}]
)
async def test_bad_patient_search_parameters(client, login_as, query):
    await login_as("nurse")
    response = await client.get("/api/v1/patients", params=query)
    assert response.status == 400


async def test_unknown_route_and_wrong_method_are_problems(client):
    missing = await client.get("/api/v1/nothing-here")
    assert missing.status == 404
    assert missing.content_type == "application/problem+json"
    wrong = await client.delete("/api/v1/patients")
    assert wrong.status == 405
    assert wrong.content_type == "application/problem+json"
    assert "GET" in wrong.headers["Allow"]
