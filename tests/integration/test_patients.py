"""Patients: access by organisation and role, every read audited, the audit log append-only."""

from __future__ import annotations

import asyncpg
import pytest

from tests.conftest import login

PATIENT = {
    "reference": "P-100",
    "name": "Karl Fiktivsen",
    "diagnosis_group": "non_cancer",
    "treatment_level": "limited",
    "treatment_limitations": "Undgå indlæggelse",
    "dnr": True,
    "dnr_decided_by": "Dr. Demosen",
    "dnr_decided_on": "2026-10-01",
    "living_will": True,
    "preferred_place_of_death": "home",
    "people_present": "Datter",
    "notes": "Fiktiv",
}


async def create_patient(client, **changes):
    response = await client.post("/api/v1/patients", json={**PATIENT, **changes})
    assert response.status == 201, await response.text()
    return (await response.json())["patient"]


async def audit_rows(db, action=None):
    return await db.fetch(
        "SELECT * FROM audit_log WHERE ($1::text IS NULL OR action = $1) ORDER BY id", action
    )


async def test_nurse_creates_and_reads_a_patient_with_the_care_plan(client, login_as, make_org):
    await login_as("nurse")
    gp = await make_org(kind="gp_practice")
    created = await create_patient(client, gp_practice_id=gp["id"])
    response = await client.get(f"/api/v1/patients/{created['id']}")
    assert response.status == 200
    patient = (await response.json())["patient"]
    assert patient["dnr"] is True
    assert patient["treatment_level"] == "limited"
    assert patient["gp_practice_name"] == gp["name"]
    assert patient["dnr_decided_on"] == "2026-10-01"


async def test_reading_a_patient_writes_exactly_one_audit_row(client, login_as, db):
    nurse = await login_as("nurse")
    created = await create_patient(client)
    before = len(await audit_rows(db))
    await client.get(f"/api/v1/patients/{created['id']}")
    rows = (await audit_rows(db))[before:]
    assert len(rows) == 1
    row = rows[0]
    assert row["action"] == "patient.read"
    assert row["actor_id"] == nurse["id"]
    assert row["patient_id"] == created["id"]
    assert row["reason"] == "own organisation"
    assert row["ip"] and row["request_id"]


async def test_listing_patients_audits_which_patients_were_shown(client, login_as, db):
    await login_as("nurse")
    first = await create_patient(client, reference="A-1", name="Agnes Fiktivsen")
    second = await create_patient(client, reference="B-1", name="Børge Demosen")
    response = await client.get("/api/v1/patients", params={"q": "fiktiv"})
    found = (await response.json())["patients"]
    assert [p["id"] for p in found] == [first["id"]]
    row = (await audit_rows(db, "patient.list"))[-1]
    assert row["details"]["patient_ids"] == [first["id"]]
    assert second["id"] not in row["details"]["patient_ids"]


async def test_search_treats_wildcards_literally(client, login_as):
    await login_as("nurse")
    await create_patient(client, reference="A-1", name="Agnes Fiktivsen")
    response = await client.get("/api/v1/patients", params={"q": "%"})
    assert (await response.json())["patients"] == []


async def test_patients_of_another_organisation_are_invisible(client, make_user, db):
    owner = await make_user("nurse")
    outsider = await make_user("nurse")  # another home-care organisation
    await login(client, owner["username"])
    created = await create_patient(client)
    await client.post("/api/v1/auth/logout")
    client.session.cookie_jar.clear()
    await login(client, outsider["username"])
    assert (await client.get(f"/api/v1/patients/{created['id']}")).status == 404
    patched = await client.patch(f"/api/v1/patients/{created['id']}", json={"dnr": False})
    assert patched.status == 404
    listed = await (await client.get("/api/v1/patients")).json()
    assert listed["patients"] == []
    assert await db.fetchval("SELECT dnr FROM patients WHERE id = $1", created["id"]) is True
    assert not await audit_rows(db, "patient.read")


async def test_coordinator_manages_patients_of_own_organisation(client, make_user, db):
    nurse = await make_user("nurse")
    coordinator = await make_user("coordinator", organisation_id=nurse["organisation_id"])
    await login(client, nurse["username"])
    created = await create_patient(client)
    await client.post("/api/v1/auth/logout")
    client.session.cookie_jar.clear()
    await login(client, coordinator["username"])
    assert (await client.get(f"/api/v1/patients/{created['id']}")).status == 200


@pytest.mark.parametrize("role", ["advisor", "admin"])
async def test_advisors_and_admins_have_no_direct_patient_access(client, make_user, role):
    nurse = await make_user("nurse")
    await login(client, nurse["username"])
    created = await create_patient(client)
    await client.post("/api/v1/auth/logout")
    client.session.cookie_jar.clear()
    other = await make_user(role)
    await login(client, other["username"])
    assert (await client.get(f"/api/v1/patients/{created['id']}")).status == 404
    assert (await client.get("/api/v1/patients")).status == 403
    assert (await client.post("/api/v1/patients", json=PATIENT)).status == 403


