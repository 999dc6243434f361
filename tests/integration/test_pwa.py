"""The installable web app: manifest, icons, service worker, and the headers that allow them.

Both are public (a phone fetches the manifest without cookies) and must say nothing about
who is asking: the same bytes with or without a session, and no cookie set.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import Any

import pytest

from advice_line.views import pwa

ROOT = Path(__file__).resolve().parents[2]
APP_CSS = ROOT / "web" / "static" / "app.css"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's header (IHDR is always the first chunk)."""
    assert data[:8] == PNG_SIGNATURE, "not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def css_colour(name: str) -> str:
    match = re.search(rf"{re.escape(name)}:\s*(#[0-9a-fA-F]{{6}})", APP_CSS.read_text("utf-8"))
    assert match, f"{name} not in app.css"
    return match[1].lower()


async def get_manifest(client: Any) -> dict[str, Any]:
    response = await client.get("/manifest.webmanifest")
    assert response.status == 200
    assert response.content_type == "application/manifest+json"
    data: dict[str, Any] = await response.json(content_type=None)
    return data


async def test_the_manifest_describes_an_installable_app(client):
    manifest = await get_manifest(client)

    assert manifest["name"] == "Rådgivningslinjen"
    assert manifest["short_name"] and len(manifest["short_name"]) <= 12
    assert manifest["lang"] == "da"
    assert (manifest["start_url"], manifest["scope"], manifest["id"]) == ("/", "/", "/")
    assert manifest["display"] == "standalone"
    assert manifest["theme_color"] == css_colour("--primary")
    assert manifest["background_color"] == css_colour("--bg")


async def test_the_manifest_is_utf8_and_revalidated(client):
    response = await client.get("/manifest.webmanifest")
    assert response.charset == "utf-8"
    assert "Rådgivningslinjen".encode() in await response.read()
    assert response.headers["Cache-Control"] == "no-cache"


async def test_the_manifest_icons_are_pngs_of_their_declared_sizes(client):
    icons = (await get_manifest(client))["icons"]
    purposes = {(icon["sizes"], icon["purpose"]) for icon in icons}

    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= purposes
    for icon in icons:
        assert icon["type"] == "image/png"
        assert icon["src"].startswith("/static/icons/"), "our own icons, versioned static URLs"
        response = await client.get(icon["src"])
        assert response.status == 200, icon["src"]
        assert response.content_type == "image/png"
        size = int(icon["sizes"].split("x")[0])
        assert png_size(await response.read()) == (size, size), icon["src"]


@pytest.mark.parametrize(
    "name",
    [name for name, _, _ in pwa.ICONS] + ["icons/apple-touch-icon.png", "icons/badge-96.png"],
)
def test_every_icon_file_is_committed(name: str) -> None:
    assert png_size((pwa.STATIC / name).read_bytes())[0] in {96, 180, 192, 512}


def test_maskable_and_apple_icons_have_no_transparent_corners() -> None:
    # A platform cuts its own shape out of these; a transparent corner would show as black.
    for name in ("icons/icon-maskable-512.png", "icons/apple-touch-icon.png"):
        data = (pwa.STATIC / name).read_bytes()
        colour_type = data[25]
        assert colour_type == 2, f"{name} is RGB without alpha"


async def test_the_service_worker_is_served_from_the_root(client):
    response = await client.get("/sw.js")

    assert response.status == 200
    assert response.content_type == "text/javascript"
    assert response.headers["Cache-Control"] == "no-cache"
    assert "Service-Worker-Allowed" not in response.headers, "scope / needs no widening"
    body = await response.read()
    assert body == pwa.SERVICE_WORKER.read_bytes()


async def test_the_service_worker_caches_nothing(client):
    source = await (await client.get("/sw.js")).text()

    # No fetch handler and no Cache Storage: every page and API answer comes from the server.
    assert not re.search(r"""addEventListener\(\s*["']fetch["']""", source)
    assert "caches." not in source
    for event in ("push", "notificationclick", "pushsubscriptionchange"):
        assert re.search(rf"""addEventListener\(\s*["']{event}["']""", source), event


@pytest.mark.parametrize("path", ["/login", "/manifest.webmanifest", "/sw.js"])
async def test_the_csp_allows_our_worker_and_manifest_only(client, path):
    response = await client.get(path)
    policy = dict(
        part.strip().split(" ", 1)
        for part in response.headers["Content-Security-Policy"].split(";")
        if part.strip()
    )

    assert policy["worker-src"] == "'self'"
    assert policy["manifest-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", ["/manifest.webmanifest", "/sw.js"])
async def test_no_login_needed_and_nothing_about_the_caller(client, login_as, path):
    anonymous = await client.get(path)
    anonymous_body = await anonymous.read()
    user = await login_as("advisor")
    signed_in = await client.get(path)
    signed_in_body = await signed_in.read()

    assert anonymous.status == signed_in.status == 200
    assert anonymous_body == signed_in_body
    assert "Set-Cookie" not in anonymous.headers
    assert "Set-Cookie" not in signed_in.headers
    assert user["username"].encode() not in signed_in_body


@pytest.mark.parametrize("path", ["/manifest.webmanifest", "/sw.js"])
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
async def test_only_get_is_allowed(client, path, method):
    response = await client.request(method, path, json={"x": 1})

    assert response.status == 405
    assert response.content_type == "application/problem+json"


async def test_every_page_links_the_manifest_theme_colour_and_touch_icon(client):
    html = await (await client.get("/login")).text()

    assert '<link rel="manifest" href="/manifest.webmanifest">' in html
    assert f'<meta name="theme-color" content="{pwa.THEME_COLOUR}">' in html
    touch = re.search(r'<link rel="apple-touch-icon" href="([^"]+)">', html)
    assert touch, "apple-touch-icon"
    response = await client.get(touch[1])
    assert response.status == 200
    assert png_size(await response.read()) == (180, 180)


async def test_the_advisor_console_has_the_wake_up_panel(client, login_as):
    await login_as("advisor")
    html = await (await client.get("/")).text()

    assert 'data-testid="push-setup"' in html
    assert "Vækning når browseren er lukket" in html


async def test_other_roles_have_no_wake_up_panel(client, login_as):
    await login_as("nurse")
    html = await (await client.get("/")).text()

    assert 'data-testid="landing-nurse"' in html
    assert 'data-testid="push-setup"' not in html
