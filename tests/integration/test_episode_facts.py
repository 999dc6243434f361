"""The stored episode facts on real PostgreSQL: written by the routing engine with the final
event (by a person's action and by the wrap-up timer), equal to ``derive`` of the timeline,
forgotten when an event comes later, checked and fixed by ``advice-line episodes
rebuild-facts``, and reports and statements the same with and without them."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from advice_line import evaluation_store, fee_store
from advice_line.app import create_app
from advice_line.episodes import store, stored_facts
from advice_line.episodes.facts import derive
from advice_line.evaluation import ReportFilter
from advice_line.evaluation.rows import MEASURE_COLUMNS, measures
from advice_line.fees.period import Month
from tests.integration.routing_helpers import Person, on_duty_always

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = (ROOT / "deploy" / "fee-schedule.example.toml").read_text(encoding="utf-8")
ADVICE_LINE = Path(sys.executable).parent / "advice-line"
ISBAR = {"situation": "Åndenød", "background": "KOL", "assessment": "Urolig", "request": "Råd"}
TODAY = dt.datetime.now(ZoneInfo("Europe/Copenhagen")).date()


async def wait_state(db: Any, cid: int, state: str, within: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while await db.fetchval("SELECT state FROM consultations WHERE id = $1", cid) != state:
        assert asyncio.get_running_loop().time() < deadline, f"{cid} never reached {state}"
        await asyncio.sleep(0.02)


@pytest.fixture
async def world(aiohttp_server, settings, make_user, make_org, db):
    """Calls routed through a real server: completed (documented), cancelled, escalated to a
    GP, completed by the wrap-up timer, and one still in its call (open)."""
    fast = settings.replace(ring_seconds=(5.0, 5.0, 5.0), wrap_up_seconds=0.3)
    server = await aiohttp_server(create_app(fast))
    base = str(server.make_url("/"))
    home = await make_org(kind="home_care")
    patient = await db.fetchval(
        """INSERT INTO patients (reference, organisation_id, name, diagnosis_group)
           VALUES ('EF-1', $1, 'Poul Fiktivsen', 'cancer') RETURNING id""", home["id"])  # fmt: skip
    nurse = await Person(base, await make_user("nurse", organisation_id=home["id"])).login()
    senior = await Person(base, await make_user("advisor", tier="senior_nurse")).login()
    gp = await Person(base, await make_user("advisor", tier="gp")).login()
    people = [nurse, senior, gp]
    try:
        await senior.connect()
        await gp.connect()
        await on_duty_always(db, "senior_nurse", [senior.id])
        await on_duty_always(db, "gp", [gp.id])
        ids = await _calls(db, nurse, senior, gp, patient)
        yield {"settings": fast, "ids": ids, "home": home, "senior": senior, "gp": gp}
    finally:
        for p in people:
            await p.close()


async def _calls(
    db: Any, nurse: Person, senior: Person, gp: Person, patient: int
) -> dict[str, int]:
    async def ask() -> int:
        status, body = await nurse.call("POST", "/api/v1/consultations", json={
            "patient_id": patient, "channel": "video", "urgency": "urgent", "isbar": ISBAR})  # fmt: skip
        assert status == 201, body
        return int(body["consultation"]["id"])

    async def post(person: Person, cid: int, action: str, **kw: Any) -> None:
        status, body = await person.call("POST", f"/api/v1/consultations/{cid}/{action}", **kw)
        assert status == 200, (action, body)

    async def answered(advisor: Person) -> int:
        cid = await ask()
        await advisor.wait_for("consultation.ringing", consultation__id=cid)
        await post(advisor, cid, "accept")
        return cid

    completed = await answered(senior)
    await post(senior, completed, "end")
    assert not await stored_row(db, completed), "no facts before the final event"
    await post(senior, completed, "wrap-up-done")
    cancelled = await ask()
    await senior.wait_for("consultation.ringing", consultation__id=cancelled)
    await post(nurse, cancelled, "cancel")
    escalated = await answered(senior)
    await post(senior, escalated, "escalate", json={"note": "Behov for læge"})
    await gp.wait_for("consultation.ringing", consultation__id=escalated)
    await post(gp, escalated, "accept")
    await post(senior, escalated, "leave")
    await post(gp, escalated, "end")
    await post(gp, escalated, "wrap-up-done")
    timed_out = await answered(senior)
    await post(nurse, timed_out, "end")
    await wait_state(db, timed_out, "ended")  # the wrap-up timer closes it
    open_call = await answered(senior)
    return {"completed": completed, "cancelled": cancelled, "escalated": escalated,
            "timed_out": timed_out, "open": open_call}  # fmt: skip


async def stored_row(db: Any, cid: int) -> dict[str, Any] | None:
    row = await db.fetchrow("SELECT * FROM episode_facts WHERE consultation_id = $1", cid)
    return dict(row) if row else None


def measures_in(row: dict[str, Any]) -> Any:
    return stored_facts.stored_measures([row[f"m_{c}"] for c in MEASURE_COLUMNS])


async def derived(db: Any, cid: int) -> Any:
    return derive(cid, await store.load_events(db, cid))


async def test_closed_calls_have_their_facts_stored_equal_to_derive(world, db):
    ids = world["ids"]
    for name in ("completed", "cancelled", "escalated", "timed_out"):
        row = await stored_row(db, ids[name])
        assert row is not None, name
        assert row["derived_by"] == stored_facts.DERIVED_BY
        facts = await derived(db, ids[name])
        assert stored_facts.from_stored(row["facts"]) == facts, name
        assert row["facts"] == stored_facts.to_stored(facts)
        assert measures_in(row) == measures(facts), name
    assert await stored_row(db, ids["open"]) is None
    outcomes = {
        name: stored_facts.from_stored((await stored_row(db, ids[name]) or {})["facts"]).outcome
        for name in ("completed", "cancelled", "escalated", "timed_out")
    }
    assert outcomes == {"completed": "completed", "cancelled": "cancelled",
                        "escalated": "completed", "timed_out": "completed"}  # fmt: skip
    escalated = stored_facts.from_stored((await stored_row(db, ids["escalated"]) or {})["facts"])
    assert [e.result for e in escalated.escalations] == ["answered"]
    assert escalated.highest_tier == 2


async def test_every_consultation_of_a_run_passes_the_rebuild_check(world, db):
    result = await stored_facts.rebuild(db, fix=False)
    assert (result.checked, result.differences) == (4, 0)


async def test_an_event_appended_later_forgets_the_facts_until_rebuilt(world, db):
    cid = world["ids"]["completed"]
    await db.execute(
        """INSERT INTO consultation_events (consultation_id, at, type, actor_id, data)
           VALUES ($1, now(), 'call_quality', $2, $3)""",
        cid, world["senior"].id,
        {"rtt_ms": 40, "packet_loss": 0.01, "bitrate_kbps": 900, "relay": False},
    )  # fmt: skip
    assert await stored_row(db, cid) is None
    f = ReportFilter(TODAY - dt.timedelta(days=1), TODAY + dt.timedelta(days=2))
    [record] = [
        r for r in await evaluation_store.load_episodes(db, f) if r.facts.consultation_id == cid
    ]
    assert record.facts == await derived(db, cid)
    assert record.facts.quality.reports == 1
    result = await stored_facts.rebuild(db, fix=True)
    assert result.missing == [cid]
    row = await stored_row(db, cid)
    assert row is not None and stored_facts.from_stored(row["facts"]).quality.reports == 1


async def run_cli(settings: Any, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADVICE_LINE_")}
    env.update(ADVICE_LINE_DATABASE_URL=settings.database_url, ADVICE_LINE_REDIS_URL=settings.redis_url,
               ADVICE_LINE_REDIS_KEY_PREFIX="clifacts:", ADVICE_LINE_DATA_DIR=str(settings.data_dir),
               ADVICE_LINE_ENVIRONMENT="test", ADVICE_LINE_MIGRATE_ON_START="false")  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        str(ADVICE_LINE), "episodes", "rebuild-facts", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=90)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def tamper(db: Any, ids: dict[str, int]) -> None:
    """A row with other facts, one missing, one by other derive code, one for an open call."""
    row = await stored_row(db, ids["completed"])
    assert row is not None
    wrong = replace(stored_facts.from_stored(row["facts"]), outcome="cancelled")
    await db.execute("UPDATE episode_facts SET facts = $2, m_outcome = 'cancelled' WHERE consultation_id = $1",
                     ids["completed"], stored_facts.to_stored(wrong))  # fmt: skip
    await db.execute("DELETE FROM episode_facts WHERE consultation_id = $1", ids["cancelled"])
    await db.execute(
        "UPDATE episode_facts SET derived_by = 'old' WHERE consultation_id = $1", ids["escalated"]
    )
    facts = stored_facts.to_stored(await derived(db, ids["open"]))
    await db.execute("INSERT INTO episode_facts VALUES ($1, $2, $3)",
                     ids["open"], stored_facts.DERIVED_BY, facts)  # fmt: skip


@pytest.mark.slow
async def test_rebuild_check_finds_tampered_rows_and_rebuild_fixes_them(world, db):
    ids = world["ids"]
    await tamper(db, ids)
    before = [dict(r) for r in await db.fetch("SELECT * FROM episode_facts ORDER BY 1")]
    code, out, err = await run_cli(world["settings"], "--check")
    assert code == 1, (out, err)
    assert "1 missing, 1 outdated, 1 differing, 1 stored for open consultations" in out
    assert f"differing: {ids['completed']}" in out and f"missing: {ids['cancelled']}" in out
    assert f"outdated: {ids['escalated']}" in out and f"extra: {ids['open']}" in out
    assert [dict(r) for r in await db.fetch("SELECT * FROM episode_facts ORDER BY 1")] == before

    code, out, err = await run_cli(world["settings"])
    assert code == 0, (out, err)
    assert "4 fixed" in out
    code, out, err = await run_cli(world["settings"], "--check")
    assert code == 0 and "0 differ" in out, (out, err)
    for name in ("completed", "cancelled", "escalated", "timed_out"):
        row = await stored_row(db, ids[name])
        assert row is not None and row["derived_by"] == stored_facts.DERIVED_BY
        assert stored_facts.from_stored(row["facts"]) == await derived(db, ids[name])
    assert await stored_row(db, ids["open"]) is None


async def test_rebuild_check_finds_measures_that_differ_from_their_facts(world, db):
    cid = world["ids"]["escalated"]
    await db.execute(
        "UPDATE episode_facts SET m_t2_wait = m_t2_wait + 1 WHERE consultation_id = $1", cid
    )
    result = await stored_facts.rebuild(db, fix=True)
    assert result.differing == [cid] and result.differences == 1
    row = await stored_row(db, cid)
    assert row is not None and measures_in(row) == measures(await derived(db, cid))


async def test_reports_and_statements_are_the_same_with_and_without_the_table(world, db):
    month = Month.of(TODAY)
    await db.execute(
        """INSERT INTO fee_schedules (version, effective_from, document, sha256, uploaded_by)
           VALUES ('eksempel-2026-01', '2026-01-01', $1, repeat('0', 64), 'test')""",
        EXAMPLE,
    )
    f = ReportFilter(TODAY - dt.timedelta(days=1), TODAY + dt.timedelta(days=2))
    until = dt.datetime.now(dt.UTC)  # standby accrues by the second: compare at one instant

    async def figures() -> tuple[Any, Any, Any]:
        report = await evaluation_store.load_report(db, f)
        statement, _names = await fee_store.statement(db, month, until=until)
        return report, statement, sorted(await fee_store.episodes_of(db, month), key=id_of)

    stored = await figures()
    assert stored[0].episodes == 5 and len(stored[2]) == 5
    assert await db.fetchval("SELECT count(*) FROM episode_facts") == 4
    # The loaders do read the table: a wrong row shows (and the check would find it).
    await tamper(db, world["ids"])
    tampered = await figures()
    assert tampered[0] != stored[0]
    # Without the table every episode is derived from its timeline, as before the table.
    await db.execute("DELETE FROM episode_facts")
    assert await figures() == stored
    live = sorted([await derived(db, cid) for cid in world["ids"].values()], key=id_of)
    assert stored[2] == live
    await stored_facts.rebuild(db, fix=True)
    assert await db.fetchval("SELECT count(*) FROM episode_facts") == 4
    assert await figures() == stored


def id_of(facts: Any) -> int:
    return int(facts.consultation_id)
