"""Fee schedules and statements on real PostgreSQL: upload through the API and the CLI, bad
documents refused with every error and nothing stored, a statement from real routed
consultations and a rota that reconciles, who may see what, and the CSV's shape."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import os
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from advice_line.app import create_app
from advice_line.fees.period import Month
from advice_line.fees.render import CSV_COLUMNS
from tests.integration.routing_helpers import Person, on_duty_always

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = (ROOT / "deploy" / "fee-schedule.example.toml").read_text(encoding="utf-8")
ADVICE_LINE = Path(sys.executable).parent / "advice-line"
ISBAR = {"situation": "Smerter", "background": "Cancer", "assessment": "Urolig",
         "request": "Råd om medicin"}  # fmt: skip
TOML = {"Content-Type": "application/toml"}


def document(
    version: str = "v-test", effective: str = "2026-01-01", *changes: tuple[str, str]
) -> str:
    text = EXAMPLE.replace('version = "eksempel-2026-01"', f'version = "{version}"')
    text = text.replace("effective_from = 2026-01-01", f"effective_from = {effective}")
    for old, new in changes:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


async def stored(db: Any) -> int:
    return int(await db.fetchval("SELECT count(*) FROM fee_schedules"))


async def upload(client: Any, text: str | bytes, query: str = "?allow_past=true") -> Any:
    return await client.post(f"/api/v1/fee-schedules{query}", data=text, headers=TOML)


# Uploading --------------------------------------------------------------------------------


async def test_an_admin_uploads_a_schedule_and_everyone_entitled_lists_it(client, login_as, db):
    await login_as("admin")
    response = await upload(client, document())
    assert response.status == 201, await response.text()
    schedule = (await response.json())["schedule"]
    assert (schedule["version"], schedule["effective_from"]) == ("v-test", "2026-01-01")
    assert len(schedule["sha256"]) == 64
    row = await db.fetchrow("SELECT document, uploaded_by FROM fee_schedules")
    assert row["document"] == document()
    audit = await db.fetchrow(
        "SELECT action, details FROM audit_log WHERE action = 'fee_schedule.load'"
    )
    assert audit["details"]["version"] == "v-test"
    listing = await (await client.get("/api/v1/fee-schedules")).json()
    assert [s["version"] for s in listing["schedules"]] == ["v-test"]
    assert listing["schedules"][0]["description"].startswith("Eksempel")
    await login_as("coordinator")
    assert (await client.get("/api/v1/fee-schedules")).status == 200


async def test_a_schedule_can_be_uploaded_as_a_form_file(client, login_as, db):
    await login_as("admin")
    form = aiohttp.FormData()
    form.add_field(
        "file", document().encode(), filename="honorar.toml", content_type="application/toml"
    )
    form.add_field("allow_past", "true")
    response = await client.post("/api/v1/fee-schedules", data=form)
    assert response.status == 201, await response.text()
    assert await stored(db) == 1
    empty = aiohttp.FormData(default_to_multipart=True)
    empty.add_field("allow_past", "true")
    response = await client.post("/api/v1/fee-schedules", data=empty)
    assert response.status == 422
    assert (await response.json())["errors"][0]["field"] == "file"


async def test_a_bad_document_lists_every_error_and_stores_nothing(client, login_as, db):
    await login_as("admin")
    bad = document("v-bad", "2026-01-01",
                   ('video = "425.00"', "video = 425.0"), ('audio = "600.00"', 'audio = "-1"'),
                   ('end = "22:00"', 'end = "23:00"'), ("[contact.3]", "[contact.4]"),
                   ('per_patient_month = "250.00"', 'per_patient_month = "250.001"'))  # fmt: skip
    response = await upload(client, bad)
    assert response.status == 422
    assert response.content_type == "application/problem+json"
    problem = await response.json()
    assert problem["type"].endswith("/fee-schedule-invalid")
    found = {(e["field"], e["code"]) for e in problem["errors"]}
    assert found >= {
        ("contact.1.video", "amount_is_float"), ("contact.2.audio", "negative_amount"),
        ("bands[2]", "overlapping_bands"), ("contact.4", "unknown_tier"),
        ("contact.3", "missing_tier"), ("commitment.per_patient_month", "too_many_decimals"),
    }  # fmt: skip
    assert await stored(db) == 0


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        (b'version = "x"\n[contact\n', TOML, 422, "toml_syntax"),
        (b"\xff\xfe not utf-8", TOML, 422, "not_utf8"),
        (b'{"version": "x"}', {"Content-Type": "application/json"}, 415, None),
        (b"x" * (256 * 1024 + 1), TOML, 413, None),
    ],
)
async def test_unusable_bodies_are_refused(client, login_as, db, body, headers, status, code):
    await login_as("admin")
    response = await client.post(
        "/api/v1/fee-schedules?allow_past=true", data=body, headers=headers
    )
    assert response.status == status
    problem = await response.json()
    if code:
        assert problem["errors"][0]["code"] == code
    if code == "toml_syntax":
        assert problem["errors"][0]["line"] == 2
    assert await stored(db) == 0


async def test_labels_and_dates_are_unique_and_the_past_needs_consent(client, login_as, db):
    await login_as("admin")
    assert (await upload(client, document("a", "2026-01-01"))).status == 201
    again = await upload(client, document("a", "2026-02-01"))
    assert again.status == 409
    assert (await again.json())["errors"][0]["field"] == "version"
    same_day = await upload(client, document("b", "2026-01-01"))
    assert same_day.status == 409
    assert (await same_day.json())["errors"][0]["field"] == "effective_from"
    past = await upload(client, document("c", "2026-01-02"), query="")
    assert past.status == 422
    assert (await past.json())["errors"][0]["code"] == "effective_in_past"
    assert (
        await upload(client, document("c", "2026-01-02"), query="?allow_past=maybe")
    ).status == 400
    future = (dt.date.today() + dt.timedelta(days=40)).isoformat()
    assert (await upload(client, document("d", future), query="")).status == 201
    assert await stored(db) == 2


async def test_only_admins_upload_and_the_store_is_append_only(client, login_as, db):
    assert (await upload(client, document())).status == 401
    await login_as("coordinator")
    assert (await upload(client, document())).status == 403
    await login_as("nurse")
    assert (await client.get("/api/v1/fee-schedules")).status == 403
    await login_as("advisor")
    assert (await client.get("/api/v1/fee-schedules")).status == 403
    assert await stored(db) == 0
    await login_as("admin")
    assert (await upload(client, document())).status == 201
    with pytest.raises(Exception, match="append-only"):
        await db.execute("UPDATE fee_schedules SET version = 'changed'")
    with pytest.raises(Exception, match="append-only"):
        await db.execute("DELETE FROM fee_schedules")


# A statement from real calls and a rota ---------------------------------------------------


@pytest.fixture
async def world(aiohttp_server, settings, make_user, make_org, db):
    """A served app, a fee schedule, a senior nurse always on duty who took one real call."""
    app = create_app(settings)
    server = await aiohttp_server(app)
    base = str(server.make_url("/"))
    home = await make_org(kind="home_care")
    nurse = await Person(base, await make_user("nurse", organisation_id=home["id"])).login()
    senior_user = await make_user("advisor", tier="senior_nurse")
    senior = await Person(base, senior_user).login()
    other = await Person(base, await make_user("advisor", tier="gp")).login()
    await senior.connect()
    await on_duty_always(db, "senior_nurse", [senior.id])
    month = Month.of(await db.fetchval("SELECT (now() AT TIME ZONE 'Europe/Copenhagen')::date"))
    previous = Month(month.year - (month.month == 1), (month.month - 2) % 12 + 1)
    await db.execute(
        """INSERT INTO fee_schedules (version, effective_from, document, sha256, uploaded_by)
           VALUES ('v-test', $1, $2, repeat('0', 64), 'test')""",
        previous.first_day, document("v-test", previous.first_day.isoformat()),
    )  # fmt: skip
    patient = await db.fetchval(
        """INSERT INTO patients (reference, organisation_id, name, diagnosis_group)
           VALUES ('F-1', $1, 'Inger Fiktivsen', 'cancer') RETURNING id""", home["id"])  # fmt: skip
    status, body = await nurse.call("POST", "/api/v1/consultations", json={
        "patient_id": patient, "channel": "audio", "urgency": "urgent", "isbar": ISBAR})  # fmt: skip
    assert status == 201, body
    cid = body["consultation"]["id"]
    await senior.wait_for("consultation.ringing", consultation__id=cid)
    assert (await senior.call("POST", f"/api/v1/consultations/{cid}/accept"))[0] == 200
    assert (await senior.call("POST", f"/api/v1/consultations/{cid}/end"))[0] == 200
    yield {"server": server, "base": base, "senior": senior, "other": other, "nurse": nurse,
           "month": month, "consultation_id": cid, "home": home}  # fmt: skip
    for p in (nurse, senior, other):
        await p.close()


def cents(amount: str) -> Decimal:
    return Decimal(amount)


async def test_a_statement_from_a_routed_call_and_a_rota_reconciles(world, make_user):
    month, senior = world["month"], world["senior"]
    coordinator = await Person(world["base"], await make_user("coordinator")).login()
    try:
        status, statement = await coordinator.call("GET", f"/api/v1/fees/statement?month={month}")
        assert status == 200, statement
        [part] = statement["clinicians"]
        assert part["clinician_id"] == senior.id
        contact = [x for x in part["lines"] if x["kind"] == "contact"]
        assert [(x["rule"], x["consultation_id"], x["amount"], x["schedule_version"]) for x in contact] == [
            ("contact.tier1.audio", world["consultation_id"], "375.00", "v-test")
        ]  # fmt: skip
        standby = [x for x in part["lines"] if x["kind"] == "standby"]
        assert standby and all(x["rule"] == "standby.tier1" for x in standby)
        total = sum((cents(x["amount"]) for x in part["lines"]), Decimal(0))
        assert cents(part["total"]) == total == cents(statement["total"])
        assert sum((cents(k["amount"]) for k in statement["by_kind"]), Decimal(0)) == total
        assert statement["schedule_versions"] == ["v-test"]
        # The same again: recomputed, identical.
        assert (await coordinator.call("GET", f"/api/v1/fees/statement?month={month}"))[
            1
        ] == statement
        # As CSV: one row per line, amounts adding up to the total.
        response = await coordinator.session.get(f"/api/v1/fees/statement.csv?month={month}")
        assert response.status == 200
        assert response.content_type == "text/csv"
        assert f"honorar-{month}.csv" in response.headers["Content-Disposition"]
        rows = list(csv.reader(io.StringIO(await response.text())))
        assert tuple(rows[0]) == CSV_COLUMNS
        assert len(rows) == 1 + len(part["lines"])
        amount = CSV_COLUMNS.index("amount")
        assert sum((Decimal(r[amount]) for r in rows[1:]), Decimal(0)) == total
        # Per organisation: the senior nurse's organisation has just them.
        org = part["organisation_id"]
        status, by_org = await coordinator.call(
            "GET", f"/api/v1/fees/statement?month={month}&organisation_id={org}"
        )
        assert status == 200 and by_org["total"] == statement["total"]
        status, home = await coordinator.call(
            "GET", f"/api/v1/fees/statement?month={month}&organisation_id={world['home']['id']}"
        )
        assert status == 200 and (home["total"], home["clinicians"]) == ("0.00", [])
        # A month before any schedule: the call is not there, nothing is priced.
        status, early = await coordinator.call("GET", "/api/v1/fees/statement?month=2020-01")
        assert status == 200 and early["total"] == "0.00"
    finally:
        await coordinator.close()


async def test_an_advisor_sees_only_their_own_statement(world):
    month, senior, other = world["month"], world["senior"], world["other"]
    status, own = await senior.call("GET", f"/api/v1/fees/statement?month={month}")
    assert status == 200 and own["scope"] == "clinician" and own["scope_id"] == senior.id
    assert [c["clinician_id"] for c in own["clinicians"]] == [senior.id]
    assert (
        await senior.call("GET", f"/api/v1/fees/statement?month={month}&clinician_id={senior.id}")
    )[0] == 200
    assert (
        await other.call("GET", f"/api/v1/fees/statement?month={month}&clinician_id={senior.id}")
    )[0] == 403
    assert (await other.call("GET", f"/api/v1/fees/statement?month={month}&organisation_id=1"))[
        0
    ] == 403
    status, theirs = await other.call("GET", f"/api/v1/fees/statement?month={month}")
    assert status == 200 and theirs["clinicians"] == []
    assert (
        await other.call(
            "GET", f"/api/v1/fees/statement.csv?month={month}&clinician_id={senior.id}"
        )
    )[0] == 403
    assert (await world["nurse"].call("GET", f"/api/v1/fees/statement?month={month}"))[0] == 403


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("", 400),
        ("?month=2026-13", 400),
        ("?month=26-01", 400),
        ("?month=2026-01&clinician_id=abc", 400),
        ("?month=2026-01&clinician_id=1&organisation_id=1", 400),
        ("?month=2026-01&clinician_id=999999", 404),
        ("?month=2026-01&organisation_id=999999", 404),
    ],
)
async def test_bad_statement_queries(client, login_as, query, status):
    await login_as("admin")
    response = await client.get(f"/api/v1/fees/statement{query}")
    assert response.status == status
    assert response.content_type == "application/problem+json"


async def test_the_pages(world, make_user):
    month, senior = world["month"], world["senior"]
    admin = await Person(world["base"], await make_user("admin")).login()
    try:
        headers = {"Accept": "text/html"}
        status, page = await admin.call("GET", "/fees", headers=headers)
        assert status == 200 and 'id="upload-form"' in page and "fees.js" in page
        status, page = await senior.call("GET", "/fees", headers=headers)
        assert status == 200 and 'id="upload-form"' not in page
        assert (await world["nurse"].call("GET", "/fees", headers=headers))[0] == 403
        _, statement = await admin.call("GET", f"/api/v1/fees/statement?month={month}")
        status, printable = await admin.call("GET", f"/fees/print?month={month}", headers=headers)
        assert status == 200 and "@media print" not in printable  # the print CSS is in app.css
        total = Decimal(statement["total"])
        danish = f"{total:,.2f}".translate(str.maketrans(",.", ".,"))
        assert f'data-testid="print-total">{danish}<' in printable
        assert "contact.tier1.audio" in printable
        assert (await admin.call("GET", "/fees/print?month=2026-1", headers=headers))[0] == 400
        other = world["other"].id
        assert (await senior.call("GET", f"/fees/print?month={month}&clinician_id={other}",
                                  headers=headers))[0] == 403  # fmt: skip
    finally:
        await admin.close()


# The console command ----------------------------------------------------------------------


async def cli(settings, tmp_path, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADVICE_LINE_")}
    env.update(ADVICE_LINE_DATABASE_URL=settings.database_url, ADVICE_LINE_REDIS_URL=settings.redis_url,
               ADVICE_LINE_REDIS_KEY_PREFIX="clifees:", ADVICE_LINE_DATA_DIR=str(tmp_path),
               ADVICE_LINE_ENVIRONMENT="test")  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        str(ADVICE_LINE), *args, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=90)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.slow
async def test_the_cli_loads_lists_and_states(settings, tmp_path, db, make_user):
    good = tmp_path / "good.toml"
    good.write_text(document("cli-1", "2026-01-01"), encoding="utf-8")
    code, out, err = await cli(settings, tmp_path, "fees", "load", str(good))
    assert code == 1 and "effective_from: takes effect before today" in err
    code, out, err = await cli(settings, tmp_path, "fees", "load", str(good), "--allow-past")
    assert code == 0, err
    assert out.startswith("stored fee schedule cli-1 (in force from 2026-01-01")
    code, _, err = await cli(settings, tmp_path, "fees", "load", str(good), "--allow-past")
    assert code == 1 and "cli-1" in err
    bad = tmp_path / "bad.toml"
    bad.write_text(document("cli-2", "2026-02-01", ('video = "425.00"', "video = 425.0"),
                            ('end = "22:00"', 'end = "21:00"')), encoding="utf-8")  # fmt: skip
    code, _, err = await cli(settings, tmp_path, "fees", "load", str(bad), "--allow-past")
    assert code == 1
    assert "contact.1.video" in err and "bands" in err
    broken = tmp_path / "broken.toml"
    broken.write_text('version = "x"\n\n[contact\n', encoding="utf-8")
    code, _, err = await cli(settings, tmp_path, "fees", "load", str(broken), "--allow-past")
    assert code == 1 and "line 3, document" in err
    assert await stored(db) == 1
    code, out, _ = await cli(settings, tmp_path, "fees", "list")
    assert code == 0 and "cli-1" in out and "2026-01-01" in out
    gp = await make_user("advisor", tier="gp", username="gp.fees")
    patient = await db.fetchval(
        """INSERT INTO patients (reference, organisation_id, name, diagnosis_group)
           VALUES ('C-1', $1, 'Inger Fiktivsen', 'cancer') RETURNING id""", gp["organisation_id"])  # fmt: skip
    await db.execute(
        """INSERT INTO gp_commitments (patient_id, gp_id, windows, valid_from, valid_to)
           VALUES ($1, $2, '[]', '2026-02-10', '2026-03-01')""", patient, gp["id"])  # fmt: skip
    code, out, err = await cli(settings, tmp_path, "fees", "statement", "--month", "2026-03",
                               "--clinician", "gp.fees", "--format", "csv")  # fmt: skip
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert out.splitlines()[0] == ",".join(CSV_COLUMNS)
    assert [(r["kind"], r["amount"], r["schedule_version"]) for r in rows] == [
        ("commitment", "250.00", "cli-1")
    ]  # fmt: skip
    code, out, err = await cli(settings, tmp_path, "fees", "statement", "--month", "2026-03",
                               "--organisation", str(gp["organisation_id"]))  # fmt: skip
    assert code == 0, err
    assert "gp.fees" in out and "TOTAL" in out and "250.00" in out
    code, _, err = await cli(settings, tmp_path, "fees", "statement", "--month", "2026-3")
    assert code == 2 and "YYYY-MM" in err
    code, _, err = await cli(settings, tmp_path, "fees", "statement", "--month", "2026-03",
                             "--clinician", "nobody")  # fmt: skip
    assert code == 1 and "nobody" in err
    code, _, err = await cli(settings, tmp_path, "fees", "statement", "--month", "2026-03",
                             "--organisation", "999999")  # fmt: skip
    assert code == 1 and "999999" in err
    code, _, err = await cli(settings, tmp_path, "fees", "statement", "--month", "2026-03",
                             "--clinician", "gp.fees", "--organisation", "1")  # fmt: skip
    assert code == 2 and "not both" in err
    missing = await cli(settings, tmp_path, "fees", "load", str(tmp_path / "missing.toml"))
    assert missing[0] == 2
