"""The installable web app: its manifest and its service worker, both at the site's root.

The service worker must be served from ``/`` (not ``/static/``) so that its scope is the
whole site without a ``Service-Worker-Allowed`` header; it wakes advisors with Web Push and
caches nothing. Neither needs a login, and neither says anything about who is asking.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from aiohttp import web

from advice_line.appkeys import CATALOGUE, SETTINGS

routes = web.RouteTableDef()

STATIC = Path(__file__).resolve().parents[2] / "web" / "static"
SERVICE_WORKER = STATIC / "sw.js"
MANIFEST_TYPE = "application/manifest+json"
#: The colours of app.css: --primary for the browser's bar, --bg behind the splash screen.
THEME_COLOUR = "#0b5cad"
BACKGROUND_COLOUR = "#f4f6f8"
#: (file under /static/icons, pixels, purpose)
ICONS = (
    ("icons/icon-192.png", 192, "any"),
    ("icons/icon-512.png", 512, "any"),
    ("icons/icon-maskable-192.png", 192, "maskable"),
    ("icons/icon-maskable-512.png", 512, "maskable"),
)


def manifest(app: web.Application) -> dict[str, Any]:
    """The web app manifest, in the service's default language (browsers fetch it without
    cookies, so there is no one to ask)."""
    language = app[SETTINGS].default_language
    catalogue = app[CATALOGUE]
    static = app.router["static"]
    return {
        "id": "/",
        "name": catalogue.translate(language, "app.name"),
        "short_name": catalogue.translate(language, "app.short_name"),
        "description": catalogue.translate(language, "app.tagline"),
        "lang": language,
        "dir": "ltr",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "theme_color": THEME_COLOUR,
        "background_color": BACKGROUND_COLOUR,
        "categories": ["medical"],
        "icons": [
            {"src": str(static.url_for(filename=name)), "sizes": f"{size}x{size}",
             "type": "image/png", "purpose": purpose}
            for name, size, purpose in ICONS
        ],
    }  # fmt: skip


_dumps = functools.partial(json.dumps, ensure_ascii=False)


@routes.get("/manifest.webmanifest")
async def web_app_manifest(request: web.Request) -> web.StreamResponse:
    """What a phone needs to install the advisor console as an app."""
    response = web.json_response(manifest(request.app), content_type=MANIFEST_TYPE, dumps=_dumps)
    response.headers["Cache-Control"] = "no-cache"
    return response


@routes.get("/sw.js")
async def service_worker(_request: web.Request) -> web.StreamResponse:
    """The service worker, revalidated on every check so an upgrade reaches every device."""
    return web.Response(
        body=SERVICE_WORKER.read_bytes(),
        content_type="text/javascript",
        charset="utf-8",
        headers={"Cache-Control": "no-cache"},
    )
