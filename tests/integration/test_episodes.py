"""Advice episodes on a real server: document, amend, read, list; course outcomes; who may
do what; every read audited; bad input refused with nothing written."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from advice_line.app import create_app
from tests.integration.routing_helpers import Person, on_duty_always

ISBAR = {"situation": "Uro og smerter", "background": "KOL", "assessment": "TOBS 5",
         "request": "Råd om medicin"}  # fmt: skip
DOC = {"disposition": "phone_advice", "advice": "Giv 5 mg morfin s.c.", "follow_up": True,
       "follow_up_note": "Ring igen kl. 8"}  # fmt: skip


@pytest.fixture
async def world(aiohttp_server, settings, make_user, make_org, db):
    """A server, a home-care organisation with a nurse, a coordinator and a patient, and
    a way to sign in more people."""
    app = create_app(settings)
    server = await aiohttp_server(app)
    home = await make_org(kind="home_care")
    patient = await db.fetchrow(
        """INSERT INTO patients (reference, organisation_id, name, diagnosis_group, dnr,
                                 dnr_decided_by, preferred_place_of_death)
           VALUES ('R-1', $1, 'Karl Fiktivsen', 'non_cancer', true, 'Dr. Demosen', 'home')
           RETURNING id""",
        home["id"],
    )
    people: list[Person] = []

    async def person(role: str, **kwargs: Any) -> Person:
        if role in ("nurse", "coordinator") and "organisation_id" not in kwargs:
            kwargs["organisation_id"] = home["id"]
        p = await Person(str(server.make_url("/")), await make_user(role, **kwargs)).login()
        people.append(p)
        return p

    nurse = await person("nurse")
    yield {"nurse": nurse, "patient_id": patient["id"], "person": person, "db": db,
           "home": home, "make_org": make_org}  # fmt: skip
    for p in people:
        await p.close()


async def ask(world: dict[str, Any]) -> int:
    status, body = await world["nurse"].call("POST", "/api/v1/consultations", json={
        "patient_id": world["patient_id"], "channel": "video", "urgency": "urgent",
        "isbar": ISBAR})  # fmt: skip
    assert status == 201, body
    return int(body["consultation"]["id"])


async def answered(world: dict[str, Any], *, end: bool = True) -> tuple[int, Person]:
    """A call a senior nurse accepted (and ended, so it is in wrap-up)."""
    senior = await (await world["person"]("advisor", tier="senior_nurse")).connect()
    await on_duty_always(world["db"], "senior_nurse", [senior.id])
    cid = await ask(world)
    await senior.wait_for("consultation.ringing")
    assert (await senior.call("POST", f"/api/v1/consultations/{cid}/accept"))[0] == 200
    if end:
        _, body = await world["nurse"].call("POST", f"/api/v1/consultations/{cid}/end")
        assert body["consultation"]["state"] == "wrap_up", body
    return cid, senior


async def counts(db: Any) -> dict[str, int]:
    """How many rows a request could have written."""
    tables = ("episode_documents", "course_outcomes", "audit_log", "consultation_events")
    return {t: await db.fetchval(f"SELECT count(*) FROM {t}") for t in tables}


async def audit_rows(db: Any, action: str) -> list[Any]:
    return await db.fetch("SELECT * FROM audit_log WHERE action = $1 ORDER BY id", action)


# Documenting -------------------------------------------------------------------------------


async def test_escalated_call_documented_and_read_as_a_whole_episode(world):
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
    await senior.call("POST", f"/api/v1/consultations/{cid}/leave")
    status, body = await gp.call("POST", f"/api/v1/consultations/{cid}/end")
    assert body["consultation"]["state"] == "wrap_up"

    status, body = await gp.call("POST", f"/api/v1/episodes/{cid}/documentation", json=DOC)
    assert status == 201, body
    assert body["documentation"]["version"] == 1 and body["state"] == "ended"
    # The senior nurse who handed over took part too and may document (no wrap-up left).
    status, body = await senior.call("GET", f"/api/v1/episodes/{cid}")
    assert status == 200, body
    episode = body["episode"]
    assert episode["patient"]["name"] == "Karl Fiktivsen" and episode["patient"]["dnr"] is True
    assert episode["nurse"]["name"] == world["nurse"].user["display_name"]
    assert episode["isbar"]["situation"] == "Uro og smerter"
    facts = episode["facts"]
    assert facts["outcome"] == "completed" and facts["highest_tier"] == "gp"
    assert [t["tier"] for t in facts["tiers"]] == ["senior_nurse", "gp"]
    assert facts["tiers"][0]["answered_by"]["id"] == senior.id
    assert facts["tiers"][0]["seconds_to_answer"] >= 0
    assert facts["tiers"][1]["answered_by"]["name"] == gp.user["display_name"]
    assert facts["answered_by"]["id"] == senior.id
    assert facts["escalations"][0]["note"] == "Behov for læge"
    assert facts["escalations"][0]["result"] == "answered"
    assert {p["advisor"]["id"] for p in facts["participations"]} == {senior.id, gp.id}
    assert facts["call_seconds"] >= 0 and facts["quality"]["reports"] == 0
    types = [e["type"] for e in episode["timeline"]]
    assert "wrap_up_done" in types and types[-1] == "completed"
    accepted = [e for e in episode["timeline"] if e["type"] == "accepted"]
    assert accepted[0]["actor"]["name"] == senior.user["display_name"]
    assert episode["documentation"]["author_name"] == gp.user["display_name"]
    assert episode["documentation"]["advice"] == DOC["advice"]
    assert episode["earlier_versions"] == [] and episode["needs_documentation"] is False
    assert episode["took_part"] is True and episode["may_document"] is True


async def test_documenting_in_wrap_up_frees_the_advisor_like_wrap_up_done(world):
    cid, senior = await answered(world)
    assert (await senior.call("GET", "/api/v1/presence"))[1]["status"] == "wrap_up"
    status, body = await senior.call("POST", f"/api/v1/episodes/{cid}/documentation", json=DOC)
    assert status == 201 and body["state"] == "ended"
    assert (await senior.call("GET", "/api/v1/presence"))[1]["status"] == "available"
    types = [r["type"] for r in await world["db"].fetch(
        "SELECT type FROM consultation_events WHERE consultation_id = $1 ORDER BY id", cid)]  # fmt: skip
    assert types[-2:] == ["wrap_up_done", "completed"]
    row = (await audit_rows(world["db"], "episode.document"))[-1]
    assert row["actor_id"] == senior.id and row["patient_id"] == world["patient_id"]
    assert row["details"] == {"version": 1, "disposition": "phone_advice", "follow_up": True,
                              "amendment": False}  # fmt: skip


async def test_an_amendment_needs_a_reason_and_keeps_the_earlier_version(world):
    cid, senior = await answered(world)
    await senior.call("POST", f"/api/v1/episodes/{cid}/documentation", json=DOC)
    before = await counts(world["db"])
    changed = {**DOC, "disposition": "nurse_visit", "advice": "Sygeplejerske kører ud"}
    status, body = await senior.call("POST", f"/api/v1/episodes/{cid}/documentation", json=changed)
    assert status == 422
    assert body["errors"] == [{"field": "amendment_reason", "code": "reason_needed",
                               "message": "say why the documentation is amended"}]  # fmt: skip
    assert await counts(world["db"]) == before
    amended = {**changed, "amendment_reason": "Forkert udfald valgt"}
    status, body = await senior.call("POST", f"/api/v1/episodes/{cid}/documentation", json=amended)
    assert status == 201 and body["documentation"]["version"] == 2
    assert body["state"] == "ended"  # documenting after the wrap-up is allowed
    episode = (await senior.call("GET", f"/api/v1/episodes/{cid}"))[1]["episode"]
    assert episode["documentation"]["disposition"] == "nurse_visit"
    assert episode["documentation"]["amendment_reason"] == "Forkert udfald valgt"
    assert [v["version"] for v in episode["earlier_versions"]] == [1]
    assert episode["earlier_versions"][0]["advice"] == DOC["advice"]


async def test_two_saves_at_once_get_versions_one_and_two(world):
    cid, senior = await answered(world)
    body = {**DOC, "amendment_reason": "Samtidig gemning"}
    results = await asyncio.gather(*(
        senior.call("POST", f"/api/v1/episodes/{cid}/documentation", json=body) for _ in range(2)
    ))  # fmt: skip
    assert sorted(status for status, _ in results) == [201, 201]
    assert sorted(b["documentation"]["version"] for _, b in results) == [1, 2]
    rows = await world["db"].fetch(
        "SELECT version FROM episode_documents WHERE consultation_id = $1 ORDER BY version", cid
    )
    assert [r["version"] for r in rows] == [1, 2]


async def test_two_first_saves_at_once_without_a_reason_one_is_an_amendment(world):
    cid, senior = await answered(world)
    results = await asyncio.gather(*(
        senior.call("POST", f"/api/v1/episodes/{cid}/documentation", json=DOC) for _ in range(2)
    ))  # fmt: skip
    assert sorted(status for status, _ in results) == [201, 422]
    assert await world["db"].fetchval("SELECT count(*) FROM episode_documents") == 1


async def test_documentation_is_append_only(world):
    cid, senior = await answered(world)
    await senior.call("POST", f"/api/v1/episodes/{cid}/documentation", json=DOC)
    with pytest.raises(Exception, match="append-only"):
        await world["db"].execute("UPDATE episode_documents SET advice = 'x'")
    with pytest.raises(Exception, match="append-only"):
        await world["db"].execute("DELETE FROM episode_documents")


async def test_who_may_document(world):
    cid, senior = await answered(world, end=False)
    # While the call is on, it cannot be documented yet.
    status, body = await senior.call("POST", f"/api/v1/episodes/{cid}/documentation", json=DOC)
    assert status == 409 and body["type"].endswith("/not-documentable")
    await world["nurse"].call("POST", f"/api/v1/consultations/{cid}/end")
    outsider = await world["person"]("advisor", tier="senior_nurse")
    before = await counts(world["db"])
    status, body = await outsider.call("POST", f"/api/v1/episodes/{cid}/documentation", json=DOC)
    assert status == 404
    status, body = await world["nurse"].call(
        "POST", f"/api/v1/episodes/{cid}/documentation", json=DOC
    )
    assert status == 403
    status, _ = await senior.call("POST", "/api/v1/episodes/999999/documentation", json=DOC)
    assert status == 404
    assert await counts(world["db"]) == before


async def test_an_advisor_offered_the_call_but_not_in_it_reads_but_cannot_document(world):
    senior = await (await world["person"]("advisor", tier="senior_nurse")).connect()
    other = await (await world["person"]("advisor", tier="senior_nurse")).connect()
    await on_duty_always(world["db"], "senior_nurse", [senior.id, other.id])
    cid = await ask(world)
    await other.wait_for("consultation.ringing")
    await senior.call("POST", f"/api/v1/consultations/{cid}/accept")
    await senior.call("POST", f"/api/v1/consultations/{cid}/end")
    before = await counts(world["db"])
    status, body = await other.call("POST", f"/api/v1/episodes/{cid}/documentation", json=DOC)
    assert status == 403 and body["type"].endswith("/not-participant")
    assert await counts(world["db"]) == before
    status, body = await other.call("GET", f"/api/v1/episodes/{cid}")
    assert status == 200 and body["episode"]["may_document"] is False


BAD_DOCS = [
    ({**DOC, "advice": ""}, "advice", "required"),
    ({**DOC, "advice": "x" * 8001}, "advice", "too_long"),
    ({**DOC, "follow_up_note": "x" * 2001}, "follow_up_note", "too_long"),
    ({**DOC, "amendment_reason": "x" * 501}, "amendment_reason", "too_long"),
    ({**DOC, "amendment_reason": ""}, "amendment_reason", "required"),
    ({**DOC, "disposition": "cured"}, "disposition", "choice"),
    ({**DOC, "follow_up": "yes"}, "follow_up", "not_boolean"),
    ({k: v for k, v in DOC.items() if k != "advice"}, "advice", "required"),
    ({**DOC, "surprise": 1}, "surprise", "unknown_field"),
]


@pytest.mark.parametrize(("body", "field", "code"), BAD_DOCS)
async def test_bad_documentation_is_refused_and_nothing_written(world, body, field, code):
    cid, senior = await answered(world)
    before = await counts(world["db"])
    status, problem = await senior.call("POST", f"/api/v1/episodes/{cid}/documentation", json=body)
    assert status == 422
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [(field, code)]
    assert await counts(world["db"]) == before
    assert (await senior.call("GET", "/api/v1/presence"))[1]["status"] == "wrap_up"


async def test_the_largest_allowed_documentation_is_saved(world):
    cid, senior = await answered(world)
    body = {**DOC, "advice": "x" * 8000, "follow_up_note": "y" * 2000,
            "amendment_reason": "z" * 500}  # fmt: skip
    status, saved = await senior.call("POST", f"/api/v1/episodes/{cid}/documentation", json=body)
    assert status == 201 and len(saved["documentation"]["advice"]) == 8000


# Reading -----------------------------------------------------------------------------------


async def test_who_may_read_an_episode_and_every_read_is_audited(world):
    cid, senior = await answered(world)
    coordinator = await world["person"]("coordinator")
    other_org = await world["make_org"](kind="home_care")
    stranger_nurse = await world["person"]("nurse", organisation_id=other_org["id"])
    stranger_coordinator = await world["person"]("coordinator", organisation_id=other_org["id"])
    outsider = await world["person"]("advisor", tier="senior_nurse")
    admin = await world["person"]("admin")
    for reader, reason in ((world["nurse"], "nurse who asked"),
                           (senior, "advisor of the consultation"),
                           (coordinator, "own organisation")):  # fmt: skip
        before = len(await audit_rows(world["db"], "episode.read"))
        status, body = await reader.call("GET", f"/api/v1/episodes/{cid}")
        assert status == 200, body
        rows = (await audit_rows(world["db"], "episode.read"))[before:]
        assert len(rows) == 1
        assert rows[0]["actor_id"] == reader.id and rows[0]["reason"] == reason
        assert rows[0]["patient_id"] == world["patient_id"] and rows[0]["target_id"] == str(cid)
    assert (await world["nurse"].call("GET", f"/api/v1/episodes/{cid}"))[1]["episode"][
        "may_document"
    ] is False
    before = await counts(world["db"])
    for reader in (stranger_nurse, stranger_coordinator, outsider, admin):
        status, body = await reader.call("GET", f"/api/v1/episodes/{cid}")
        assert status == 404, (reader.user["role"], body)
        assert body["type"].endswith("/not-found")
    for path in ("/api/v1/episodes/999999", "/api/v1/episodes/abc"):
        assert (await world["nurse"].call("GET", path))[0] == 404
    assert await counts(world["db"]) == before


async def test_reading_needs_a_session(world, aiohttp_client, settings):
    cid, _ = await answered(world)
    anonymous = await aiohttp_client(create_app(settings))
    assert (await anonymous.get(f"/api/v1/episodes/{cid}")).status == 401
    assert (await anonymous.get("/api/v1/episodes")).status == 401


# Listing -----------------------------------------------------------------------------------


async def test_my_recent_episodes_flag_the_undocumented(world):
    cid, senior = await answered(world)
    status, body = await senior.call("GET", "/api/v1/episodes?mine=true")
    assert status == 200
    [item] = body["episodes"]
    assert item["id"] == cid and item["needs_documentation"] is True
    assert item["may_document"] is True and item["patient"]["name"] == "Karl Fiktivsen"
    assert item["advisors"] == [{"id": senior.id, "name": senior.user["display_name"],
                                 "tier": "senior_nurse"}]  # fmt: skip
    row = (await audit_rows(world["db"], "episode.list"))[-1]
    assert row["details"]["patient_ids"] == [world["patient_id"]]
    await senior.call("POST", f"/api/v1/episodes/{cid}/documentation", json=DOC)
    [item] = (await senior.call("GET", "/api/v1/episodes?mine=true"))[1]["episodes"]
    assert item["documented"] is True and item["disposition"] == "phone_advice"
    assert item["outcome"] == "completed" and item["needs_documentation"] is False
    [mine] = (await world["nurse"].call("GET", "/api/v1/episodes?mine=true"))[1]["episodes"]
    assert mine["id"] == cid and mine["may_document"] is False
    outsider = await world["person"]("advisor", tier="gp")
    assert (await outsider.call("GET", "/api/v1/episodes?mine=true"))[1]["episodes"] == []


async def test_coordinators_filter_their_organisations_episodes(world):
    first, senior = await answered(world)
    await senior.call("POST", f"/api/v1/episodes/{first}/documentation", json=DOC)
    second = await ask(world)  # nobody else is on duty: it stays open, never answered
    await senior.wait_for("consultation.ringing", consultation__id=second)
    await senior.call("POST", f"/api/v1/consultations/{second}/accept")
    await senior.call("POST", f"/api/v1/consultations/{second}/end")
    third = await ask(world)
    await world["nurse"].call("POST", f"/api/v1/consultations/{third}/cancel")
    coordinator = await world["person"]("coordinator")

    async def ids(query: str = "") -> list[int]:
        status, body = await coordinator.call("GET", "/api/v1/episodes" + query)
        assert status == 200, body
        return [e["id"] for e in body["episodes"]]

    assert await ids() == [third, second, first]
    assert await ids("?undocumented=true") == [second]
    assert await ids("?outcome=cancelled") == [third]
    assert await ids("?outcome=completed") == [first]
    assert await ids("?outcome=open") == [second]
    assert await ids("?disposition=phone_advice") == [first]
    assert await ids(f"?organisation_id={world['home']['id']}") == [third, second, first]
    today = dt.datetime.now(ZoneInfo("Europe/Copenhagen")).date()  # the filter's dates are local
    tomorrow = today + dt.timedelta(days=1)
    assert await ids(f"?from={tomorrow}") == []
    assert await ids(f"?from={today - dt.timedelta(days=1)}&to={tomorrow}") == [
        third,
        second,
        first,
    ]
    assert await ids("?to=2020-01-01T00:00:00Z") == []
    _, body = await coordinator.call("GET", "/api/v1/episodes?limit=2")
    assert [e["id"] for e in body["episodes"]] == [third, second]
    assert await ids(f"?limit=2&before={body['next_before']}") == [first]
    last_page = (await coordinator.call("GET", f"/api/v1/episodes?limit=2&before={second}"))[1]
    assert last_page["next_before"] is None
    elsewhere = await world["make_org"](kind="home_care")
    stranger = await world["person"]("coordinator", organisation_id=elsewhere["id"])
    assert (await stranger.call("GET", "/api/v1/episodes"))[1]["episodes"] == []
    assert (await stranger.call("GET", f"/api/v1/episodes?organisation_id={world['home']['id']}"))[
        1
    ]["episodes"] == []


BAD_FILTERS = [
    ("mine=yes", "mine", "not_boolean"),
    ("undocumented=1", "undocumented", "not_boolean"),
    ("from=yesterday", "from", "not_date"),
    ("to=2026-02-30", "to", "not_date"),
    ("from=2026-01-01T10:00:00", "from", "not_date"),
    ("from=2026-02-01&to=2026-01-01", "to", "end_before_start"),
    ("organisation_id=abc", "organisation_id", "not_integer"),
    ("organisation_id=0", "organisation_id", "too_small"),
    ("outcome=great", "outcome", "choice"),
    ("disposition=cured", "disposition", "choice"),
    ("limit=0", "limit", "too_small"),
    ("limit=101", "limit", "too_large"),
    ("before=-3", "before", "not_integer"),
    ("colour=red", "colour", "unknown_field"),
]


@pytest.mark.parametrize(("query", "field", "code"), BAD_FILTERS)
async def test_bad_filters_are_a_400_naming_each(world, query, field, code):
    coordinator = await world["person"]("coordinator")
    before = await counts(world["db"])
    status, body = await coordinator.call("GET", "/api/v1/episodes?" + query)
    assert status == 400
    assert body["type"].endswith("/bad-request")
    assert [(e["field"], e["code"]) for e in body["errors"]] == [(field, code)]
    assert await counts(world["db"]) == before


# Course outcomes ---------------------------------------------------------------------------

OUTCOME = {"course_ended_on": "2026-01-10", "died": True, "place_of_death": "home",
           "note": "Fredeligt"}  # fmt: skip


async def test_a_nurse_records_and_amends_the_course_outcome(world):
    nurse, pid = world["nurse"], world["patient_id"]
    path = f"/api/v1/patients/{pid}/course-outcome"
    status, body = await nurse.call("GET", path)
    assert status == 200 and body["current"] is None and body["history"] == []
    status, body = await nurse.call("POST", path, json=OUTCOME)
    assert status == 201, body
    saved = body["outcome"]
    assert saved["version"] == 1 and saved["wished_place"] == "home"  # the patient's wish
    assert saved["died_where_wished"] is True
    assert saved["recorded_by_name"] == nurse.user["display_name"]
    before = await counts(world["db"])
    status, body = await nurse.call("POST", path, json={**OUTCOME, "place_of_death": "hospital"})
    assert status == 422 and body["errors"][0]["code"] == "reason_needed"
    assert await counts(world["db"]) == before
    coordinator = await world["person"]("coordinator")
    status, body = await coordinator.call("POST", path, json={
        **OUTCOME, "place_of_death": "hospital", "amendment_reason": "Indlagt sidste døgn"})  # fmt: skip
    assert status == 201 and body["outcome"]["version"] == 2
    assert body["outcome"]["died_where_wished"] is False
    status, body = await nurse.call("GET", path)
    assert body["current"]["place_of_death"] == "hospital"
    assert [v["version"] for v in body["history"]] == [2, 1]
    rows = await audit_rows(world["db"], "course_outcome.record")
    assert [r["details"]["version"] for r in rows] == [1, 2]
    assert "note" not in rows[0]["details"] and rows[0]["patient_id"] == pid
    reads = await audit_rows(world["db"], "course_outcome.read")
    assert len(reads) == 2 and reads[-1]["actor_id"] == nurse.id


async def test_an_alive_patient_and_an_unknown_wish(world):
    path = f"/api/v1/patients/{world['patient_id']}/course-outcome"
    status, body = await world["nurse"].call("POST", path, json={
        "course_ended_on": "2026-01-10", "died": False, "wished_place": "unknown"})  # fmt: skip
    assert status == 201, body
    assert (
        body["outcome"]["place_of_death"] is None and body["outcome"]["died_where_wished"] is False
    )


async def test_only_the_patients_organisation_reads_or_records_the_outcome(world):
    path = f"/api/v1/patients/{world['patient_id']}/course-outcome"
    elsewhere = await world["make_org"](kind="home_care")
    strangers = [
        await world["person"]("nurse", organisation_id=elsewhere["id"]),
        await world["person"]("coordinator", organisation_id=elsewhere["id"]),
        await world["person"]("advisor", tier="gp"),
        await world["person"]("admin"),
    ]
    before = await counts(world["db"])
    for stranger in strangers:
        assert (await stranger.call("GET", path))[0] == 404
        assert (await stranger.call("POST", path, json=OUTCOME))[0] == 404
    assert (await world["nurse"].call("POST", "/api/v1/patients/999999/course-outcome",
                                      json=OUTCOME))[0] == 404  # fmt: skip
    assert await counts(world["db"]) == before


BAD_OUTCOMES = [
    ({**OUTCOME, "place_of_death": None}, "place_of_death", "place_needed"),
    ({k: v for k, v in OUTCOME.items() if k != "place_of_death"}, "place_of_death", "place_needed"),
    ({**OUTCOME, "died": False}, "place_of_death", "place_without_death"),
    ({**OUTCOME, "course_ended_on": "2999-01-01"}, "course_ended_on", "in_future"),
    ({**OUTCOME, "course_ended_on": "10-01-2026"}, "course_ended_on", "not_date"),
    ({**OUTCOME, "place_of_death": "garden"}, "place_of_death", "choice"),
    ({**OUTCOME, "wished_place": "moon"}, "wished_place", "choice"),
    ({**OUTCOME, "died": "ja"}, "died", "not_boolean"),
    ({**OUTCOME, "note": "x" * 2001}, "note", "too_long"),
    ({**OUTCOME, "amendment_reason": "x" * 501}, "amendment_reason", "too_long"),
    ({**OUTCOME, "amendment_reason": " "}, "amendment_reason", "required"),
    ({k: v for k, v in OUTCOME.items() if k != "course_ended_on"}, "course_ended_on", "required"),
    ({**OUTCOME, "extra": True}, "extra", "unknown_field"),
]


@pytest.mark.parametrize(("body", "field", "code"), BAD_OUTCOMES)
async def test_bad_outcomes_are_refused_and_nothing_written(world, body, field, code):
    before = await counts(world["db"])
    status, problem = await world["nurse"].call(
        "POST", f"/api/v1/patients/{world['patient_id']}/course-outcome", json=body
    )
    assert status == 422, problem
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [(field, code)]
    assert await counts(world["db"]) == before


async def test_outcome_bodies_that_are_not_json_objects(world):
    path = f"/api/v1/patients/{world['patient_id']}/course-outcome"
    before = await counts(world["db"])
    status, _ = await world["nurse"].call("POST", path, data=b"{", headers={
        "Content-Type": "application/json"})  # fmt: skip
    assert status == 400
    status, _ = await world["nurse"].call("POST", path, data=b"died=true", headers={
        "Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert status == 415
    assert await counts(world["db"]) == before


# Pages -------------------------------------------------------------------------------------


async def test_the_episode_pages_render_for_whom_they_are_for(world):
    cid, senior = await answered(world)
    coordinator = await world["person"]("coordinator")
    html = {"Accept": "text/html"}
    status, page = await senior.call("GET", f"/episodes/{cid}", headers=html)
    assert status == 200 and 'data-testid="doc-form"' in page and "episode.js" in page
    status, page = await senior.call("GET", "/", headers=html)
    assert 'id="my-episodes"' in page and "episodes_list.js" in page
    status, page = await coordinator.call("GET", "/", headers=html)
    assert 'href="/episodes"' in page
    status, page = await coordinator.call("GET", "/episodes", headers=html)
    assert status == 200 and 'id="episode-filters"' in page
    assert (await world["nurse"].call("GET", "/episodes", headers=html))[0] == 403
    status, page = await world["nurse"].call(
        "GET", f"/patients/{world['patient_id']}", headers=html
    )
    assert status == 200 and 'data-testid="course-outcome"' in page
