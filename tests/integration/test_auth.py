"""Login, sessions, CSRF, Origin, throttling and TOTP against real PostgreSQL and Redis."""

from __future__ import annotations

import datetime as dt
import time

import pyotp
import pytest

from advice_line import sessions
from tests.conftest import TEST_PASSWORD, login


async def count(db, table: str) -> int:
    return await db.fetchval(f"SELECT count(*) FROM {table}")


async def test_login_sets_a_hardened_session_cookie_and_returns_the_csrf_token(
    client, make_user, db
):
    user = await make_user("nurse")
    response = await client.post(
        "/api/v1/auth/login", json={"username": user["username"], "password": TEST_PASSWORD}
    )
    assert response.status == 200
    body = await response.json()
    assert body["user"]["username"] == user["username"]
    assert body["user"]["role"] == "nurse"
    assert "password_hash" not in body["user"] and "totp_secret" not in body["user"]
    assert len(body["csrf_token"]) >= 32
    cookie = response.headers["Set-Cookie"]
    assert "al_session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert await count(db, "sessions") == 1
    stored = await db.fetchval("SELECT token_hash FROM sessions")
    assert stored not in cookie, "the cookie carries the token, the database only its hash"
    actions = [r["action"] for r in await db.fetch("SELECT action FROM audit_log")]
    assert "auth.login" in actions


async def test_secure_cookie_flag_follows_the_setting(aiohttp_client, settings, make_user):
    from advice_line.app import create_app

    client = await aiohttp_client(create_app(settings.replace(cookie_secure=True)))
    user = await make_user("nurse")
    response = await client.post(
        "/api/v1/auth/login", json={"username": user["username"], "password": TEST_PASSWORD}
    )
    assert "Secure" in response.headers["Set-Cookie"]


@pytest.mark.parametrize("password", ["wrong-password-123", "", "x" * 300])
async def test_wrong_password_is_refused_without_a_session(client, make_user, db, password):
    user = await make_user("nurse")
    response = await client.post(
        "/api/v1/auth/login", json={"username": user["username"], "password": password}
    )
    assert response.status in (401, 422)
    assert response.content_type == "application/problem+json"
    assert await count(db, "sessions") == 0


async def test_unknown_user_and_wrong_password_look_the_same(client, make_user):
    user = await make_user("nurse")
    wrong = await client.post(
        "/api/v1/auth/login", json={"username": user["username"], "password": "not-it-at-all"}
    )
    unknown = await client.post(
        "/api/v1/auth/login", json={"username": "nobody-here", "password": "not-it-at-all"}
    )
    assert wrong.status == unknown.status == 401
    assert (await wrong.json())["type"] == (await unknown.json())["type"]


async def test_disabled_user_cannot_log_in(client, make_user, db):
    user = await make_user("nurse")
    await db.execute("UPDATE users SET disabled_at = now() WHERE id = $1", user["id"])
    response = await client.post(
        "/api/v1/auth/login", json={"username": user["username"], "password": TEST_PASSWORD}
    )
    assert response.status == 401


async def test_username_is_case_insensitive(client, make_user):
    user = await make_user("nurse")
    await login(client, user["username"].upper())


async def test_logout_ends_the_session_for_every_request(client, make_user, db):
    user = await make_user("nurse")
    await login(client, user["username"])
    assert (await client.get("/api/v1/auth/me")).status == 200
    response = await client.post("/api/v1/auth/logout")
    assert response.status == 204
    assert (await client.get("/api/v1/auth/me")).status == 401
    assert await db.fetchval("SELECT revoked_at IS NOT NULL FROM sessions")


async def test_a_revoked_cookie_replayed_later_is_refused(client, make_user):
    user = await make_user("nurse")
    await login(client, user["username"])
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/"))["al_session"].value
    await client.post("/api/v1/auth/logout")
    response = await client.get("/api/v1/auth/me", cookies={"al_session": cookie})
    assert response.status == 401


