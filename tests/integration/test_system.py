"""Health, readiness, metrics, request ids, security headers and the OpenAPI document."""

from __future__ import annotations

import re

from advice_line import openapi
from advice_line.app import create_app


async def test_healthz_and_readyz(client):
    assert (await (await client.get("/healthz")).json()) == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status == 200
    assert (await ready.json())["checks"] == {"postgres": "ok", "redis": "ok"}


async def test_readyz_says_which_store_is_down(aiohttp_client, settings):
    from advice_line.embedded import free_port

    app = create_app(settings.replace(redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    client = await aiohttp_client(app)
    response = await client.get("/readyz")
    assert response.status == 503
    body = await response.json()
    assert body["checks"]["postgres"] == "ok"
    assert body["checks"]["redis"].startswith("unavailable")
    assert (await client.get("/healthz")).status == 200, "liveness does not depend on the stores"


async def test_metrics_count_requests_by_route_template(client, login_as):
    await login_as("nurse")
    await client.get("/api/v1/patients/12345")
    text = await (await client.get("/metrics")).text()
    assert "advice_line_http_requests_total" in text
    assert 'route="/api/v1/patients/{patient_id}"' in text
    assert "/api/v1/patients/12345" not in text, "raw paths would explode the label space"
    assert re.search(r"advice_line_http_request_duration_seconds_bucket\{", text)
    assert 'advice_line_logins_total{outcome="ok"}' in text


async def test_request_id_is_echoed_or_made(client):
    given = await client.get("/healthz", headers={"X-Request-ID": "abcdef0123456789"})
    assert given.headers["X-Request-ID"] == "abcdef0123456789"
    made = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert re.fullmatch(r"[0-9a-f]{16}", made.headers["X-Request-ID"])


async def test_security_headers(client):
    response = await client.get("/login")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


async def test_openapi_documents_every_api_route(client):
    response = await client.get("/api/v1/openapi.json")
    assert response.status == 200
    document = await response.json()
    assert document["openapi"].startswith("3.")
    documented = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}
    routed = set()
    for route in client.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or ""
        if path.startswith("/api/") and route.method != "HEAD":
            routed.add((route.method, re.sub(r"\{(\w+)(?::[^}]*)?\}", r"{\1}", path)))
    assert routed == documented
    assert ("POST", "/api/v1/auth/login") in documented
    login = document["paths"]["/api/v1/auth/login"]["post"]
    schema = login["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["username", "password"]
    assert schema["additionalProperties"] is False


async def test_openapi_build_matches_served_document(client):
    served = await (await client.get("/api/v1/openapi.json")).json()
    assert served == openapi.build(client.app)


async def test_error_page_for_people_and_problem_for_api(client):
    page = await client.get("/nowhere", headers={"Accept": "text/html"})
    assert page.status == 404
    assert "text/html" in page.headers["Content-Type"]
    api = await client.get("/api/v1/nowhere", headers={"Accept": "text/html"})
    assert api.content_type == "application/problem+json"


async def test_pages_redirect_to_login_and_back(client, make_user):
    from tests.conftest import login

    response = await client.get("/account", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == "/login?next=/account"
    user = await make_user("nurse")
    await login(client, user["username"])
    page = await client.get("/login?next=/account", allow_redirects=False)
    assert page.headers["Location"] == "/account"
    evil = await client.get("/login?next=//evil.example/x", allow_redirects=False)
    assert evil.headers["Location"] == "/"


async def test_language_switch_sets_a_cookie_and_changes_text(client):
    danish = await (await client.get("/login")).text()
    assert "Log ind" in danish and 'lang="da"' in danish
    switched = await client.get("/language/en?next=/login")
    english = await switched.text()
    assert 'lang="en"' in english and "Log in" in english
    assert (await client.get("/language/xx")).status == 400
