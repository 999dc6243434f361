"""The FHIR R4 export of an episode on a real server: made through the API (escalated,
documented and amended), read as a Bundle, validated with fhir.resources (R4B, whose
Encounter, Communication, Task, Patient, Practitioner and Organization are R4's), the same
access and audit as reading the episode, and bad ids 404."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from fhir.resources.R4B.bundle import Bundle

from tests.integration.routing_helpers import Person, on_duty_always
from tests.integration.test_episodes import DOC, answered, ask, audit_rows, world  # noqa: F401


async def get_fhir(person: Person, cid: int | str) -> tuple[int, str, Any]:
    response = await person.session.get(f"/api/v1/episodes/{cid}/fhir")
    text = await response.text()
    return response.status, response.content_type, json.loads(text)


def resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


async def test_an_escalated_amended_episode_as_a_valid_bundle(world: dict[str, Any]) -> None:  # noqa: F811
    senior = await (await world["person"]("advisor", tier="senior_nurse")).connect()
    gp = await (await world["person"]("advisor", tier="gp")).connect()
    await on_duty_always(world["db"], "senior_nurse", [senior.id])
    await on_duty_always(world["db"], "gp", [gp.id])
    cid = await ask(world)
    await senior.wait_for("consultation.ringing")
    await senior.call("POST", f"/api/v1/consultations/{cid}/accept")
    await senior.call(
        "POST", f"/api/v1/consultations/{cid}/escalate", json={"note": "Behov for læge"}
    )
    await gp.wait_for("consultation.ringing")
    await gp.call("POST", f"/api/v1/consultations/{cid}/accept")
    await gp.call("POST", f"/api/v1/consultations/{cid}/end")
    assert (await gp.call("POST", f"/api/v1/episodes/{cid}/documentation", json=DOC))[0] == 201
    amended = {**DOC, "disposition": "gp_visit", "amendment_reason": "Lægen kører ud"}
    assert (await gp.call("POST", f"/api/v1/episodes/{cid}/documentation", json=amended))[0] == 201

    status, content_type, bundle = await get_fhir(world["nurse"], cid)
    assert status == 200, bundle
    assert content_type == "application/fhir+json"
    Bundle.model_validate(bundle)  # R4 structure, every resource and datatype
    assert bundle["type"] == "collection"
    [encounter] = resources(bundle, "Encounter")
    assert encounter["class"]["code"] == "VR"
    assert encounter["class"]["system"] == "http://terminology.hl7.org/CodeSystem/v3-ActCode"
    assert encounter["priority"]["coding"][0]["code"] == "UR"
    assert encounter["period"]["start"].endswith("Z")
    consultants = [
        p for p in encounter["participant"] if p["type"][0]["coding"][0]["code"] == "CON"
    ]
    assert len(consultants) == 2
    [patient] = resources(bundle, "Patient")
    assert patient["identifier"][0]["value"] == "R-1"
    assert "name" not in patient and "Fiktivsen" not in json.dumps(bundle)
    current, earlier = resources(bundle, "Communication")
    assert current["meta"]["tag"][0]["code"] == "current"
    assert current["category"][0]["coding"][0]["code"] == "gp_visit"
    assert "Lægen kører ud" in current["note"][0]["text"]
    assert earlier["meta"]["tag"][0]["code"] == "superseded"
    assert earlier["payload"][0]["contentString"] == DOC["advice"]
    [task] = resources(bundle, "Task")
    assert task["description"] == "Behov for læge" and task["status"] == "completed"
    assert task["performerType"][0]["coding"][0]["code"] == "gp"
    practitioners = {r["id"]: r for r in resources(bundle, "Practitioner")}
    assert task["owner"]["display"] == gp.user["display_name"]
    assert f"user-{gp.id}" in practitioners and f"user-{senior.id}" in practitioners
    assert resources(bundle, "Observation") == []  # no structured scores are stored
    # Every reference points at an entry of the bundle.
    urls = {e["fullUrl"] for e in bundle["entry"]}
    assert encounter["subject"]["reference"] in urls
    assert task["owner"]["reference"] in urls and current["sender"]["reference"] in urls
    # The same audit as reading it: one episode.read by the nurse.
    reads = await audit_rows(world["db"], "episode.read")
    assert [(r["actor_id"], r["target_id"], r["reason"]) for r in reads] == [
        (world["nurse"].id, str(cid), "nurse who asked")
    ]
    # Exported twice: the same bundle but for its timestamp.
    again = (await get_fhir(senior, cid))[2]
    assert {**again, "timestamp": None} == {**bundle, "timestamp": None}


async def test_an_unanswered_undocumented_episode(world: dict[str, Any]) -> None:  # noqa: F811
    cid = await ask(world)
    await world["nurse"].call("POST", f"/api/v1/consultations/{cid}/cancel")
    status, _, bundle = await get_fhir(world["nurse"], cid)
    assert status == 200
    Bundle.model_validate(bundle)
    [encounter] = resources(bundle, "Encounter")
    assert encounter["status"] == "cancelled"
    assert resources(bundle, "Communication") == resources(bundle, "Task") == []


@pytest.mark.parametrize("bad", ["0", "abc", "-1", "1.5", "99999999", "9" * 30])
async def test_bad_or_unknown_ids_are_404_and_nothing_is_audited(
    world: dict[str, Any],  # noqa: F811
    bad: str,
) -> None:
    before = await world["db"].fetchval("SELECT count(*) FROM audit_log")
    response = await world["nurse"].session.get(f"/api/v1/episodes/{bad}/fhir")
    assert response.status == 404
    assert response.content_type == "application/problem+json"
    assert await world["db"].fetchval("SELECT count(*) FROM audit_log") == before


async def test_someone_else_gets_404(world: dict[str, Any]) -> None:  # noqa: F811
    cid, _ = await answered(world)
    other_org = await world["make_org"](kind="home_care")
    stranger = await world["person"]("nurse", organisation_id=other_org["id"])
    before = await world["db"].fetchval("SELECT count(*) FROM audit_log")
    response = await stranger.session.get(f"/api/v1/episodes/{cid}/fhir")
    assert response.status == 404
    assert await world["db"].fetchval("SELECT count(*) FROM audit_log") == before


async def test_without_a_session_it_is_401(world: dict[str, Any]) -> None:  # noqa: F811
    cid = await ask(world)
    async with aiohttp.ClientSession(base_url=world["nurse"].base) as anonymous:
        response = await anonymous.get(f"/api/v1/episodes/{cid}/fhir")
        assert response.status == 401
