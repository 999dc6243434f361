"""What the advice led to: the documented dispositions, and whether people died where they
wished (cancer and non-cancer apart: the projects aim at non-cancer patients)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from .records import DIAGNOSIS_GROUPS, DISPOSITIONS, CourseRecord
from .rows import Columns
from .stats import share
from .table import Cell, Table, make


def dispositions(episodes: Columns) -> Table:
    """Documented dispositions, by diagnosis group; ``undocumented`` counts completed calls
    without documentation (calls that never connected are not documented). Shares are of
    the documented and undocumented calls together."""
    found = Counter(zip(episodes["disposition"], episodes["outcome"], episodes["diagnosis_group"],
                        strict=True))  # fmt: skip
    counted: Counter[tuple[str | None, str]] = Counter()
    for (disposition, outcome, group), n in found.items():
        if disposition is not None or outcome == "completed":
            counted[disposition, group] += n
    total = sum(counted.values())
    rows: list[list[Cell]] = []
    for value in (*DISPOSITIONS, None):
        mine = sum(n for (d, _), n in counted.items() if d == value)
        rows.append([value or "undocumented", mine, share(mine, total),
                     *(counted[value, g] for g in DIAGNOSIS_GROUPS)])  # fmt: skip
    return make("dispositions", ["disposition", "episodes", "share", *DIAGNOSIS_GROUPS], rows)


def died_where_wished(courses: Sequence[CourseRecord]) -> Table:
    """Per diagnosis group (and all): courses ended, deaths, deaths with a known wish, of
    those the deaths where wished (and the share), deaths whose wish was unknown (shown,
    never silently dropped), and deaths at home (and the share of all deaths)."""
    rows: list[list[Cell]] = []
    for group in (*DIAGNOSIS_GROUPS, "all"):
        mine = [c for c in courses if group in ("all", c.diagnosis_group)]
        died = [c for c in mine if c.died]
        known = [c for c in died if c.wish_known]
        where = sum(1 for c in known if c.died_where_wished)
        home = sum(1 for c in died if c.place_of_death == "home")
        rows.append([group, len(mine), len(died), len(known), where, share(where, len(known)),
                     len(died) - len(known), home, share(home, len(died))])  # fmt: skip
    columns = ["diagnosis_group", "courses_ended", "died", "died_wish_known",
               "died_where_wished", "share_died_where_wished", "died_wish_unknown",
               "died_at_home", "share_died_at_home"]  # fmt: skip
    return make("died_where_wished", columns, rows)
