"""Evaluation reports end to end: calls routed through the real server, documentation and
course outcomes stored, then the JSON report, CSV tables, charts, the research extract (with
its audit row) and the ``advice-line report`` command, all from the same database."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import os
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from advice_line.app import create_app
from advice_line.evaluation import pseudonym
from tests.conftest import login
from tests.integration.routing_helpers import Person, on_duty_always

ISBAR = {"situation": "Uro", "background": "KOL", "assessment": "TOBS 5", "request": "Råd"}
KEY = "r" * 40
TODAY = dt.datetime.now(ZoneInfo("Europe/Copenhagen")).date()
PERIOD = {"from": (TODAY - dt.timedelta(days=1)).isoformat(),
          "to": (TODAY + dt.timedelta(days=2)).isoformat()}  # fmt: skip
ADVICE_LINE = Path(sys.executable).parent / "advice-line"


async def wait_state(db: Any, cid: int, state: str) -> None:
    deadline = asyncio.get_running_loop().time() + 5
    while await db.fetchval("SELECT state FROM consultations WHERE id = $1", cid) != state:
        assert asyncio.get_running_loop().time() < deadline, f"never reached {state}"
        await asyncio.sleep(0.02)


@pytest.fixture
async def world(aiohttp_server, settings, make_user, make_org, db):
    """Three calls from one nurse: answered and completed, cancelled, and escalated to a GP;
    documentation for two, and two course outcomes (one died where wished, one unknown)."""
    fast = settings.replace(ring_seconds=(5.0, 5.0, 5.0), research_pseudonym_key=KEY)
    app = create_app(fast)
    server = await aiohttp_server(app)
    base = str(server.make_url("/"))
    home = await make_org(name="Hjemmeplejen Syd", kind="home_care")
    other = await make_org(name="Hjemmeplejen Nord", kind="home_care")
    nurse_user = await make_user("nurse", organisation_id=home["id"])
    patients = [await db.fetchval(
        """INSERT INTO patients (reference, organisation_id, name, diagnosis_group)
           VALUES ($1, $2, $3, $4) RETURNING id""", f"R-{i}", home["id"], name, group)
        for i, (name, group) in enumerate([("Karl Fiktivsen", "non_cancer"),
                                           ("Grethe Opdigtet", "cancer")])]  # fmt: skip
    people: list[Person] = []

    async def person(user: dict[str, Any]) -> Person:
        p = Person(base, user)
        people.append(p)
        return await p.login()

    senior = await person(await make_user("advisor", tier="senior_nurse"))
    gp = await person(await make_user("advisor", tier="gp"))
    nurse = await person(nurse_user)
    try:
        ids = await _arrange(db, senior, gp, nurse, patients)
        yield {"app": app, "base": base, "home": home, "other": other, "patients": patients,
               "ids": ids, "senior": senior, "gp": gp, "nurse": nurse, "settings": fast}  # fmt: skip
    finally:
        for p in people:
            await p.close()


async def _arrange(db: Any, senior: Person, gp: Person, nurse: Person, patients: list[int]) -> tuple[int, int, int]:  # fmt: skip
    await senior.connect()
    await gp.connect()
    await on_duty_always(db, "senior_nurse", [senior.id])
    await on_duty_always(db, "gp", [gp.id])

    async def ask(patient: int) -> int:
        status, body = await nurse.call("POST", "/api/v1/consultations", json={
            "patient_id": patient, "channel": "video", "urgency": "urgent", "isbar": ISBAR})  # fmt: skip
        assert status == 201, body
        return int(body["consultation"]["id"])

    async def post(person: Person, cid: int, action: str, **kw: Any) -> None:
        status, body = await person.call("POST", f"/api/v1/consultations/{cid}/{action}", **kw)
        assert status == 200, (action, body)

    completed = await ask(patients[0])
    await senior.wait_for("consultation.ringing", consultation__id=completed)
    await post(senior, completed, "accept")
    await post(senior, completed, "end")
    await post(senior, completed, "wrap-up-done")
    cancelled = await ask(patients[0])
    await senior.wait_for("consultation.ringing", consultation__id=cancelled)
    await post(nurse, cancelled, "cancel")
    escalated = await ask(patients[1])
    await senior.wait_for("consultation.ringing", consultation__id=escalated)
    await post(senior, escalated, "accept")
    await post(senior, escalated, "escalate", json={"note": "Behov for læge"})
    await gp.wait_for("consultation.ringing", consultation__id=escalated)
    await post(gp, escalated, "accept")
    await post(senior, escalated, "leave")
    await post(gp, escalated, "end")
    await post(gp, escalated, "wrap-up-done")
    await wait_state(db, escalated, "ended")

    for cid, author, disposition, follow_up in [(completed, senior.id, "phone_advice", False),
                                                (escalated, gp.id, "gp_visit", True)]:  # fmt: skip
        await db.execute(
            """INSERT INTO episode_documents (consultation_id, version, author_id, disposition,
                                              advice, follow_up)
               VALUES ($1, 1, $2, 'other', 'Første udkast', false),
                      ($1, 2, $2, $3, 'Hemmeligt råd om morfin', $4)""",
            cid, author, disposition, follow_up,
        )  # fmt: skip
    await db.execute(
        """INSERT INTO course_outcomes (patient_id, version, recorded_by, course_ended_on, died,
                                        place_of_death, wished_place, note)
           VALUES ($1, 1, $3, $4, true, 'hospital', 'home', 'første'),
                  ($1, 2, $3, $4, true, 'home', 'home', 'Rettet: døde hjemme'),
                  ($2, 1, $3, $4, true, 'hospice', 'unknown', '')""",
        patients[0], patients[1], nurse.id, TODAY,
    )  # fmt: skip
    return completed, cancelled, escalated


@pytest.fixture
async def coordinator(world, make_user) -> Person:
    user = await make_user("coordinator", organisation_id=world["home"]["id"])
    person = await Person(world["base"], user).login()
    yield person
    await person.close()


@pytest.fixture
async def admin(world, make_user) -> Person:
    person = await Person(world["base"], await make_user("admin")).login()
    yield person
    await person.close()


def tables(body: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """name -> first cell -> row as a dict."""
    return {name: {row[0]: dict(zip(t["columns"], row, strict=True)) for row in t["rows"]}
            for name, t in body["tables"].items()}  # fmt: skip


async def test_the_report_counts_what_happened(world, coordinator):
    status, body = await coordinator.call("GET", "/api/v1/reports", params=PERIOD)
    assert status == 200, body
    assert body["filter"]["organisation_id"] == world["home"]["id"]
    assert body["episodes"] == 3 and body["courses"] == 2
    t = tables(body)
    answers = t["answer_times"]["all"]
    assert (answers["requests"], answers["answered"]) == (3, 2)
    assert answers["median_s"] is not None and answers["median_s"] < 60
    assert t["answer_times"]["tier2"]["answered"] == 1
    assert (t["outcomes"]["completed"]["episodes"], t["outcomes"]["cancelled"]["episodes"]) == (
        2,
        1,
    )
    escalation = t["escalation"]
    assert (escalation[1]["reached"], escalation[2]["reached"], escalation[2]["via_manual"]) == (
        3,
        1,
        1,
    )
    assert (escalation[3]["reached"], escalation[3]["skipped"]) == (0, 0)
    assert t["dispositions"]["phone_advice"]["episodes"] == 1  # the current version counts
    assert t["dispositions"]["other"]["episodes"] == 0
    assert t["dispositions"]["gp_visit"]["cancer"] == 1
    assert t["callbacks"]["follow_up_planned"]["episodes"] == 1
    died = t["died_where_wished"]
    assert died["non_cancer"]["share_died_where_wished"] == 1.0  # the amended outcome
    assert (died["cancer"]["died_wish_unknown"], died["cancer"]["share_died_where_wished"]) == (
        1,
        None,
    )
    assert sum(sum(row[1:]) for row in body["tables"]["heatmap"]["rows"]) == 3
    summary = {row[0]: row[1] for row in body["tables"]["summary"]["rows"]}
    assert summary["episodes"] == 3 and summary["courses_ended"] == 2


async def test_the_tier_filter_keeps_calls_that_reached_it(world, coordinator):
    status, body = await coordinator.call("GET", "/api/v1/reports", params={**PERIOD, "tier": "2"})
    assert status == 200
    assert (body["episodes"], body["courses"]) == (1, 1)


async def test_an_empty_period_has_no_shares(world, coordinator):
    status, body = await coordinator.call(
        "GET", "/api/v1/reports", params={"from": "2020-01-01", "to": "2020-02-01"}
    )
    assert status == 200 and body["episodes"] == 0
    assert tables(body)["answer_times"]["all"]["share_within_60s"] is None


async def test_every_table_as_csv(world, coordinator):
    for name in ("summary", "heatmap", "answer_times", "answer_histogram", "escalation", "outcomes",
                 "callbacks", "dispositions", "died_where_wished", "call_quality"):  # fmt: skip
        response = await coordinator.session.get(f"/api/v1/reports/{name}.csv", params=PERIOD)
        assert response.status == 200, name
        assert response.content_type == "text/csv"
        assert (
            f'filename="{name}-{PERIOD["from"]}-{PERIOD["to"]}.csv"'
            in response.headers["Content-Disposition"]
        )
        rows = list(csv.reader(io.StringIO(await response.text())))
        assert rows[0][0] in ("measure", "weekday", "scope", "tier", "outcome", "disposition",
                              "diagnosis_group", "channel")  # fmt: skip
    outcomes = await (
        await coordinator.session.get("/api/v1/reports/outcomes.csv", params=PERIOD)
    ).text()
    assert "cancelled,1,0.3333" in outcomes


@pytest.mark.parametrize("chart", ["heatmap", "answer_times", "escalation", "died_where_wished"])
async def test_charts_as_svg_and_png(world, coordinator, chart):
    svg = await coordinator.session.get(f"/api/v1/reports/charts/{chart}.svg",
                                        params={**PERIOD, "lang": "da"})  # fmt: skip
    assert svg.status == 200 and svg.content_type == "image/svg+xml"
    text = await svg.text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    title = {"heatmap": "Opkald efter ugedag og time", "answer_times": "Tid til første svar",
             "escalation": "Opkald der nåede hvert niveau", "died_where_wished": "Døde hvor de ønskede"}[chart]  # fmt: skip
    assert title in text
    png = await coordinator.session.get(f"/api/v1/reports/charts/{chart}.png",
                                        params={**PERIOD, "lang": "en"})  # fmt: skip
    assert png.status == 200 and png.content_type == "image/png"
    assert (await png.read()).startswith(b"\x89PNG")


async def test_english_chart_labels(world, coordinator):
    svg = await coordinator.session.get(
        "/api/v1/reports/charts/heatmap.svg", params={**PERIOD, "lang": "en"}
    )
    assert "Calls by weekday and hour" in await svg.text()


async def test_the_research_extract_is_pseudonymised_and_audited(world, coordinator, db):
    before = await db.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'report.research_extract'"
    )
    response = await coordinator.session.get("/api/v1/reports/research-extract.csv", params=PERIOD)
    assert response.status == 200, await response.text()
    text = await response.text()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 3
    for forbidden in ("Karl", "Grethe", "Fiktivsen", "Hemmeligt", "Behov for læge", "Uro", "R-0"):
        assert forbidden not in text
    completed, cancelled, escalated = world["ids"]
    by_episode = {r["episode"]: r for r in rows}
    done = by_episode[pseudonym("E", completed, KEY.encode())]
    assert done["patient"] == pseudonym("P", world["patients"][0], KEY.encode())
    assert done["nurse"] == pseudonym("C", world["nurse"].id, KEY.encode())
    assert done["tier1_advisor"] == pseudonym("C", world["senior"].id, KEY.encode())
    assert done["requested_at"].endswith(":00+00:00")
    assert (done["outcome"], done["disposition"]) == ("completed", "phone_advice")
    assert by_episode[pseudonym("E", escalated, KEY.encode())]["tier2_status"] == "answered"
    assert by_episode[pseudonym("E", cancelled, KEY.encode())]["outcome"] == "cancelled"
    courses = await coordinator.session.get(
        "/api/v1/reports/research-extract.csv", params={**PERIOD, "part": "courses"}
    )
    course_rows = list(csv.DictReader(io.StringIO(await courses.text())))
    assert sorted(r["died_where_wished"] for r in course_rows) == ["", "true"]
    assert "Rettet" not in await courses.text()
    audits = await db.fetch(
        "SELECT actor_id, details FROM audit_log WHERE action = 'report.research_extract' ORDER BY id"
    )
    assert len(audits) == before + 2
    assert audits[0]["actor_id"] == coordinator.id
    assert audits[0]["details"]["rows"] == 3 and audits[1]["details"]["part"] == "courses"


async def test_no_extract_without_a_key(settings, aiohttp_client, make_user, db):
    client = await aiohttp_client(create_app(settings))
    user = await make_user("coordinator")
    await login(client, user["username"])
    response = await client.get("/api/v1/reports/research-extract.csv", params=PERIOD)
    assert response.status == 409
    body = await response.json()
    assert body["type"].endswith("/research-key-missing")
    assert (
        await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'report.research_extract'")
        == 0
    )


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        ({"from": "2026-02-30"}, [("from", "not_date")]),
        ({"from": "2026-03-05", "to": "2026-03-01"}, [("to", "end_before_start")]),
        ({"tier": "9"}, [("tier", "choice")]),
        ({"organisation": "x"}, [("organisation", "not_integer")]),
        ({"sort": "x"}, [("sort", "unknown_parameter")]),
        ({"from": "2019-01-01", "to": "2026-01-01"}, [("to", "period_too_long")]),
    ],
)
async def test_bad_filters_are_400_problems_with_codes(world, coordinator, db, query, errors):
    audit_rows = await db.fetchval("SELECT count(*) FROM audit_log")
    for path in ("/api/v1/reports", "/api/v1/reports/summary.csv",
                 "/api/v1/reports/charts/heatmap.svg", "/api/v1/reports/research-extract.csv"):  # fmt: skip
        response = await coordinator.session.get(path, params=query)
        assert response.status == 400, path
        assert response.content_type == "application/problem+json"
        body = await response.json()
        assert [(e["field"], e["code"]) for e in body["errors"]] == errors
    assert await db.fetchval("SELECT count(*) FROM audit_log") == audit_rows


@pytest.mark.parametrize(
    ("path", "query", "status"),
    [
        ("/api/v1/reports/nothing.csv", {}, 404),
        ("/api/v1/reports/charts/nothing.svg", {}, 404),
        ("/api/v1/reports/charts/heatmap.gif", {}, 404),
        ("/api/v1/reports/charts/heatmap.svg", {"lang": "de"}, 400),
        ("/api/v1/reports/research-extract.csv", {"part": "notes"}, 400),
    ],
)
async def test_unknown_tables_charts_and_parts(world, coordinator, path, query, status):
    response = await coordinator.session.get(path, params=query)
    assert response.status == status
    assert response.content_type == "application/problem+json"


async def test_a_coordinator_sees_only_their_own_organisation(world, coordinator, make_user):
    status, body = await coordinator.call(
        "GET", "/api/v1/reports", params={**PERIOD, "organisation": str(world["other"]["id"])}
    )
    assert status == 403
    other = await make_user("coordinator", organisation_id=world["other"]["id"])
    stranger = await Person(world["base"], other).login()
    try:
        status, body = await stranger.call("GET", "/api/v1/reports", params=PERIOD)
        assert status == 200 and body["episodes"] == 0
        response = await stranger.session.get("/api/v1/reports/research-extract.csv", params=PERIOD)
        assert len((await response.text()).strip().splitlines()) == 1  # the header only
    finally:
        await stranger.close()


async def test_an_admin_sees_every_organisation_or_one(world, admin):
    status, body = await admin.call("GET", "/api/v1/reports", params=PERIOD)
    assert status == 200 and body["episodes"] == 3 and body["filter"]["organisation_id"] is None
    status, body = await admin.call(
        "GET", "/api/v1/reports", params={**PERIOD, "organisation": str(world["other"]["id"])}
    )
    assert status == 200 and body["episodes"] == 0
    status, body = await admin.call(
        "GET", "/api/v1/reports", params={**PERIOD, "organisation": "999999"}
    )
    assert status == 400 and body["errors"][0]["code"] == "unknown_organisation"


@pytest.mark.parametrize("role", ["nurse", "advisor"])
async def test_other_roles_may_not_read_reports(client, login_as, role):
    await login_as(role)
    for path in ("/api/v1/reports", "/api/v1/reports/summary.csv",
                 "/api/v1/reports/charts/heatmap.svg", "/api/v1/reports/research-extract.csv"):  # fmt: skip
        response = await client.get(path)
        assert response.status == 403, path


async def test_reports_need_a_login(client):
    assert (await client.get("/api/v1/reports")).status == 401


async def test_the_reports_page(world, coordinator, admin):
    response = await coordinator.session.get("/reports")
    assert response.status == 200
    html = await response.text()
    assert "reports.js" in html and 'name="tier"' in html and "Hjemmeplejen Syd" in html
    assert 'href="/reports"' in html  # in the navigation
    admin_page = await (await admin.session.get("/reports")).text()
    assert "Hjemmeplejen Nord" in admin_page  # the organisation picker
    home = await (await coordinator.session.get("/")).text()
    assert 'data-testid="reports-link"' in home


async def test_the_reports_page_refuses_a_nurse(world):
    response = await world["nurse"].session.get("/reports", headers={"Accept": "text/html"})
    assert response.status == 403


async def run_cli(world: dict[str, Any], *args: str) -> tuple[int, str, str]:
    settings = world["settings"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADVICE_LINE_")}
    env.update(ADVICE_LINE_DATABASE_URL=settings.database_url, ADVICE_LINE_REDIS_URL=settings.redis_url,
               ADVICE_LINE_REDIS_KEY_PREFIX="clireport:", ADVICE_LINE_DATA_DIR=str(settings.data_dir),
               ADVICE_LINE_ENVIRONMENT="test", ADVICE_LINE_MIGRATE_ON_START="false",
               ADVICE_LINE_RESEARCH_PSEUDONYM_KEY=KEY)  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        str(ADVICE_LINE), "report", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=90)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.slow
async def test_the_cli_gives_the_same_figures(world, coordinator, tmp_path):
    period = ["--from", PERIOD["from"], "--to", PERIOD["to"]]
    org = ["--organisation", str(world["home"]["id"])]
    code, out, err = await run_cli(world, "summary", *period, *org, "--format", "csv")
    assert code == 0, err
    summary = dict(row for row in csv.reader(io.StringIO(out)))
    assert (summary["episodes"], summary["courses_ended"], summary["cancelled"]) == ("3", "2", "1")
    _, api_csv = (
        None,
        await (
            await coordinator.session.get("/api/v1/reports/escalation.csv", params=PERIOD)
        ).text(),
    )
    code, out, err = await run_cli(world, "table", "escalation", *period, *org, "--format", "csv")
    assert code == 0, err
    assert out.splitlines() == api_csv.splitlines()
    code, out, err = await run_cli(world, "table", "answer_times", *period)
    assert code == 0 and out.startswith("answer_times\nscope") and "tier3" in out
    chart = tmp_path / "heat.png"
    code, _, err = await run_cli(world, "chart", "heatmap", *period, "--out", str(chart))
    assert code == 0, err
    assert chart.read_bytes().startswith(b"\x89PNG")
    extract = tmp_path / "extract.csv"
    code, _, err = await run_cli(world, "extract", *period, "--out", str(extract))
    assert code == 0, err
    assert len(extract.read_text().splitlines()) == 4 and "Karl" not in extract.read_text()
    code, _, err = await run_cli(world, "summary", "--from", "2026-03-05", "--to", "2026-03-01")
    assert code == 2 and "end_before_start" in err
    code, _, err = await run_cli(world, "table", "nothing", *period)
    assert code == 2 and "NAME" in err
    code, _, err = await run_cli(world, "summary", *period, "--organisation", "999999")
    assert code == 1 and "Unknown organisation" in err
