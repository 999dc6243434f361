"""The FHIR R4 Bundle of an episode, from hand-made episode data (pure), validated with
fhir.resources (R4B: Encounter, Communication, Task, Patient, Practitioner and
Organization as in R4)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

from advice_line.fhir import episode_bundle
from tests.unit.test_pure_cores import impurities

T0 = dt.datetime(2026, 3, 2, 22, 10, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 3, 3, 8, 0, tzinfo=dt.UTC)


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def person(pid: int, name: str | None, tier: str | None = None) -> dict[str, Any]:
    return {"id": pid, "name": name, "tier": tier}


SENIOR, GP, SPEC = person(2, "Sara Senior", "senior_nurse"), person(3, "Gert Læge", "gp"), person(4, "Sif Speciallæge", "specialist")  # fmt: skip


def episode(**changes: Any) -> dict[str, Any]:
    """An episode shaped like ``reading.read``'s: two escalations, two versions."""
    base: dict[str, Any] = {
        "id": 17, "state": "ended", "created_at": T0, "channel": "video", "urgency": "acute",
        "isbar": {"situation": "Smerter"},
        "patient": {"id": 5, "reference": "R-5", "name": "Karl Fiktivsen"},
        "nurse": {"id": 1, "name": "Nina Nurse"},
        "organisation": {"id": 9, "name": "Hjemmeplejen Nord"},
        "facts": {
            "requested_at": T0, "closed_at": at(40), "call_ended_at": at(30),
            "tiers": [
                {"tier": "senior_nurse", "answered_by": SENIOR},
                {"tier": "gp", "answered_by": GP},
                {"tier": "specialist", "answered_by": None},
            ],
            "participations": [
                {"advisor": SENIOR, "tier": "senior_nurse", "joined_at": at(1), "left_at": at(12)},
                {"advisor": GP, "tier": "gp", "joined_at": at(10), "left_at": at(30)},
            ],
            "escalations": [
                {"at": at(8), "by": SENIOR, "from_tier": "senior_nurse", "note": "Behov for læge",
                 "result": "answered"},
                {"at": at(20), "by": GP, "from_tier": "gp", "note": "Spørg palliativt team",
                 "result": "failed"},
            ],
        },
        "documentation": {"version": 2, "author_id": 3, "author_name": "Gert Læge",
                          "created_at": at(45), "disposition": "gp_visit",
                          "advice": "Lægen kører ud", "follow_up": True,
                          "follow_up_note": "Ring kl. 8", "amendment_reason": "Besøg aftalt"},
        "earlier_versions": [{"version": 1, "author_id": 3, "author_name": "Gert Læge",
                              "created_at": at(41), "disposition": "phone_advice",
                              "advice": "Giv 5 mg morfin", "follow_up": False,
                              "follow_up_note": "", "amendment_reason": ""}],
    }  # fmt: skip
    base.update(changes)
    return base


