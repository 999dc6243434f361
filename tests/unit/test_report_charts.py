"""Charts of a report: every chart draws (empty periods too), labelled in the language asked."""

from __future__ import annotations

import datetime as dt

import pytest

from advice_line.evaluation import ReportFilter, build_report
from advice_line.i18n import Catalogue
from advice_line.report_charts import CHARTS, render

from .evaluation.builders import course, facts, record, tier

MARCH = ReportFilter(dt.date(2026, 3, 1), dt.date(2026, 4, 1))
CATALOGUE = Catalogue.load()
FULL = build_report(
    [record(facts(1, answer=12)), record(facts(2, answer=None, outcome="cancelled")),
     record(facts(3, tiers=(tier(1, 0, answered=5), tier(2, 60, offered=(9,), answered=700))))],
    [course(1), course(2, wished="unknown", group="cancer")], MARCH,
)  # fmt: skip
EMPTY = build_report([], [], MARCH)


def t(language: str):  # type: ignore[no-untyped-def]
    return lambda key, **values: CATALOGUE.translate(language, key, **values)


@pytest.mark.parametrize("name", list(CHARTS))
@pytest.mark.parametrize("report", [FULL, EMPTY], ids=["full", "empty"])
def test_every_chart_draws_as_svg_and_png(name: str, report) -> None:  # type: ignore[no-untyped-def]
    svg = render(report, name, "svg", t("en")).decode()
    assert svg.lstrip().startswith("<?xml") and "</svg>" in svg
    assert CATALOGUE.translate("en", f"reports.chart.{name}.title") in svg
    assert "reports." not in svg  # every label was translated
    assert render(report, name, "png", t("da")).startswith(b"\x89PNG")


def test_labels_follow_the_language() -> None:
    svg = render(FULL, "died_where_wished", "svg", t("da")).decode()
    assert "Døde hvor de ønskede" in svg and "Ikke-kræft" in svg


def test_the_same_report_gives_the_same_svg() -> None:
    assert render(FULL, "heatmap", "svg", t("da")) == render(FULL, "heatmap", "svg", t("da"))
