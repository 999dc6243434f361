"""Names of the people in a call are read once and kept for a short while."""

from __future__ import annotations

from advice_line import names as names_module
from advice_line.names import Names


async def test_names_are_read_once_and_again_after_keep_seconds(db, make_user):
    nurse = await make_user("nurse")
    gp = await make_user("advisor", tier="gp")
    now = [1000.0]
    names = Names(clock=lambda: now[0])
    first = await names.people(db, nurse["id"], [gp["id"]])
    assert first["nurse"]["id"] == nurse["id"] and first["nurse"]["name"] == nurse["display_name"]
    assert first["people"] == [{"id": gp["id"], "name": gp["display_name"], "tier": "gp"}]

    await db.execute("UPDATE users SET display_name = 'Ny Læge' WHERE id = $1", gp["id"])
    now[0] += names_module.KEEP_SECONDS - 1
    kept = await names.people(db, nurse["id"], [gp["id"]])
    assert kept["people"][0]["name"] == gp["display_name"]  # still the name as read
    now[0] += 1
    fresh = await names.people(db, nurse["id"], [gp["id"]])
    assert fresh["people"][0]["name"] == "Ny Læge"


async def test_someone_unknown_has_no_name_and_nothing_breaks(db, make_user, monkeypatch):
    nurse = await make_user("nurse")
    monkeypatch.setattr(names_module, "MOST_KEPT", 1)
    names = Names()
    answer = await names.people(db, nurse["id"], [987654321])
    assert answer["people"] == [{"id": 987654321, "name": None, "tier": None}]
    # Over the bound everything is forgotten, and what is asked for is read again.
    again = await names.people(db, nurse["id"], [987654321])
    assert again["nurse"]["name"] == nurse["display_name"]