def of(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def test_the_module_is_pure() -> None:
    path = Path(__file__).resolve().parents[2] / "advice_line" / "fhir.py"
    assert impurities(path.read_text()) == []


def test_a_whole_episode() -> None:
    bundle = episode_bundle(episode(), NOW)
    Bundle.model_validate(bundle)
    assert (bundle["type"], bundle["timestamp"]) == ("collection", "2026-03-03T08:00:00Z")
    [enc] = of(bundle, "Encounter")
    assert enc["status"] == "finished" and enc["class"]["code"] == "VR"
    assert enc["priority"]["coding"][0]["code"] == "EM"
    assert enc["period"] == {"start": "2026-03-02T22:10:00Z", "end": "2026-03-02T22:50:00Z"}
    assert [p["type"][0]["coding"][0]["code"] for p in enc["participant"]] == ["REF", "CON", "CON"]
    assert enc["participant"][2]["period"] == {"start": "2026-03-02T22:20:00Z", "end": "2026-03-02T22:40:00Z"}  # fmt: skip
    current, earlier = of(bundle, "Communication")
    assert (current["id"], current["meta"]["tag"][0]["code"]) == ("documentation-17-v2", "current")
    assert [p["contentString"] for p in current["payload"]] == [
        "Lægen kører ud", "Disposition: gp_visit", "Follow-up: Ring kl. 8"]  # fmt: skip
    assert current["note"] == [{"text": "Amends version 1: Besøg aftalt"}]
    assert earlier["meta"]["tag"][0]["code"] == "superseded"
    assert earlier["note"] == [{"text": "Superseded by version 2"}]
    assert len(earlier["payload"]) == 2  # no follow-up
    answered, failed = of(bundle, "Task")
    assert (answered["status"], answered["description"]) == ("completed", "Behov for læge")
    assert answered["performerType"][0]["coding"][0]["code"] == "gp"
    assert answered["owner"]["display"] == "Gert Læge"
    assert answered["requester"]["display"] == "Sara Senior"
    assert failed["status"] == "failed" and "owner" not in failed
    assert failed["performerType"][0]["coding"][0]["code"] == "specialist"
    assert of(bundle, "Observation") == []
    names = {p["id"]: p["name"][0]["text"] for p in of(bundle, "Practitioner")}
    assert names == {"user-1": "Nina Nurse", "user-2": "Sara Senior", "user-3": "Gert Læge"}
    [patient] = of(bundle, "Patient")
    assert patient["identifier"][0]["value"] == "R-5" and "name" not in patient
    assert "Fiktivsen" not in json.dumps(bundle)
    [org] = of(bundle, "Organization")
    assert org["name"] == "Hjemmeplejen Nord"
    urls = [e["fullUrl"] for e in bundle["entry"]]
    assert len(set(urls)) == len(urls)
    refs = [answered["owner"], current["sender"], enc["subject"], enc["serviceProvider"],
            *(p["individual"] for p in enc["participant"])]  # fmt: skip
    assert all(r["reference"] in urls for r in refs)


@pytest.mark.parametrize(
    ("state", "status", "task"),
    [("ringing", "in-progress", "in-progress"), ("in_call", "in-progress", "in-progress"),
     ("wrap_up", "in-progress", "in-progress"), ("cancelled", "cancelled", "cancelled"),
     ("abandoned", "cancelled", "cancelled"), ("failed", "cancelled", "cancelled")],
)  # fmt: skip
def test_status_follows_the_state(state: str, status: str, task: str) -> None:
    facts = {**episode()["facts"], "closed_at": None}
    facts["escalations"] = [{**facts["escalations"][0], "result": "open"}]
    bundle = episode_bundle(episode(state=state, facts=facts), NOW)
    Bundle.model_validate(bundle)
    [enc] = of(bundle, "Encounter")
    assert enc["status"] == status
    if status == "in-progress":
        assert "end" not in enc["period"]
    [only] = of(bundle, "Task")
    assert only["status"] == task and "owner" not in only


def test_an_episode_nobody_answered_and_nobody_documented() -> None:
    facts = {"requested_at": T0, "closed_at": at(3), "call_ended_at": None, "tiers": [],
             "participations": [], "escalations": []}  # fmt: skip
    bundle = episode_bundle(
        episode(state="cancelled", facts=facts, documentation=None, earlier_versions=[],
                urgency="routine", organisation={"id": 9, "name": None}),
        NOW,
    )  # fmt: skip
    Bundle.model_validate(bundle)
    assert {e["resource"]["resourceType"] for e in bundle["entry"]} == {
        "Encounter", "Patient", "Organization", "Practitioner"}  # fmt: skip
    [enc] = of(bundle, "Encounter")
    assert enc["priority"]["coding"][0]["code"] == "R"
    assert [p["individual"]["display"] for p in enc["participant"]] == ["Nina Nurse"]


def test_a_person_without_a_name_keeps_their_id() -> None:
    nameless = {**episode()["nurse"], "name": None}
    bundle = episode_bundle(episode(nurse=nameless), NOW)
    Bundle.model_validate(bundle)
    nurse = next(p for p in of(bundle, "Practitioner") if p["id"] == "user-1")
    assert "name" not in nurse and nurse["identifier"][0]["value"] == "1"


def test_the_same_episode_gives_the_same_bundle() -> None:
    assert episode_bundle(episode(), NOW) == episode_bundle(episode(), NOW)
    assert episode_bundle(episode(id=18), NOW)["entry"][0]["fullUrl"] != episode_bundle(episode(), NOW)["entry"][0]["fullUrl"]  # fmt: skip