async def test_idle_session_expires(client, make_user, db, settings):
    user = await make_user("nurse")
    await login(client, user["username"])
    await db.execute(
        "UPDATE sessions SET last_seen_at = now() - make_interval(mins => $1 + 1)",
        settings.session_idle_minutes,
    )
    assert (await client.get("/api/v1/auth/me")).status == 401


async def test_use_keeps_a_session_alive_written_at_most_every_few_seconds(
    client, make_user, db, settings
):
    user = await make_user("nurse")
    await login(client, user["username"])
    # Used a minute before it would idle out: the use is written, so it lives on.
    await db.execute(
        "UPDATE sessions SET last_seen_at = now() - make_interval(mins => $1 - 1)",
        settings.session_idle_minutes,
    )
    assert (await client.get("/api/v1/auth/me")).status == 200
    touched = await db.fetchval("SELECT now() - last_seen_at FROM sessions")
    assert touched < dt.timedelta(seconds=5)
    # Used again at once: nothing is written (a read-only request commits nothing).
    before = await db.fetchval("SELECT last_seen_at FROM sessions")
    assert (await client.get("/api/v1/auth/me")).status == 200
    assert await db.fetchval("SELECT last_seen_at FROM sessions") == before
    # Its last use written longer ago than TOUCH_SECONDS: written again.
    await db.execute(
        "UPDATE sessions SET last_seen_at = now() - make_interval(secs => $1 + 1)",
        sessions.TOUCH_SECONDS,
    )
    assert (await client.get("/api/v1/auth/me")).status == 200
    assert await db.fetchval("SELECT now() - last_seen_at FROM sessions") < dt.timedelta(seconds=5)


async def test_session_expires_absolutely_even_when_active(client, make_user, db):
    user = await make_user("nurse")
    await login(client, user["username"])
    await db.execute("UPDATE sessions SET expires_at = now() - interval '1 second'")
    assert (await client.get("/api/v1/auth/me")).status == 401


async def test_disabling_a_user_ends_their_sessions(client, make_user, db):
    user = await make_user("nurse")
    await login(client, user["username"])
    await db.execute("UPDATE users SET disabled_at = now() WHERE id = $1", user["id"])
    assert (await client.get("/api/v1/auth/me")).status == 401


async def test_state_changes_need_the_csrf_token(client, make_user, db):
    user = await make_user("nurse")
    await login(client, user["username"])
    client.session.headers.pop("X-CSRF-Token")
    before = await count(db, "patients")
    body = {"reference": "P-1", "name": "Karl Fiktivsen", "diagnosis_group": "cancer"}
    missing = await client.post("/api/v1/patients", json=body)
    wrong = await client.post("/api/v1/patients", json=body, headers={"X-CSRF-Token": "forged"})
    for response in (missing, wrong):
        assert response.status == 403
        assert (await response.json())["type"].endswith("/csrf")
    assert await count(db, "patients") == before
    logout = await client.post("/api/v1/auth/logout")
    assert logout.status == 403, "logout is a state change too"


