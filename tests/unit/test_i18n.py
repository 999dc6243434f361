"""Translations: both catalogues agree, every key in use exists, and Catalogue.translate."""

from __future__ import annotations

import json
import re
import string
from pathlib import Path

import pytest

from advice_line.i18n import LANGUAGES, Catalogue
from advice_line.roles import ORGANISATION_KINDS, ROLES, TIER_NAMES

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"

#: A literal key in a call t("key") or t('key', ...); not .split("/") and not t("role." ~ x).
T_CALL = re.compile(r"""(?<![\w.$])t\(\s*(["'])([^"'\\]+)\1\s*[,)]""")


def catalogue(language: str) -> dict[str, str]:
    data = json.loads((WEB / "translations" / f"{language}.json").read_text("utf-8"))
    assert isinstance(data, dict)
    return data


def keys_used_in(paths: list[Path]) -> dict[str, set[str]]:
    """Key -> files that use it."""
    used: dict[str, set[str]] = {}
    for path in paths:
        for match in T_CALL.finditer(path.read_text("utf-8")):
            used.setdefault(match[2], set()).add(path.relative_to(ROOT).as_posix())
    return used


def missing_from_catalogues(used: dict[str, set[str]]) -> list[str]:
    problems = []
    for language in LANGUAGES:
        messages = catalogue(language)
        for key in sorted(used):
            if key not in messages:
                problems.append(f"{language}.json lacks {key!r} (used in {sorted(used[key])})")
    return problems


TEMPLATES = sorted((WEB / "templates").rglob("*.html"))
SCRIPTS = sorted((WEB / "static").glob("*.js"))


def test_the_languages_are_danish_and_english() -> None:
    assert LANGUAGES == ("da", "en")


def test_both_catalogues_have_exactly_the_same_keys() -> None:
    da, en = set(catalogue("da")), set(catalogue("en"))

    assert sorted(da - en) == [], "in da.json only"
    assert sorted(en - da) == [], "in en.json only"


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_value_is_empty(language: str) -> None:
    messages = catalogue(language)

    assert [k for k, v in messages.items() if not isinstance(v, str) or not v.strip()] == []


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_languages_use_the_same_placeholders() -> None:
    da, en = catalogue("da"), catalogue("en")

    differ = {
        key: (placeholders(da[key]), placeholders(en[key]))
        for key in da.keys() & en.keys()
        if placeholders(da[key]) != placeholders(en[key])
    }
    assert differ == {}


def test_the_key_pattern_finds_literal_keys_only() -> None:
    source = """{{ t("a.b") }} {{ t('c.d') }} {{ t("role." ~ user.role) }} {{ t(key) }}
        t("e.f", { seconds: 3 }); x.split("/"); createElement("p"); t( "g.h" )"""

    assert [m[2] for m in T_CALL.finditer(source)] == ["a.b", "c.d", "e.f", "g.h"]


def test_templates_and_scripts_are_found() -> None:
    assert any(p.name == "base.html" for p in TEMPLATES)
    assert any(p.name == "app.js" for p in SCRIPTS)


def test_every_key_used_in_templates_exists_in_both_catalogues() -> None:
    used = keys_used_in(TEMPLATES)

    assert "app.name" in used
    assert missing_from_catalogues(used) == []


def test_every_key_used_in_scripts_exists_in_both_catalogues() -> None:
    used = keys_used_in(SCRIPTS)

    assert "login.failed" in used
    assert missing_from_catalogues(used) == []


def test_navigation_keys_exist_in_both_catalogues() -> None:
    # base.html renders t(key) for each navigation entry; the keys live in the page layer.
    from advice_line.views.pages import NAVIGATION

    used = {
        key: {"advice_line/views/pages.py"} for items in NAVIGATION.values() for key, _ in items
    }
    assert missing_from_catalogues(used) == []


def test_every_value_of_the_enums_built_into_keys_exists() -> None:
    # Templates build keys such as t("role." ~ user.role); every value must be translated.
    used = {
        **{f"role.{role}": {"roles.ROLES"} for role in ROLES},
        **{f"tier.{tier}": {"roles.TIER_NAMES"} for tier in TIER_NAMES},
        **{f"lang.{lang}": {"i18n.LANGUAGES"} for lang in LANGUAGES},
        **{f"org.kind.{kind}": {"roles.ORGANISATION_KINDS"} for kind in ORGANISATION_KINDS},
    }
    assert set(ROLES) == {"nurse", "advisor", "coordinator", "admin"}
    assert set(TIER_NAMES) == {"senior_nurse", "gp", "specialist"}
    assert set(ORGANISATION_KINDS) == {"home_care", "gp_practice", "hospital"}

    assert missing_from_catalogues(used) == []


# Catalogue.translate --------------------------------------------------------------------

MESSAGES = {
    "da": {"greet": "Hej {name}", "only.da": "Kun dansk", "plain": "Farvel"},
    "en": {"greet": "Hello {name}", "plain": "Goodbye", "empty": ""},
}


@pytest.mark.parametrize(
    ("language", "key", "values", "expected"),
    [
        ("en", "plain", {}, "Goodbye"),
        ("da", "plain", {}, "Farvel"),
        ("en", "greet", {"name": "Anne"}, "Hello Anne"),
        ("da", "greet", {"name": "Anne"}, "Hej Anne"),
        ("en", "only.da", {}, "Kun dansk"),
        ("de", "plain", {}, "Farvel"),
        ("en", "no.such.key", {}, "no.such.key"),
        ("da", "no.such.key", {}, "no.such.key"),
        ("en", "empty", {}, "empty"),
    ],
)
def test_translate(language: str, key: str, values: dict[str, object], expected: str) -> None:
    assert Catalogue(MESSAGES).translate(language, key, **values) == expected


def test_translate_without_values_leaves_braces_alone() -> None:
    assert Catalogue(MESSAGES).translate("en", "greet") == "Hello {name}"


def test_translate_falls_back_to_the_chosen_default() -> None:
    assert Catalogue(MESSAGES, default="en").translate("da", "empty") == "empty"
    assert Catalogue(MESSAGES, default="en").translate("fr", "plain") == "Goodbye"


def test_for_language_gives_the_whole_catalogue_or_the_default() -> None:
    messages = Catalogue(MESSAGES)

    assert messages.for_language("en") == MESSAGES["en"]
    assert messages.for_language("xx") == MESSAGES["da"]


def test_the_shipped_catalogues_load() -> None:
    messages = Catalogue.load(WEB / "translations")

    assert messages.translate("da", "app.name") == catalogue("da")["app.name"]
    assert messages.translate("en", "app.name") == catalogue("en")["app.name"]
    assert messages.translate("en", "login.throttled", seconds=30).count("30") == 1


def test_the_shipped_catalogues_load_from_the_package_by_default() -> None:
    assert Catalogue.load().messages == Catalogue.load(WEB / "translations").messages