async def test_anonymous_requests_are_refused(client):
    assert (await client.get("/api/v1/patients")).status == 401
    assert (await client.get("/api/v1/patients/1")).status == 401
    assert (await client.post("/api/v1/patients", json=PATIENT)).status == 401


async def test_update_records_what_changed_with_structured_decisions(client, login_as, db):
    await login_as("nurse")
    created = await create_patient(client)
    response = await client.patch(
        f"/api/v1/patients/{created['id']}", json={"dnr": False, "notes": "Ny note"}
    )
    assert response.status == 200
    assert (await response.json())["patient"]["dnr"] is False
    row = (await audit_rows(db, "patient.update"))[-1]
    assert row["details"]["changed"] == ["dnr", "notes"]
    assert row["details"]["before"] == {"dnr": True}
    assert row["details"]["after"] == {"dnr": False}
    assert "Ny note" not in str(row["details"]), "free text stays out of the audit log"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"treatment_level": "limited", "treatment_limitations": ""}, "treatment_limitations"),
        ({"dnr": True, "dnr_decided_by": ""}, "dnr_decided_by"),
        ({"gp_practice_id": 999999}, "gp_practice_id"),
    ],
)
async def test_care_plan_rules_are_enforced(client, login_as, db, changes, field):
    await login_as("nurse")
    response = await client.post("/api/v1/patients", json={**PATIENT, **changes})
    assert response.status == 422
    assert field in [e["field"] for e in (await response.json())["errors"]]
    assert await db.fetchval("SELECT count(*) FROM patients") == 0


async def test_a_home_care_org_is_not_a_gp_practice(client, login_as):
    nurse = await login_as("nurse")
    response = await client.post(
        "/api/v1/patients", json={**PATIENT, "gp_practice_id": nurse["organisation_id"]}
    )
    assert response.status == 422


async def test_duplicate_reference_in_the_organisation(client, login_as, db):
    await login_as("nurse")
    await create_patient(client)
    response = await client.post("/api/v1/patients", json=PATIENT)
    assert response.status == 422
    assert (await response.json())["errors"][0]["field"] == "reference"
    assert await db.fetchval("SELECT count(*) FROM patients") == 1


async def test_audit_log_refuses_update_delete_and_truncate(db, login_as, client):
    await login_as("nurse")
    await create_patient(client)
    for statement in (
        "UPDATE audit_log SET reason = 'tampered'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await db.execute(statement)
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE reason = 'tampered'") == 0


async def test_admin_exports_every_access_to_one_patient(client, make_user, db):
    nurse = await make_user("nurse")
    await login(client, nurse["username"])
    created = await create_patient(client)
    other = await create_patient(client, reference="P-200", name="Inger Opdigtsen")
    await client.get(f"/api/v1/patients/{created['id']}")
    await client.get(f"/api/v1/patients/{other['id']}")
    await client.get("/api/v1/patients")
    await client.post("/api/v1/auth/logout")
    client.session.cookie_jar.clear()
    admin = await make_user("admin")
    await login(client, admin["username"])

    response = await client.get(f"/api/v1/audit/patients/{created['id']}/export?format=json")
    assert response.status == 200
    actions = [e["action"] for e in (await response.json())["entries"]]
    assert actions == ["patient.create", "patient.read", "patient.list"]
    csv_response = await client.get(f"/api/v1/audit/patients/{created['id']}/export")
    assert csv_response.content_type == "text/csv"
    text = await csv_response.text()
    assert text.splitlines()[0] == "at,actor_username,action,reason,ip,details"
    assert nurse["username"] in text
    exports = await audit_rows(db, "audit.export")
    assert len(exports) == 2 and exports[0]["patient_id"] == created["id"]
    assert (await client.get("/api/v1/audit/patients/999999/export")).status == 404


async def test_only_admins_read_the_audit_log(client, login_as):
    await login_as("coordinator")
    assert (await client.get("/api/v1/audit")).status == 403


async def test_audit_search_filters(client, make_user):
    nurse = await make_user("nurse")
    await login(client, nurse["username"])
    created = await create_patient(client)
    await client.get(f"/api/v1/patients/{created['id']}")
    await client.post("/api/v1/auth/logout")
    client.session.cookie_jar.clear()
    admin = await make_user("admin")
    await login(client, admin["username"])
    response = await client.get(
        "/api/v1/audit", params={"action": "patient.read", "actor_id": str(nurse["id"])}
    )
    entries = (await response.json())["entries"]
    assert [e["action"] for e in entries] == ["patient.read"]
    for bad in (
        {"from": "yesterday"},
        {"from": "2026-01-01T00:00:00"},
        {"limit": "0"},
        {"actor_id": "x"},
    ):
        assert (await client.get("/api/v1/audit", params=bad)).status == 400
