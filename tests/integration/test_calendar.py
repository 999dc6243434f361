"""Calendar feeds: secret links that can be rotated, own shifts and tier schedules with gaps."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advice_line.rota_ical import CalendarEvent, build_calendar, read_calendar
from tests.conftest import login


@pytest.fixture
async def nurses_rota(client, make_user, make_org):
    org = await make_org(kind="home_care")
    anne = await make_user("advisor", tier="senior_nurse", organisation_id=org["id"])
    bent = await make_user("advisor", tier="senior_nurse", organisation_id=org["id"])
    coordinator = await make_user("coordinator", organisation_id=org["id"])
    await login(client, coordinator["username"])
    rota = (
        await (
            await client.post("/api/v1/rotas", json={"name": "Dag", "tier": "senior_nurse"})
        ).json()
    )["rota"]
    today = dt.date.today().isoformat()
    layer = {"name": "Dag", "participants": [anne["id"], bent["id"]], "shift_length": 1, "unit": "days",
             "handoff": "08:00", "start_date": today,
             "windows": [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "08:00", "end": "16:00"}]}  # fmt: skip
    assert (await client.post(f"/api/v1/rotas/{rota['id']}/layers", json=layer)).status == 201
    return {"anne": anne, "bent": bent, "coordinator": coordinator}


async def feeds_of(client) -> dict[str, str]:
    response = await client.post("/api/v1/calendar/rotate")
    assert response.status == 200
    return (await response.json())["feeds"]


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


async def test_own_feed_has_the_users_shifts_at_least_90_days_ahead(client, nurses_rota):
    client.session.cookie_jar.clear()
    await login(client, nurses_rota["anne"]["username"])
    assert (await (await client.get("/api/v1/calendar")).json()) == {"feeds": {}}
    feeds = await feeds_of(client)
    assert set(feeds) == {"mine", "senior_nurse", "gp", "specialist"}
    client.session.cookie_jar.clear()  # calendar programs have no session
    response = await client.get(path_of(feeds["mine"]))
    assert response.status == 200
    assert response.content_type == "text/calendar"
    events = read_calendar(await response.read())
    assert events and all(e.clinicians == {nurses_rota["anne"]["id"]} for e in events)
    assert all(e.end - e.start == dt.timedelta(hours=8) for e in events)
    assert max(e.start for e in events) > dt.datetime.now(dt.UTC) + dt.timedelta(days=90)
    # Every other day: Anne and Bent alternate.
    assert all(b.start - a.start == dt.timedelta(days=2) for a, b in itertools.pairwise(events))


async def test_tier_feed_shows_who_and_the_gaps(client, nurses_rota):
    feeds = await feeds_of(client)
    client.session.cookie_jar.clear()
    events = read_calendar(await (await client.get(path_of(feeds["senior_nurse"]))).read())
    gaps = [e for e in events if e.gap]
    shifts = [e for e in events if not e.gap]
    assert gaps and shifts
    assert all(
        e.clinicians <= {nurses_rota["anne"]["id"], nurses_rota["bent"]["id"]} for e in shifts
    )
    assert all(g.summary == "⚠ INGEN PÅ VAGT" for g in gaps)


async def test_rotating_the_secret_kills_the_old_links(client, nurses_rota, db):
    old = await feeds_of(client)
    new = await feeds_of(client)
    assert old["mine"] != new["mine"]
    client.session.cookie_jar.clear()
    assert (await client.get(path_of(old["mine"]))).status == 404
    assert (await client.get(path_of(new["mine"]))).status == 200
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'calendar.rotate'") == 2


@pytest.mark.parametrize("path", ["/calendar/not-a-token/mine.ics", "/calendar/x/gp.ics",
                                  "/calendar/" + "x" * 200 + "/mine.ics"])  # fmt: skip
async def test_unknown_tokens_are_not_found(client, path):
    assert (await client.get(path)).status == 404


async def test_a_disabled_users_links_stop_working(client, nurses_rota, db):
    feeds = await feeds_of(client)
    await db.execute(
        "UPDATE users SET disabled_at = now() WHERE id = $1", nurses_rota["coordinator"]["id"]
    )
    client.session.cookie_jar.clear()
    assert (await client.get(path_of(feeds["gp"]))).status == 404


async def test_an_unknown_tier_feed_is_not_found(client, nurses_rota):
    feeds = await feeds_of(client)
    assert (await client.get(path_of(feeds["gp"]).replace("gp.ics", "pilot.ics"))).status == 404


instants = st.datetimes(min_value=dt.datetime(2025, 1, 1), max_value=dt.datetime(2028, 1, 1),
                        timezones=st.just(dt.UTC)).map(lambda d: d.replace(microsecond=0))  # fmt: skip


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60)
@given(st.lists(st.tuples(instants, st.integers(60, 10 * 24 * 3600),
                          st.frozensets(st.integers(1, 10_000), max_size=4), st.booleans()),
                max_size=20))  # fmt: skip
def test_exporting_to_icalendar_and_reading_back_gives_the_same_shifts(items):
    events = [CalendarEvent(start, start + dt.timedelta(seconds=length), f"Vagt {i}", who, gap)
              for i, (start, length, who, gap) in enumerate(items)]  # fmt: skip
    stamp = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    back = read_calendar(build_calendar("Test", "feed", events, stamp))
    assert back == sorted(events, key=lambda e: (e.start, e.end))