async def test_cross_origin_state_change_is_refused(client, make_user, db):
    user = await make_user("nurse")
    await login(client, user["username"])
    body = {"reference": "P-1", "name": "Karl Fiktivsen", "diagnosis_group": "cancer"}
    response = await client.post(
        "/api/v1/patients", json=body, headers={"Origin": "https://evil.example"}
    )
    assert response.status == 403
    assert await count(db, "patients") == 0
    login_attempt = await client.post(
        "/api/v1/auth/login",
        json={"username": user["username"], "password": TEST_PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    assert login_attempt.status == 403


async def test_same_origin_header_is_accepted(client, make_user):
    user = await make_user("nurse")
    origin = str(client.make_url("/")).rstrip("/")
    response = await client.post(
        "/api/v1/auth/login",
        json={"username": user["username"], "password": TEST_PASSWORD},
        headers={"Origin": origin},
    )
    assert response.status == 200


async def test_failed_logins_are_throttled_per_account(client, make_user, settings):
    user = await make_user("nurse")
    for _ in range(settings.login_max_failures_per_account):
        response = await client.post(
            "/api/v1/auth/login", json={"username": user["username"], "password": "wrong-guess-1"}
        )
        assert response.status == 401
    blocked = await client.post(
        "/api/v1/auth/login", json={"username": user["username"], "password": TEST_PASSWORD}
    )
    assert blocked.status == 429, "even the right password is refused while throttled"
    body = await blocked.json()
    assert body["type"].endswith("/login-throttled")
    assert int(blocked.headers["Retry-After"]) > 0
    other = await make_user("nurse")
    await login(client, other["username"])  # other accounts are unaffected


async def test_failed_logins_are_throttled_per_address(aiohttp_client, settings, make_user):
    from advice_line.app import create_app

    client = await aiohttp_client(
        create_app(settings.replace(login_max_failures_per_address=3, trust_proxy_headers=True))
    )
    user = await make_user("nurse")
    attacker = {"X-Forwarded-For": "203.0.113.9"}
    for i in range(3):
        await client.post(
            "/api/v1/auth/login",
            json={"username": f"guess-{i}", "password": "wrong-guess-1"},
            headers=attacker,
        )
    blocked = await client.post(
        "/api/v1/auth/login",
        json={"username": user["username"], "password": TEST_PASSWORD},
        headers=attacker,
    )
    assert blocked.status == 429
    elsewhere = await client.post(
        "/api/v1/auth/login",
        json={"username": user["username"], "password": TEST_PASSWORD},
        headers={"X-Forwarded-For": "198.51.100.7"},
    )
    assert elsewhere.status == 200


async def test_successful_login_resets_the_account_counter(client, make_user, settings):
    user = await make_user("nurse")
    for _ in range(settings.login_max_failures_per_account - 1):
        await client.post(
            "/api/v1/auth/login", json={"username": user["username"], "password": "wrong-guess-1"}
        )
    await login(client, user["username"])
    for _ in range(settings.login_max_failures_per_account - 1):
        response = await client.post(
            "/api/v1/auth/login", json={"username": user["username"], "password": "wrong-guess-1"}
        )
        assert response.status == 401


async def enrol_totp(client) -> str:
    start = await client.post("/api/v1/auth/totp")
    assert start.status == 200
    data = await start.json()
    assert data["otpauth_uri"].startswith("otpauth://totp/")
    secret = data["secret"]
    confirm = await client.post(
        "/api/v1/auth/totp/confirm", json={"code": pyotp.TOTP(secret).now()}
    )
    assert confirm.status == 200, await confirm.text()
    return str(secret)


async def test_totp_enrolment_then_login_needs_the_code(client, make_user, db):
    user = await make_user("coordinator")
    await login(client, user["username"])
    secret = await enrol_totp(client)
    await client.post("/api/v1/auth/logout")
    client.session.cookie_jar.clear()

    no_code = await client.post(
        "/api/v1/auth/login", json={"username": user["username"], "password": TEST_PASSWORD}
    )
    assert no_code.status == 401
    assert (await no_code.json())["type"].endswith("/totp-required")
    wrong = await client.post(
        "/api/v1/auth/login",
        json={"username": user["username"], "password": TEST_PASSWORD, "totp": "000000"},
    )
    assert wrong.status == 401
    assert (await wrong.json())["type"].endswith("/totp-invalid")
    # The enrolment used the current code; the next step's code is valid too (clock drift).
    code = pyotp.TOTP(secret).at(time.time() + 30)
    ok = await client.post(
        "/api/v1/auth/login",
        json={"username": user["username"], "password": TEST_PASSWORD, "totp": code},
    )
    assert ok.status == 200
    replay = await client.post(
        "/api/v1/auth/login",
        json={"username": user["username"], "password": TEST_PASSWORD, "totp": code},
    )
    assert replay.status == 401, "a TOTP code works once"
    assert (
        await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'auth.totp_enrolled'") == 1
    )


async def test_confirming_with_a_wrong_code_does_not_enrol(client, make_user, db):
    user = await make_user("nurse")
    await login(client, user["username"])
    await client.post("/api/v1/auth/totp")
    response = await client.post("/api/v1/auth/totp/confirm", json={"code": "123456"})
    assert response.status == 422
    assert (await response.json())["errors"][0]["field"] == "code"
    assert not await db.fetchval("SELECT totp_enabled FROM users WHERE id = $1", user["id"])


async def test_admin_can_require_totp_for_a_role(client, make_user, db):
    admin = await make_user("admin")
    nurse = await make_user("nurse")
    await login(client, admin["username"])
    response = await client.put("/api/v1/role-policies/nurse", json={"totp_required": True})
    assert response.status == 200
    await client.post("/api/v1/auth/logout")
    client.session.cookie_jar.clear()

    await login(client, nurse["username"])
    me = await (await client.get("/api/v1/auth/me")).json()
    assert me["totp_enrolment_required"] is True
    blocked = await client.get("/api/v1/patients")
    assert blocked.status == 403
    assert (await blocked.json())["type"].endswith("/totp-enrolment-required")
    await enrol_totp(client)
    assert (await client.get("/api/v1/patients")).status == 200
    removal = await client.request("DELETE", "/api/v1/auth/totp", json={"code": "123456"})
    assert removal.status == 403, "the role requires a second factor"
    changes = await db.fetchval("SELECT details FROM audit_log WHERE action = 'policy.update'")
    assert changes == {"before": {"totp_required": False}, "after": {"totp_required": True}}


async def test_only_admins_set_policies(client, make_user):
    user = await make_user("coordinator")
    await login(client, user["username"])
    response = await client.put("/api/v1/role-policies/nurse", json={"totp_required": True})
    assert response.status == 403


async def test_user_can_change_own_language(client, make_user, db):
    user = await make_user("nurse")
    await login(client, user["username"])
    response = await client.patch("/api/v1/auth/me", json={"language": "en"})
    assert response.status == 200
    assert await db.fetchval("SELECT language FROM users WHERE id = $1", user["id"]) == "en"
    bad = await client.patch("/api/v1/auth/me", json={"language": "fr"})
    assert bad.status == 422


async def test_password_change_ends_other_sessions_but_not_this_one(
    client, aiohttp_client, settings, make_user, db
):
    from advice_line.app import create_app

    user = await make_user("nurse")
    other_device = await aiohttp_client(create_app(settings))
    await login(other_device, user["username"])
    await login(client, user["username"])
    response = await client.post(
        "/api/v1/auth/password",
        json={"current_password": TEST_PASSWORD, "new_password": "a-brand-new-secret"},
    )
    assert response.status == 204
    assert (await client.get("/api/v1/auth/me")).status == 200
    assert (await other_device.get("/api/v1/auth/me")).status == 401
    client.session.cookie_jar.clear()
    await login(client, user["username"], "a-brand-new-secret")
    row = await db.fetchrow("SELECT * FROM audit_log WHERE action = 'user.password'")
    assert row["reason"] == "own password change" and row["actor_id"] == user["id"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"current_password": "not-the-password", "new_password": "a-brand-new-secret"},
            "current_password",
        ),
        ({"current_password": TEST_PASSWORD, "new_password": "short"}, "new_password"),
    ],
)
async def test_password_change_refusals_change_nothing(client, make_user, db, body, field):
    user = await make_user("nurse")
    await login(client, user["username"])
    before = await db.fetchval("SELECT password_hash FROM users WHERE id = $1", user["id"])
    response = await client.post("/api/v1/auth/password", json=body)
    assert response.status == 422
    assert [e["field"] for e in (await response.json())["errors"]] == [field]
    assert await db.fetchval("SELECT password_hash FROM users WHERE id = $1", user["id"]) == before
