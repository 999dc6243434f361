"""Translations: one JSON catalogue per language in ``web/translations``; Danish is the default.

Keys are dotted names (``nav.patients``); values may hold ``{placeholders}``. A test checks
that both catalogues have the same keys and that every key the templates and scripts use
exists, so no user ever sees a raw key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from aiohttp import web

from advice_line.appkeys import SESSION

LANGUAGES = ("da", "en")
LANGUAGE_COOKIE = "al_lang"


class Catalogue:
    def __init__(self, messages: Mapping[str, Mapping[str, str]], default: str = "da") -> None:
        self.messages = messages
        self.default = default

    @classmethod
    def load(cls, directory: Path | None = None, default: str = "da") -> Catalogue:
        root = directory or Path(__file__).resolve().parent.parent / "web" / "translations"
        return cls(
            {lang: json.loads((root / f"{lang}.json").read_text("utf-8")) for lang in LANGUAGES},
            default,
        )

    def translate(self, language: str, key: str, **values: object) -> str:
        text = (
            self.messages.get(language, {}).get(key) or self.messages[self.default].get(key) or key
        )
        return text.format(**values) if values else text

    def for_language(self, language: str) -> dict[str, str]:
        return dict(self.messages[language if language in self.messages else self.default])


def request_language(request: web.Request, default: str) -> str:
    """The language cookie if set, else the signed-in user's preference, else the default."""
    cookie = request.cookies.get(LANGUAGE_COOKIE)
    if cookie in LANGUAGES:
        return cookie
    session = request.get(SESSION)
    if session is not None and session.user.language in LANGUAGES:
        return str(session.user.language)
    return default
