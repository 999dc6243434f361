"""A whole report: the filter, what it selected, and every table, in a fixed order."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from . import care, quality, routing, timing
from .records import CourseRecord, EpisodeRecord, ReportFilter
from .rows import Columns, EpisodeRow, row_of, select
from .selection import select_courses
from .table import Cell, Table, make

#: Every table a report has, in the order pages and the CLI show them.
TABLE_NAMES = (
    "summary", "heatmap", "answer_times", "answer_histogram", "escalation", "outcomes",
    "callbacks", "dispositions", "died_where_wished", "call_quality",
)  # fmt: skip


@dataclass(frozen=True)
class Report:
    """The evaluation of one filter."""

    filter: ReportFilter
    episodes: int
    courses: int
    tables: tuple[Table, ...]

    def __post_init__(self) -> None:
        assert tuple(t.name for t in self.tables) == TABLE_NAMES

    def table(self, name: str) -> Table:
        """One table by name (KeyError for an unknown name)."""
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        return {"filter": self.filter.to_json(), "episodes": self.episodes,
                "courses": self.courses, "tables": {t.name: t.to_json() for t in self.tables}}  # fmt: skip


def _summary(tables: dict[str, Table], episodes: int, courses: int) -> Table:
    """The key figures, each taken from the table that holds it."""
    answers = tables["answer_times"].row("all")
    escalation = tables["escalation"]
    ends = tables["outcomes"]
    died = tables["died_where_wished"]
    rows: list[tuple[str, Cell]] = [
        ("episodes", episodes),
        ("answered", answers["answered"]),
        ("share_answered", answers["share_answered"]),
        ("median_s_to_answer", answers["median_s"]),
        ("p90_s_to_answer", answers["p90_s"]),
        ("share_within_60s", answers["share_within_60s"]),
        ("share_within_180s", answers["share_within_180s"]),
        *((f"share_reached_tier{r['tier']}", r["share_reached"])
          for r in (escalation.row(level) for level in escalation.column("tier"))),
        *((f"{o}", ends.row(o)["episodes"]) for o in ("completed", "cancelled", "abandoned")),
        ("callbacks_requested", tables["callbacks"].row("callback_requested")["episodes"]),
        ("courses_ended", courses),
        *((f"share_died_where_wished_{g}", died.row(g)["share_died_where_wished"])
          for g in ("cancer", "non_cancer", "all")),
    ]  # fmt: skip
    return make("summary", ["measure", "value"], rows)


def build_report(
    episodes: Iterable[EpisodeRecord], courses: Iterable[CourseRecord], f: ReportFilter
) -> Report:
    """Select what ``f`` covers from the records and compute every table."""
    return report_of_rows([row_of(r) for r in episodes], courses, f)


def report_of_rows(
    episodes: Sequence[EpisodeRow], courses: Iterable[CourseRecord], f: ReportFilter
) -> Report:
    """Select what ``f`` covers from episode rows and courses and compute every table."""
    return report_of_columns(Columns.of(episodes), courses, f)


def report_of_columns(
    episodes: Columns, courses: Iterable[CourseRecord], f: ReportFilter
) -> Report:
    """Select what ``f`` covers from the episodes' columns and courses; every table."""
    chosen = select(episodes, f)
    ended = select_courses(courses, f, set(chosen["patient_id"]))
    waits = timing.waits(chosen)
    tables = {
        "heatmap": timing.heatmap(chosen),
        "answer_times": timing.answer_times(waits),
        "answer_histogram": timing.answer_histogram(waits),
        "escalation": routing.escalation(chosen),
        "outcomes": routing.outcomes(chosen),
        "callbacks": routing.callbacks(chosen),
        "dispositions": care.dispositions(chosen),
        "died_where_wished": care.died_where_wished(ended),
        "call_quality": quality.call_quality(chosen),
    }
    tables["summary"] = _summary(tables, len(chosen), len(ended))
    return Report(f, len(chosen), len(ended), tuple(tables[name] for name in TABLE_NAMES))
