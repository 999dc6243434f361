"""Demo data: a fictional municipality, GP practices, hospital team, people and patients.

Idempotent: running it again adds only what is missing and changes nothing else. Every
name is obviously invented (Demosen, Eksempel, Fiktivsen ...).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from advice_line import audit, organisations, users
from advice_line.sessions import SessionUser

DEMO_PASSWORD = "demo-kodeord-1"  # noqa: S105 - printed for the demo on purpose

HOME_CARE = "Demo Kommune Hjemmesygepleje"
GP_PRACTICES = ("Lægehuset Fiktivvej", "Eksempel Lægepraksis", "Prøvestens Lægecenter")
HOSPITAL = "Demo Hospital, Palliativt Team"


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    role: str
    organisation: str | None
    tier: str | None = None


DEMO_USERS = (
    DemoUser("admin", "Admin Demosen", "admin", None),
    DemoUser("koordinator", "Olga Koordinatorsen", "coordinator", HOME_CARE),
    DemoUser("sygeplejerske", "Dorthe Demosen", "nurse", HOME_CARE),
    DemoUser("sygeplejerske2", "Emil Eksempelsen", "nurse", HOME_CARE),
    DemoUser("sygeplejerske3", "Frida Fiktivsen", "nurse", HOME_CARE),
    DemoUser("senior.anne", "Anne Afprøvning", "advisor", HOME_CARE, "senior_nurse"),
    DemoUser("senior.bent", "Bent Børnelærdom", "advisor", HOME_CARE, "senior_nurse"),
    DemoUser("senior.clara", "Clara Caseperson", "advisor", HOME_CARE, "senior_nurse"),
    DemoUser("senior.ditlev", "Ditlev Demonstrant", "advisor", HOME_CARE, "senior_nurse"),
    DemoUser("laege.gustav", "Gustav Godtgjort", "advisor", GP_PRACTICES[0], "gp"),
    DemoUser("laege.hanne", "Hanne Hypotetisk", "advisor", GP_PRACTICES[0], "gp"),
    DemoUser("laege.ib", "Ib Illustration", "advisor", GP_PRACTICES[1], "gp"),
    DemoUser("laege.jette", "Jette Jævnfør", "advisor", GP_PRACTICES[2], "gp"),
    DemoUser("specialist.karen", "Karen Konstrueret", "advisor", HOSPITAL, "specialist"),
    DemoUser("specialist.lars", "Lars Lånenavn", "advisor", HOSPITAL, "specialist"),
    DemoUser("specialist.mette", "Mette Modelsen", "advisor", HOSPITAL, "specialist"),
    DemoUser("specialist.niels", "Niels Nonexist", "advisor", HOSPITAL, "specialist"),
)

_FIRST = ("Agnes", "Børge", "Cecilie", "Dagmar", "Egon", "Frede", "Grethe", "Holger", "Ingrid", "Jens",
          "Karla", "Leif", "Margit", "Nikolaj", "Oda", "Poul", "Rigmor", "Svend", "Tove", "Vagn")  # fmt: skip
_LAST = ("Fiktivsen", "Demosen", "Eksempel", "Prøvesen", "Opdigtsen")
_LIMITS = (
    "Undgå indlæggelse; ingen yderligere diagnostik",
    "Ingen sondeernæring; ingen intravenøs behandling",
    "Kun lindrende behandling i eget hjem",
)
_PLACES = ("home", "home", "hospice", "home", "nursing_home", "unknown", "hospital")


def demo_patients(gp_ids: list[int]) -> list[dict[str, Any]]:
    """Twenty patients with varied care plans (deterministic)."""
    found = []
    for i in range(20):
        limited = i % 3 != 0
        dnr = i % 2 == 0
        found.append({
            "reference": f"DEMO-{i + 1:03d}",
            "name": f"{_FIRST[i]} {_LAST[i % len(_LAST)]}",
            "gp_practice_id": gp_ids[i % len(gp_ids)],
            "diagnosis_group": "cancer" if i % 5 in (0, 1) else "non_cancer",
            "treatment_level": "limited" if limited else "full",
            "treatment_limitations": _LIMITS[i % len(_LIMITS)] if limited else "",
            "dnr": dnr,
            "dnr_decided_by": f"Dr. {_LAST[(i + 1) % len(_LAST)]}, egen læge" if dnr else "",
            "dnr_decided_on": dt.date(2026, 1 + i % 10, 1 + i) if dnr else None,
            "living_will": i % 4 == 1,
            "preferred_place_of_death": _PLACES[i % len(_PLACES)],
            "people_present": "Ægtefælle og datter" if i % 2 else "Søn",
            "notes": "Fiktiv demo-patient.",
        })  # fmt: skip
    return found


async def seed(conn: asyncpg.Connection) -> dict[str, int]:
    """Add whatever demo data is missing; return counts of what was added."""
    added = {"organisations": 0, "users": 0, "patients": 0, "rotas": 0}
    actor = audit.Actor(None, "demo-seed")
    org_ids: dict[str, int] = {}
    for name, kind in [(HOME_CARE, "home_care"), *((p, "gp_practice") for p in GP_PRACTICES),
                       (HOSPITAL, "hospital")]:  # fmt: skip
        existing = await organisations.by_name(conn, name)
        if existing is None:
            existing = await organisations.create(conn, actor, name, kind)
            added["organisations"] += 1
        org_ids[name] = existing["id"]
    for person in DEMO_USERS:
        if await users.by_username(conn, person.username) is None:
            await users.create(conn, actor, {
                "username": person.username, "display_name": person.display_name,
                "password": DEMO_PASSWORD, "role": person.role, "tier": person.tier,
                "organisation_id": org_ids[person.organisation] if person.organisation else None,
            })  # fmt: skip
            added["users"] += 1
    added["patients"] = await _seed_patients(
        conn, org_ids[HOME_CARE], [org_ids[p] for p in GP_PRACTICES]
    )
    added["rotas"] = await _seed_rotas(conn)
    await _seed_fee_schedule(conn)  # not counted: the printed summary stays as it was
    return added


_WEEKDAYS = [0, 1, 2, 3, 4]

#: (name, tier, [(layer name, usernames, length, unit, handoff, windows)]). The specialist
#: rota deliberately leaves nights uncovered, as many hospital teams do, so the coverage
#: panel has something to show.
DEMO_ROTAS: tuple[tuple[str, str, list[tuple[str, list[str], int, str, str, list[Any]]]], ...] = (
    ("Palliativt team – sygeplejersker", "senior_nurse", [
        ("Døgnvagt", ["senior.anne", "senior.bent", "senior.clara", "senior.ditlev"], 1, "days",
         "08:00", []),
        ("Dagvagt hverdage", ["senior.clara", "senior.anne"], 1, "weeks", "08:00",
         [{"days": _WEEKDAYS, "start": "08:00", "end": "16:00"}]),
    ]),
    ("Læger – dagtid", "gp", [
        ("Egen læge dagtid", ["laege.gustav", "laege.hanne", "laege.ib", "laege.jette"], 1, "days",
         "08:00", [{"days": _WEEKDAYS, "start": "08:00", "end": "16:00"}]),
    ]),
    ("Læger – aften, nat og weekend", "gp", [
        ("Aften og nat", ["laege.ib", "laege.jette", "laege.gustav", "laege.hanne"], 1, "weeks",
         "16:00", [{"days": _WEEKDAYS, "start": "16:00", "end": "08:00"},
                   {"days": [5, 6], "start": "08:00", "end": "08:00"}]),
    ]),
    ("Palliativt team – speciallæger", "specialist", [
        ("Specialistvagt", ["specialist.karen", "specialist.lars", "specialist.mette",
                            "specialist.niels"], 1, "weeks", "08:00",
         [{"days": _WEEKDAYS, "start": "08:00", "end": "22:00"},
          {"days": [5, 6], "start": "10:00", "end": "18:00"}]),
    ]),
)  # fmt: skip


async def _seed_rotas(conn: asyncpg.Connection) -> int:
    from advice_line import rota_store  # local: keeps the demo importable without the rota layer

    actor = audit.Actor(None, "demo-seed")
    added = 0
    for name, tier, layers in DEMO_ROTAS:
        if await conn.fetchval("SELECT 1 FROM rotas WHERE name = $1", name):
            continue
        rota = await rota_store.create_rota(conn, actor, {"name": name, "tier": tier})
        for layer_name, usernames, length, unit, handoff, windows in layers:
            ids = []
            for username in usernames:
                person = await users.by_username(conn, username)
                assert person is not None
                ids.append(person["id"])
            await rota_store.save_layer(conn, actor, rota.id, None, {
                "name": layer_name, "participants": ids, "shift_length": length, "unit": unit,
                "handoff": dt.time.fromisoformat(handoff), "start_date": dt.date(2026, 1, 5),
                "windows": [{"days": w["days"], "start": dt.time.fromisoformat(w["start"]),
                             "end": dt.time.fromisoformat(w["end"])} for w in windows],
            })  # fmt: skip
        added += 1
    return added


async def _seed_patients(conn: asyncpg.Connection, home_care_id: int, gp_ids: list[int]) -> int:
    from advice_line import patients  # local: patients imports sessions, which imports settings

    nurse = await users.by_username(conn, "sygeplejerske")
    assert nurse is not None
    creator = SessionUser(
        id=nurse["id"], username=nurse["username"], display_name=nurse["display_name"], role="nurse",
        tier=None, organisation_id=home_care_id, organisation_name=HOME_CARE, language="da",
        totp_enabled=False, totp_required=False,
    )  # fmt: skip
    actor = audit.Actor(None, "demo-seed")
    added = 0
    for data in demo_patients(gp_ids):
        exists = await conn.fetchval(
            "SELECT 1 FROM patients WHERE organisation_id = $1 AND reference = $2",
            home_care_id,
            data["reference"],
        )
        if not exists:
            await patients.create(conn, creator, actor, data)
            added += 1
    return added


#: The documented example fee schedule (its amounts are examples, not tariffs).
EXAMPLE_FEE_SCHEDULE = (
    Path(__file__).resolve().parent.parent / "deploy" / "fee-schedule.example.toml"
)


async def _seed_fee_schedule(conn: asyncpg.Connection) -> int:
    """Store the example fee schedule unless one with its label or date is there already."""
    from advice_line import fee_store
    from advice_line.fees.schedule import parse_schedule

    text = EXAMPLE_FEE_SCHEDULE.read_text(encoding="utf-8")
    example = parse_schedule(text)
    if await conn.fetchval(
        "SELECT 1 FROM fee_schedules WHERE version = $1 OR effective_from = $2",
        example.version, example.effective_from,
    ):  # fmt: skip
        return 0
    await fee_store.store_schedule(conn, audit.Actor(None, "demo-seed"), text, allow_past=True)
    return 1


def login_table() -> list[tuple[str, str, str]]:
    """(username, role, what they are) for printing."""
    return [
        (u.username, u.role + (f" ({u.tier})" if u.tier else ""), u.display_name)
        for u in DEMO_USERS
    ]
