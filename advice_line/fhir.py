"""An advice episode as a FHIR R4 Bundle (type ``collection``), for another system's record.

Pure: the episode as ``episodes.reading.read`` returns it goes in, a JSON-ready dict comes
out; no I/O, no clock (the bundle's timestamp is a parameter). Resources:

* **Encounter** of class ``VR`` (virtual, v3-ActCode): status from the consultation's
  state, priority from the urgency, period from the request to the close, the nurse as
  referrer and every advisor as consultant (with their time in the call), the patient as
  subject, the nurse's organisation as service provider;
* **Communication** per documentation version: the advice, disposition and follow-up,
  sent by the documenting advisor to the nurse. The current version is tagged
  ``current``, earlier ones ``superseded`` (with the reason of the amendment that
  replaced them);
* **Task** per escalation: the escalation note as description, status from whether the
  next tier joined, the tier asked as performer type, and the advisor who answered it as
  owner;
* **Observation**: none. The stored episode carries no structured clinical score (ISBAR is
  free text, the documentation a disposition and free text); scores written inside free
  text are never parsed out of it;
* **Patient** by the organisation's patient reference only (no name, no CPR: the receiving
  system matches on the reference it shares with the organisation); **Practitioner** per
  person (display name and tier); **Organization** for the nurse's organisation.

Every resource has a stable id from the advice line's own ids, and a ``urn:uuid`` full URL
derived from it, so exporting the same episode twice gives the same references.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

#: Code systems and identifier systems.
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ACT_PRIORITY = "http://terminology.hl7.org/CodeSystem/v3-ActPriority"
PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
SYSTEM = "urn:advice-line"
PATIENT_REFERENCE = f"{SYSTEM}:patient-reference"
USER_ID = f"{SYSTEM}:user"
ORGANISATION_ID = f"{SYSTEM}:organisation"
CONSULTATION_ID = f"{SYSTEM}:consultation"
DOCUMENTATION_SYSTEM = f"{SYSTEM}:documentation"
TIER_SYSTEM = f"{SYSTEM}:tier"
DISPOSITION_SYSTEM = f"{SYSTEM}:disposition"

_NAMESPACE = uuid.UUID("6f1d8c1e-7a1c-5b9e-9d0e-ad71ce11e0aa")

#: Encounter.status by consultation state (anything else is still going on).
_ENCOUNTER_STATUS = {"ended": "finished", "cancelled": "cancelled", "abandoned": "cancelled",
                     "failed": "cancelled"}  # fmt: skip
_PRIORITY = {"acute": ("EM", "emergency"), "urgent": ("UR", "urgent"), "routine": ("R", "routine")}
_TIER_DISPLAY = {"senior_nurse": "Senior nurse", "gp": "General practitioner",
                 "specialist": "Palliative specialist"}  # fmt: skip
_TIER_ORDER = ("senior_nurse", "gp", "specialist")


def _instant(value: Any) -> str | None:
    """An aware datetime (or an ISO string) as a FHIR instant, in UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    assert isinstance(value, dt.datetime), value
    assert value.tzinfo is not None, value
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _full_url(kind: str, local_id: str) -> str:
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{kind}/{local_id}')}"


def _ref(kind: str, local_id: str, display: str | None = None) -> dict[str, Any]:
    ref: dict[str, Any] = {"reference": _full_url(kind, local_id), "type": kind}
    if display:
        ref["display"] = display
    return ref


