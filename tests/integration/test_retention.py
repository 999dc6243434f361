"""Retention on a real server: old records made by inserting rows with old timestamps,
young ones through the API; the dry run, the run in batches with its audit entries, the
database's own refusals (ordinary DELETE, and a record inside its period even through the
retention path), and the command as a process."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from advice_line.retention.policy import FLOORS, Kind, Policy
from advice_line.retention.run import run
from tests.integration.test_episodes import DOC, answered, world  # noqa: F401 (a fixture)

ADVICE_LINE = Path(sys.executable).parent / "advice-line"
YEAR = dt.timedelta(days=366)
TOO_OLD = 11 * YEAR  # past the ten years of patient records
REFUSED = asyncpg.exceptions.InsufficientPrivilegeError


async def now(db: Any) -> dt.datetime:
    value = await db.fetchval("SELECT now()")
    assert isinstance(value, dt.datetime)
    return value


async def old_patient(db: Any, org_id: int, age: dt.timedelta, ref: str) -> int:
    at = await now(db) - age
    return int(await db.fetchval(
        """INSERT INTO patients (reference, organisation_id, name, diagnosis_group, created_at,
                                 updated_at)
           VALUES ($1, $2, 'Gammel Fiktivsen', 'cancer', $3, $3) RETURNING id""",
        ref, org_id, at,
    ))  # fmt: skip


async def old_episode(db: Any, patient_id: int, nurse_id: int, org_id: int, advisor_id: int,
                      age: dt.timedelta) -> int:  # fmt: skip
    """A consultation whose every row (events, documentation, timer) is ``age`` old."""
    at = await now(db) - age
    cid = int(await db.fetchval(
        """INSERT INTO consultations (patient_id, nurse_id, organisation_id, channel, urgency,
                                      isbar, state, machine, created_at, updated_at)
           VALUES ($1, $2, $3, 'audio', 'routine', '{"situation": "Smerter"}', 'ended', '{}',
                   $4, $4) RETURNING id""",
        patient_id, nurse_id, org_id, at,
    ))  # fmt: skip
    for i, kind in enumerate(("requested", "accepted", "ended")):
        await db.execute(
            """INSERT INTO consultation_events (consultation_id, at, type, data)
               VALUES ($1, $2, $3, $4)""",
            cid, at + dt.timedelta(minutes=i), kind, {"advisor": advisor_id},
        )  # fmt: skip
    await db.execute(
        """INSERT INTO episode_documents (consultation_id, version, author_id, created_at,
                                          disposition, advice, follow_up)
           VALUES ($1, 1, $2, $3, 'phone_advice', 'Gammelt råd', false)""",
        cid, advisor_id, at + dt.timedelta(minutes=5),
    )  # fmt: skip
    # A timer left behind (far in the future, so the running engine does not fire it).
    await db.execute(
        """INSERT INTO consultation_timers (consultation_id, kind, seq, due_at)
           VALUES ($1, 'ring', 1, now() + interval '1 year')""",
        cid,
    )
    return cid


async def old_audit(db: Any, age: dt.timedelta, n: int = 1) -> None:
    at = await now(db) - age
    for _ in range(n):
        await db.execute(
            """INSERT INTO audit_log (at, actor_username, action, target_type, reason)
               VALUES ($1, 'old', 'patient.read', 'patient', 'old')""",
            at,
        )


async def counts(db: Any) -> dict[str, int]:
    tables = ("consultations", "consultation_events", "episode_documents", "consultation_timers",
              "course_outcomes", "gp_commitments", "sessions", "push_subscriptions",
              "rota_overrides", "patients")  # fmt: skip
    return {t: await db.fetchval(f"SELECT count(*) FROM {t}") for t in tables}


@pytest.fixture
async def aged(world: dict[str, Any], make_user: Any) -> dict[str, Any]:  # noqa: F811
    """Young records through the API (an answered, documented call) and old ones inserted
    with old timestamps: an 11-year-old episode of an 11-year-old patient, a 9-year-old
    episode, audit entries 6 and 1 years old, old and new sessions, push subscriptions and
    course outcomes, a long-ended GP commitment and rota override."""
    db = world["db"]
    cid, senior = await answered(world)
    status, _ = await senior.call("POST", f"/api/v1/episodes/{cid}/documentation", json=DOC)
    assert status == 201
    org = world["home"]["id"]
    nurse_id, advisor_id = world["nurse"].id, senior.id
    gone_patient = await old_patient(db, org, TOO_OLD, "OLD-1")
    kept_patient = await old_patient(db, org, TOO_OLD, "OLD-2")
    old_cid = await old_episode(db, gone_patient, nurse_id, org, advisor_id, TOO_OLD)
    nine_cid = await old_episode(db, kept_patient, nurse_id, org, advisor_id, 9 * YEAR)
    t = await now(db)
    await db.execute(
        """INSERT INTO course_outcomes (patient_id, version, recorded_by, recorded_at,
                                        course_ended_on, died, wished_place)
           VALUES ($1, 1, $3, $2, '2014-01-01', false, 'home'),
                  ($1, 2, $3, $2::timestamptz + interval '1 day', '2014-01-01', false, 'home'),
                  ($4, 1, $3, $5, '2024-01-01', false, 'home')""",
        gone_patient, t - TOO_OLD, nurse_id, world["patient_id"], t - 2 * YEAR,
    )  # fmt: skip
    await db.execute(
        """INSERT INTO gp_commitments (patient_id, gp_id, windows, valid_from, valid_to, created_at)
           VALUES ($1, $2, '[]', $3, $3, $4)""",
        gone_patient, advisor_id, (t - TOO_OLD).date(), t - TOO_OLD,
    )  # fmt: skip
    await old_audit(db, 6 * YEAR, 3)
    await old_audit(db, YEAR)
    await db.execute(
        """INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, last_seen_at,
                                 expires_at, revoked_at)
           VALUES ('old-expired', $1, 'x', $2, $2, $2::timestamptz + interval '1 day', NULL),
                  ('old-revoked', $1, 'x', $2, $2, $3::timestamptz + interval '1 day', $2),
                  ('recently-ended', $1, 'x', $3, $3, $3, NULL)""",
        nurse_id, t - dt.timedelta(days=200), t - dt.timedelta(days=10),
    )  # fmt: skip
    await db.execute(
        """INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth, created_at,
                                           last_success_at)
           VALUES ($1, 'https://push.example/unused', 'k', 'a', $2, $2),
                  ($1, 'https://push.example/used', 'k', 'a', $2, $3)""",
        advisor_id, t - dt.timedelta(days=400), t - dt.timedelta(days=3),
    )  # fmt: skip
    rota = await db.fetchval("INSERT INTO rotas (name, tier) VALUES ('Gammel', 'gp') RETURNING id")
    await db.execute(
        """INSERT INTO rota_overrides (rota_id, kind, clinician_id, start_at, end_at, created_at)
           VALUES ($1, 'add', $2, $3, $3::timestamptz + interval '8 hours', $3)""",
        rota, advisor_id, t - 7 * YEAR,
    )  # fmt: skip
    return {"db": db, "young": cid, "old": old_cid, "nine": nine_cid,
            "gone_patient": gone_patient, "kept_patient": kept_patient}  # fmt: skip


async def test_dry_run_says_what_would_go_and_deletes_nothing(aged: dict[str, Any]) -> None:
    db = aged["db"]
    before = await counts(db)
    audit_before = await db.fetchval("SELECT count(*) FROM audit_log")
    results = await run(db, Policy.default(), dry_run=True)
    found = {r.kind: r.count for r in results}
    assert found == {
        Kind.EPISODES: 1, Kind.COURSE_OUTCOMES: 1, Kind.GP_COMMITMENTS: 1, Kind.AUDIT: 3,
        Kind.SESSIONS: 2, Kind.PUSH_SUBSCRIPTIONS: 1, Kind.ROTA_OVERRIDES: 1,
        Kind.ROTA_SWAPS: 0,
        # The old patient still has an episode and audit entries point at nobody: none yet.
        Kind.PATIENTS: 0,
    }  # fmt: skip
    assert await counts(db) == before
    assert await db.fetchval("SELECT count(*) FROM audit_log") == audit_before


async def test_run_deletes_in_batches_what_is_past_its_period_only(aged: dict[str, Any]) -> None:
    db = aged["db"]
    before = await counts(db)
    results = await run(db, Policy.default(), dry_run=False, batch_size=2)
    by_kind = {r.kind: (r.count, r.batches) for r in results}
    assert by_kind[Kind.EPISODES] == (1, 1)
    assert by_kind[Kind.AUDIT] == (3, 2)  # batches of 2: 2 + 1
    assert by_kind[Kind.SESSIONS] == (2, 1)
    # The old patient went last, once its episode, course outcome and commitment had gone;
    # the other old patient keeps its 9-year-old episode, so it stays.
    assert by_kind[Kind.PATIENTS] == (1, 1)
    assert not await db.fetchval("SELECT 1 FROM consultations WHERE id = $1", aged["old"])
    for table in ("consultation_events", "episode_documents", "consultation_timers"):
        assert not await db.fetchval(f"SELECT 1 FROM {table} WHERE consultation_id = $1", aged["old"])  # fmt: skip
    for cid in (aged["young"], aged["nine"]):
        assert await db.fetchval("SELECT count(*) FROM consultation_events WHERE consultation_id = $1", cid)  # fmt: skip
        assert await db.fetchval("SELECT 1 FROM episode_documents WHERE consultation_id = $1", cid)
    after = await counts(db)
    assert after["course_outcomes"] == before["course_outcomes"] - 2  # both versions
    assert after["gp_commitments"] == before["gp_commitments"] - 1
    assert after["push_subscriptions"] == before["push_subscriptions"] - 1
    assert after["rota_overrides"] == before["rota_overrides"] - 1
    assert await db.fetchval("SELECT token_hash FROM sessions WHERE token_hash LIKE 'recently%'")
    assert not await db.fetchval("SELECT 1 FROM patients WHERE id = $1", aged["gone_patient"])
    assert await db.fetchval("SELECT 1 FROM patients WHERE id = $1", aged["kept_patient"])
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE actor_username = 'old'") == 1
    # One audit entry per batch: kind, count, cutoff and period; no names, no ids.
    entries = await db.fetch(
        "SELECT * FROM audit_log WHERE action = 'retention.delete' ORDER BY id"
    )
    assert sum(1 for e in entries if e["target_type"] == "audit") == 2
    assert sum(e["details"]["count"] for e in entries) == sum(r.count for r in results)
    for e in entries:
        assert set(e["details"]) == {"kind", "count", "cutoff", "period"}
        assert e["patient_id"] is None and e["target_id"] is None
        assert "Fiktivsen" not in str(dict(e))
    # A second run finds nothing more.
    assert sum(r.count for r in await run(db, Policy.default(), dry_run=False)) == 0


@pytest.mark.parametrize(
    ("table", "where"),
    [
        ("audit_log", "true"),
        ("consultation_events", "true"),
        ("episode_documents", "true"),
        ("course_outcomes", "true"),
    ],
)
async def test_an_ordinary_delete_update_or_truncate_is_still_refused(
    aged: dict[str, Any], table: str, where: str
) -> None:
    db = aged["db"]
    for statement in (f"DELETE FROM {table} WHERE {where}", f"TRUNCATE {table} CASCADE"):
        with pytest.raises(REFUSED, match="append-only"):
            await db.execute(statement)
    with pytest.raises(REFUSED, match="append-only"):
        await db.execute(f"UPDATE {table} SET id = id")


async def test_inside_its_period_nothing_goes_even_through_the_retention_path(
    aged: dict[str, Any],
) -> None:
    db = aged["db"]
    t = await now(db)

    async def delete_with_cutoff(cutoff: dt.datetime, statement: str, *args: Any) -> None:
        async with db.transaction():
            await db.execute("SELECT set_config('advice_line.retention_cutoff', $1, true)",
                             cutoff.isoformat())  # fmt: skip
            await db.execute(statement, *args)

    # A proper cutoff (ten years back), but the 9-year-old episode is after it: refused row
    # by row by the database, whatever the caller chose.
    ten_years = Policy.default().cutoff(Kind.EPISODES, t)
    for table in ("consultation_events", "episode_documents"):
        with pytest.raises(REFUSED, match="append-only"):
            await delete_with_cutoff(ten_years, f"DELETE FROM {table} WHERE consultation_id = $1", aged["nine"])  # fmt: skip
    # A cutoff inside the legal floor (one year back) is refused outright, even for the
    # 11-year-old episode and the 6-year-old audit entries.
    for statement, args in (
        ("DELETE FROM consultation_events WHERE consultation_id = $1", (aged["old"],)),
        ("DELETE FROM audit_log WHERE actor_username = 'old'", ()),
    ):
        with pytest.raises(REFUSED, match="inside the retention floor"):
            await delete_with_cutoff(t - YEAR, statement, *args)
    # An audit entry one year old with a proper audit cutoff: refused row by row.
    with pytest.raises(REFUSED, match="append-only"):
        await delete_with_cutoff(t - 3 * YEAR, "DELETE FROM audit_log WHERE at > $1", t - 2 * YEAR)
    # The setting ends with its transaction: afterwards a plain DELETE is refused again.
    with pytest.raises(REFUSED, match="append-only"):
        await db.execute("DELETE FROM consultation_events WHERE consultation_id = $1", aged["old"])
    assert await db.fetchval("SELECT count(*) FROM consultation_events WHERE consultation_id = $1", aged["old"]) == 3  # fmt: skip


async def test_the_database_floors_match_the_code(db: Any) -> None:
    rows = await db.fetch(
        "SELECT kind, extract(year FROM floor)::int AS years FROM retention_floors"
    )
    assert {r["kind"]: r["years"] for r in rows} == {
        k: FLOORS[k].count for k in ("patient_records", "audit")
    }


@pytest.mark.slow
async def test_the_command_as_a_process(
    aged: dict[str, Any], settings: Any, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADVICE_LINE_")}
    env.update(ADVICE_LINE_DATABASE_URL=settings.database_url,
               ADVICE_LINE_REDIS_URL=settings.redis_url, ADVICE_LINE_DATA_DIR=str(tmp_path),
               ADVICE_LINE_ENVIRONMENT="test", ADVICE_LINE_REDIS_KEY_PREFIX="ret:")  # fmt: skip

    async def command(*args: str, extra: dict[str, str] | None = None) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            str(ADVICE_LINE), "retention", "run", *args, env={**env, **(extra or {})},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(process.communicate(), timeout=90)
        assert process.returncode is not None
        return process.returncode, out.decode(), err.decode()

    db = aged["db"]
    code, out, err = await command("--dry-run")
    assert code == 0, err
    assert "episodes" in out and "1 would go" in out and "period 10y" in out
    assert "total: 10 would go (dry run)" in out
    assert await db.fetchval("SELECT 1 FROM consultations WHERE id = $1", aged["old"])
    # A period under the floor stops the command before it touches anything.
    code, _, err = await command(extra={"ADVICE_LINE_RETENTION_PATIENT_RECORDS": "5y"})
    assert code == 2
    assert "ADVICE_LINE_RETENTION_PATIENT_RECORDS: must be at least 10y" in err
    assert await db.fetchval("SELECT 1 FROM consultations WHERE id = $1", aged["old"])
    code, out, err = await command("--batch-size", "1")
    assert code == 0, err
    assert "audit                      3 deleted in 3 batch(es)" in out
    assert "total: 11 deleted" in out
    assert "Fiktivsen" not in out + err
    assert not await db.fetchval("SELECT 1 FROM consultations WHERE id = $1", aged["old"])
