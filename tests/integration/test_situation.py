"""The situation routing decides on, read in one query: rotas, presence, status, calls, own GP."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from advice_line import rota_store
from advice_line.rota_cache import RotaCache
from advice_line.situation import build_situation
from signalling.presence import Presence
from tests.conftest import TEST_ACTOR
from tests.integration.routing_helpers import on_duty_always

AT = dt.datetime(2026, 11, 23, 14, 0, tzinfo=dt.UTC)  # a Monday, 15:00 in Copenhagen


@pytest.fixture
async def presence(settings: Any) -> AsyncIterator[Presence]:
    redis = Redis.from_url(settings.redis_url)
    yield Presence(redis, lambda u: f"{settings.redis_key_prefix}p:{u}", "node-a", 60.0)
    await redis.aclose()


async def online(presence: Presence, *users: int, at: dt.datetime = AT) -> None:
    await presence.refresh([(u, u) for u in users], int(at.timestamp() * 1000))


async def patient_of(db: Any, make_org: Any) -> int:
    home = await make_org(kind="home_care")
    return int(await db.fetchval(
        "INSERT INTO patients (reference, organisation_id, name, diagnosis_group) "
        "VALUES ('S-1', $1, 'Karl Fiktivsen', 'cancer') RETURNING id", home["id"]))  # fmt: skip


async def test_who_can_be_rung_per_tier(db, make_user, make_org, presence):
    patient = await patient_of(db, make_org)
    free, away, offline, busy = [(await make_user("advisor"))["id"] for _ in range(4)]
    await on_duty_always(db, "senior_nurse", [free, away, offline, busy])
    await db.execute(
        "INSERT INTO advisor_presence (user_id, status) VALUES ($1, 'away')", away
    )  # fmt: skip
    nurse = await make_user("nurse")
    await db.execute(
        """INSERT INTO consultations (patient_id, nurse_id, organisation_id, channel, urgency,
                                      isbar, state, machine, offered)
           SELECT $1, $2, organisation_id, 'video', 'urgent', '{}', 'ringing', '{}', ARRAY[$3::bigint]
             FROM patients WHERE id = $1""",
        patient, nurse["id"], busy,
    )  # fmt: skip
    await online(presence, free, away, busy)
    situation = await build_situation(db, RotaCache(), presence, patient, AT)
    senior = situation[1]
    assert senior.on_duty == {free, away, offline, busy}
    assert senior.online == {free, away, busy}
    assert senior.available == (free,)
    assert situation[2].on_duty == frozenset() and situation[2].own_gp is None


async def test_a_rota_changed_since_the_index_was_built_is_seen_at_once(
    db, make_user, make_org, presence
):
    patient = await patient_of(db, make_org)
    first, second = [(await make_user("advisor"))["id"] for _ in range(2)]
    await on_duty_always(db, "senior_nurse", [first])
    await online(presence, first, second)
    rotas = RotaCache()
    assert (await build_situation(db, rotas, presence, patient, AT))[1].available == (first,)
    await on_duty_always(db, "senior_nurse", [second])  # same connection, same instant
    situation = await build_situation(db, rotas, presence, patient, AT)
    assert set(situation[1].available) == {first, second}
    rota_id = await db.fetchval("SELECT id FROM rotas WHERE name = $1", f"senior_nurse {first}")
    await rota_store.delete_rota(db, TEST_ACTOR, rota_id)
    assert (await build_situation(db, rotas, presence, patient, AT))[1].available == (second,)


async def test_the_patients_own_gp_is_found_when_the_commitment_covers_the_moment(
    db, make_user, make_org, presence
):
    patient = await patient_of(db, make_org)
    own, evenings, rota_gp = [(await make_user("advisor", tier="gp"))["id"] for _ in range(3)]
    await on_duty_always(db, "gp", [rota_gp])
    weekday_days = [{"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "16:00"}]
    evening = [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "16:00", "end": "23:00"}]
    for gp, windows in ((own, weekday_days), (evenings, evening)):
        await db.execute(
            "INSERT INTO gp_commitments (patient_id, gp_id, windows, valid_from) "
            "VALUES ($1, $2, $3, '2026-01-01')", patient, gp, windows)  # fmt: skip
    await online(presence, own, evenings, rota_gp)
    situation = await build_situation(db, RotaCache(), presence, patient, AT)
    assert situation[2].own_gp == own  # 15:00 on a Monday: the weekday commitment
    assert situation[2].available == (rota_gp,)  # the own GP is not on the rota's list
    later_at = AT + dt.timedelta(hours=3)
    await online(presence, own, evenings, rota_gp, at=later_at)
    later = await build_situation(db, RotaCache(), presence, patient, later_at)
    assert later[2].own_gp == evenings