def _entry(resource: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": _full_url(resource["resourceType"], resource["id"]), "resource": resource}


def _coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    found = {"system": system, "code": code}
    if display:
        found["display"] = display
    return found


def _period(start: Any, end: Any) -> dict[str, str]:
    found = {"start": _instant(start), "end": _instant(end)}
    return {k: v for k, v in found.items() if v is not None}


class _People:
    """The Practitioner resources the bundle needs, one per person, in order of mention."""

    def __init__(self) -> None:
        self.found: dict[int, dict[str, Any]] = {}

    def ref(self, person: Mapping[str, Any] | None) -> dict[str, Any] | None:
        if not person or person.get("id") is None:
            return None
        pid = int(person["id"])
        local_id = f"user-{pid}"
        if pid not in self.found:
            resource: dict[str, Any] = {
                "resourceType": "Practitioner",
                "id": local_id,
                "identifier": [{"system": USER_ID, "value": str(pid)}],
                "active": True,
            }
            if person.get("name"):
                resource["name"] = [{"text": str(person["name"])}]
            tier = person.get("tier")
            if tier in _TIER_DISPLAY:
                resource["qualification"] = [{"code": {
                    "coding": [_coding(TIER_SYSTEM, tier, _TIER_DISPLAY[tier])]}}]  # fmt: skip
            self.found[pid] = resource
        return _ref("Practitioner", local_id, person.get("name"))


def _patient(episode: Mapping[str, Any]) -> dict[str, Any]:
    patient, org = episode["patient"], episode["organisation"]
    return {
        "resourceType": "Patient",
        "id": f"patient-{patient['id']}",
        "identifier": [{
            "system": f"{PATIENT_REFERENCE}:organisation-{org['id']}",
            "value": str(patient["reference"]),
            "assigner": _ref("Organization", f"organisation-{org['id']}", org.get("name")),
        }],
        "managingOrganization": _ref("Organization", f"organisation-{org['id']}", org.get("name")),
    }  # fmt: skip


def _organisation(episode: Mapping[str, Any]) -> dict[str, Any]:
    org = episode["organisation"]
    resource: dict[str, Any] = {
        "resourceType": "Organization",
        "id": f"organisation-{org['id']}",
        "identifier": [{"system": ORGANISATION_ID, "value": str(org["id"])}],
        "active": True,
    }
    if org.get("name"):
        resource["name"] = str(org["name"])
    return resource


def _encounter(episode: Mapping[str, Any], people: _People) -> dict[str, Any]:
    facts = episode["facts"]
    code, display = _PRIORITY.get(episode["urgency"], ("R", "routine"))
    participants = [{
        "type": [{"coding": [_coding(PARTICIPATION_TYPE, "REF", "referrer")]}],
        "individual": people.ref(episode["nurse"]),
    }]  # fmt: skip
    for p in facts["participations"]:
        participants.append({
            "type": [{"coding": [_coding(PARTICIPATION_TYPE, "CON", "consultant")]}],
            "period": _period(p["joined_at"], p["left_at"]),
            "individual": people.ref(p["advisor"]),
        })  # fmt: skip
    end = facts.get("closed_at") or facts.get("call_ended_at")
    status = _ENCOUNTER_STATUS.get(episode["state"], "in-progress")
    return {
        "resourceType": "Encounter",
        "id": f"consultation-{episode['id']}",
        "identifier": [{"system": CONSULTATION_ID, "value": str(episode["id"])}],
        "status": status,
        "class": _coding(ACT_CODE, "VR", "virtual"),
        "priority": {"coding": [_coding(ACT_PRIORITY, code, display)]},
        "subject": _ref("Patient", f"patient-{episode['patient']['id']}"),
        "participant": participants,
        "period": _period(facts["requested_at"], end if status != "in-progress" else None),
        "serviceProvider": _ref("Organization", f"organisation-{episode['organisation']['id']}"),
    }


def _communication(
    episode: Mapping[str, Any], version: Mapping[str, Any], current: bool,
    replaced_by: Mapping[str, Any] | None, people: _People,
) -> dict[str, Any]:  # fmt: skip
    cid = episode["id"]
    payload = [{"contentString": str(version["advice"])},
               {"contentString": f"Disposition: {version['disposition']}"}]  # fmt: skip
    if version.get("follow_up"):
        note = version.get("follow_up_note") or ""
        payload.append({"contentString": "Follow-up: " + (note or "yes")})
    resource: dict[str, Any] = {
        "resourceType": "Communication",
        "id": f"documentation-{cid}-v{version['version']}",
        "meta": {
            "tag": [
                _coding(
                    DOCUMENTATION_SYSTEM,
                    "current" if current else "superseded",
                    "Current version" if current else "Superseded by a later version",
                )
            ]
        },
        "identifier": [{"system": DOCUMENTATION_SYSTEM, "value": f"{cid}/{version['version']}"}],
        "status": "completed",
        "category": [
            {"coding": [_coding(DISPOSITION_SYSTEM, str(version["disposition"]))], "text": "advice"}
        ],
        "subject": _ref("Patient", f"patient-{episode['patient']['id']}"),
        "encounter": _ref("Encounter", f"consultation-{cid}"),
        "sent": _instant(version["created_at"]),
        "payload": payload,
    }
    sender = people.ref({"id": version["author_id"], "name": version.get("author_name")})
    if sender:
        resource["sender"] = sender
    recipient = people.ref(episode["nurse"])
    if recipient:
        resource["recipient"] = [recipient]
    notes = []
    if version.get("amendment_reason"):
        notes.append({"text": f"Amends version {int(version['version']) - 1}: "
                              f"{version['amendment_reason']}"})  # fmt: skip
    if replaced_by is not None:
        notes.append({"text": f"Superseded by version {replaced_by['version']}"})
    if notes:
        resource["note"] = notes
    return resource


def _task_status(result: str, episode_state: str) -> str:
    if result == "answered":
        return "completed"
    if result == "failed":
        return "failed"
    return "in-progress" if episode_state not in _ENCOUNTER_STATUS else "cancelled"


def _tasks(episode: Mapping[str, Any], people: _People) -> list[dict[str, Any]]:
    facts = episode["facts"]
    answered = {t["tier"]: t["answered_by"] for t in facts["tiers"] if t.get("answered_by")}
    found = []
    for n, e in enumerate(facts["escalations"], start=1):
        task: dict[str, Any] = {
            "resourceType": "Task",
            "id": f"escalation-{episode['id']}-{n}",
            "status": _task_status(e["result"], episode["state"]),
            "intent": "order",
            "description": str(e["note"]),
            "encounter": _ref("Encounter", f"consultation-{episode['id']}"),
            "for": _ref("Patient", f"patient-{episode['patient']['id']}"),
            "authoredOn": _instant(e["at"]),
        }
        requester = people.ref(e["by"])
        if requester:
            task["requester"] = requester
        asked = _next_tier(e["from_tier"])
        if asked is not None:
            task["performerType"] = [
                {"coding": [_coding(TIER_SYSTEM, asked, _TIER_DISPLAY[asked])]}
            ]
            owner = people.ref(answered.get(asked)) if e["result"] == "answered" else None
            if owner:
                task["owner"] = owner
        found.append(task)
    return found


def _next_tier(tier: str | None) -> str | None:
    if tier not in _TIER_ORDER:
        return None
    index = _TIER_ORDER.index(tier) + 1
    return _TIER_ORDER[index] if index < len(_TIER_ORDER) else None


def episode_bundle(episode: Mapping[str, Any], timestamp: dt.datetime) -> dict[str, Any]:
    """The episode (as ``reading.read`` returns it) as a FHIR R4 ``collection`` Bundle."""
    people = _People()
    encounter = _encounter(episode, people)
    versions = [
        v for v in [episode.get("documentation"), *episode.get("earlier_versions", [])] if v
    ]
    communications = [
        _communication(episode, v, i == 0, versions[i - 1] if i else None, people)
        for i, v in enumerate(versions)
    ]
    tasks = _tasks(episode, people)
    resources = [encounter, _patient(episode), _organisation(episode), *communications, *tasks,
                 *people.found.values()]  # fmt: skip
    return {
        "resourceType": "Bundle",
        "id": f"episode-{episode['id']}",
        "identifier": {"system": CONSULTATION_ID, "value": str(episode["id"])},
        "type": "collection",
        "timestamp": _instant(timestamp),
        "entry": [_entry(r) for r in resources],
    }
