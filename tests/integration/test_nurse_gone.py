"""A nurse whose connection drops for longer than the resume grace is gone: a waiting call
is abandoned (the ring stops), a call in progress ends; a blip changes nothing, and a nurse
who asked for a call back or never had a socket is not waited for."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from typing import Any

import pytest

from advice_line.app import create_app
from tests.integration.call_helpers import (
    Caller,
    ask,
    connected_call,
    eventually_found,
    make_patient,
)
from tests.integration.routing_helpers import on_duty_always

GRACE = 1.5


@pytest.fixture
async def base(aiohttp_server, settings):
    server = await aiohttp_server(
        create_app(dataclasses.replace(settings, ws_resume_grace_seconds=GRACE))
    )
    return str(server.make_url("/"))


@pytest.fixture
async def people():
    found: list[Any] = []
    yield found
    for p in found:
        await p.close()


async def state(person: Caller, cid: int) -> str:
    status, body = await person.call("GET", f"/api/v1/consultations/{cid}")
    assert status == 200, body
    return str(body["consultation"]["state"])


async def ringing(base, make_user, make_org, db, people, *, nurse_online: bool = True):
    home = await make_org(kind="home_care")
    nurse = await Caller(base, await make_user("nurse", organisation_id=home["id"])).login()
    senior = await Caller(base, await make_user("advisor", tier="senior_nurse")).login()
    people += [nurse, senior]
    await senior.connect()
    await on_duty_always(db, "senior_nurse", [senior.id])
    if nurse_online:
        await nurse.connect()
    patient = await make_patient(db, home["id"], f"R-{secrets.token_hex(3)}")
    cid = await ask(nurse, patient, "video")
    await senior.wait_for("consultation.ringing", consultation__id=cid)
    return nurse, senior, cid


async def drop(person: Caller) -> None:
    assert person.ws is not None
    await person.ws.close(code=4000)


async def test_a_nurse_gone_past_the_grace_abandons_the_waiting_call(
    base, make_user, make_org, db, people
):
    nurse, senior, cid = await ringing(base, make_user, make_org, db, people)
    await drop(nurse)
    await asyncio.sleep(GRACE * 0.5)
    assert await state(senior, cid) == "ringing"
    withdrawn = await senior.wait_for(
        "consultation.withdrawn", within=GRACE * 4, consultation_id=cid
    )
    assert withdrawn["consultation_id"] == cid
    assert await state(senior, cid) == "abandoned"
    rows = await eventually_found(lambda: db.fetch(
        "SELECT type FROM consultation_events WHERE consultation_id = $1 AND type = 'abandoned'", cid))  # fmt: skip
    assert len(rows) == 1


async def test_a_blip_shorter_than_the_grace_changes_nothing(base, make_user, make_org, db, people):
    nurse, senior, cid = await ringing(base, make_user, make_org, db, people)
    await drop(nurse)
    await asyncio.sleep(GRACE * 0.3)
    await nurse.connect()  # a new page, or the same one reconnecting
    await asyncio.sleep(GRACE * 2)
    assert await state(senior, cid) == "ringing"
    assert senior.got("consultation.withdrawn") == []


async def test_a_nurse_gone_from_a_call_ends_it(
    aiohttp_server, settings, make_user, make_org, db, people
):
    server = await aiohttp_server(
        create_app(dataclasses.replace(settings, ws_resume_grace_seconds=GRACE))
    )
    call = await connected_call(str(server.make_url("/")), make_user, make_org, db, people)
    await call.senior.join(call.consultation_id)
    await drop(call.nurse)
    ended = await call.senior.wait_for(
        "call.ended", within=GRACE * 4, consultation_id=call.consultation_id
    )
    assert ended["reason"] == "wrap_up"
    assert await state(call.senior, call.consultation_id) == "wrap_up"


async def test_a_nurse_waiting_for_a_call_back_may_close_the_tablet(
    base, make_user, make_org, db, people
):
    nurse, senior, cid = await ringing(base, make_user, make_org, db, people)
    status, body = await nurse.call("POST", f"/api/v1/consultations/{cid}/callback")
    assert status == 200, body
    await drop(nurse)
    await asyncio.sleep(GRACE * 2.5)
    assert await state(senior, cid) == "callback"


async def test_a_nurse_without_a_socket_is_not_waited_for(base, make_user, make_org, db, people):
    _nurse, senior, cid = await ringing(base, make_user, make_org, db, people, nurse_online=False)
    await asyncio.sleep(GRACE * 2.5)
    assert await state(senior, cid) == "ringing"
