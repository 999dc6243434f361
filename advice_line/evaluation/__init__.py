"""Evaluation of the advice line (pure: records in, frozen tables out).

The projects behind the advice line want to know whether round-the-clock stratified advice
lets more people die where they wished, and at what cost. This package turns episode facts
(derived from each consultation's event timeline, never from counters), the current
documentation and the course outcomes into tables that can become CSV rows, charts and a
pseudonymised research extract. No I/O and no clock: the loader in
``advice_line.evaluation_store`` feeds it.
"""

from __future__ import annotations

from .records import (
    DIAGNOSIS_GROUPS,
    DISPOSITIONS,
    PLACES,
    CourseRecord,
    EpisodeRecord,
    FilterError,
    ReportFilter,
    parse_filter,
)
from .report import TABLE_NAMES, Report, build_report
from .research import EXTRACT_PARTS, course_extract, episode_extract, pseudonym
from .table import Cell, Table

__all__ = [
    "DIAGNOSIS_GROUPS",
    "DISPOSITIONS",
    "EXTRACT_PARTS",
    "PLACES",
    "TABLE_NAMES",
    "Cell",
    "CourseRecord",
    "EpisodeRecord",
    "FilterError",
    "Report",
    "ReportFilter",
    "Table",
    "build_report",
    "course_extract",
    "episode_extract",
    "parse_filter",
    "pseudonym",
]
