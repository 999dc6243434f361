"""Reading a consultation held during an outage the way the REST API shows any other."""

from __future__ import annotations

from typing import Any

from advice_line.consultations import TIER_NAMES_BY_NUMBER
from advice_line.outage.directory import Directory

WAITING = ("queued", "callback")
_URGENCY_ORDER = {"acute": 0, "urgent": 1, "routine": 2}


def row_of(record: dict[str, Any]) -> dict[str, Any]:
    """The columns of a ``consultations`` row that the access rules look at."""
    machine = record["machine"]
    return {"id": record["id"], "nurse_id": machine["nurse"],
            "organisation_id": record["organisation_id"], "offered": machine["offered"],
            "participants": machine["participants"], "state": machine["state"]}  # fmt: skip


def ever_offered(record: dict[str, Any], advisor: int) -> bool:
    for event in record["events"]:
        data = event["data"]
        if event["type"] in ("offered", "joined", "accepted") and (
            advisor in (data.get("advisors") or []) or data.get("advisor") == advisor
        ):
            return True
    return False


def queue_position(record: dict[str, Any], held: list[dict[str, Any]]) -> int | None:
    """Place among the calls waiting during the outage (urgency first, then age)."""
    if record["machine"]["state"] not in WAITING:
        return None

    def place(r: dict[str, Any]) -> tuple[int, str]:
        return _URGENCY_ORDER[r["machine"]["urgency"]], r["created_at"]

    ahead = [r for r in held if r["machine"]["state"] in WAITING and r["id"] != record["id"]
             and place(r) < place(record)]  # fmt: skip
    return len(ahead) + 1


def view_of(
    record: dict[str, Any], directory: Directory, *, with_timeline: bool,
    fallback: dict[str, str], position: int | None,
) -> dict[str, Any]:  # fmt: skip
    """The API's view of a held consultation: as for any other, marked ``degraded`` and
    without a care plan (it lives in the database)."""
    machine = record["machine"]
    view: dict[str, Any] = {
        "id": record["id"], "state": machine["state"],
        "tier": TIER_NAMES_BY_NUMBER.get(machine["tier"]), "channel": machine["channel"],
        "urgency": machine["urgency"], "patient_id": machine["patient"],
        "nurse_id": machine["nurse"], "offered": list(machine["offered"]),
        "participants": list(machine["participants"]), "created_at": record["created_at"],
        "version": record["version"], "queue_position": position, "degraded": True,
        **directory.people(record["nurse"], list(machine["participants"])),
    }  # fmt: skip
    if machine["state"] == "queued":
        view["fallback"] = fallback
    if with_timeline:
        view["isbar"] = record["isbar"]
        view["timeline"] = [{k: e[k] for k in ("at", "type", "actor_id", "data")}
                            for e in record["events"]]  # fmt: skip
        view["care_plan"] = None
    return view
