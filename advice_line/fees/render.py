"""A statement as JSON-ready data, as CSV (one row per fee line) and as plain text.

Amounts are written as decimal strings with two decimals and a point ("1234.50"), instants in
Danish local time with their offset, so a spreadsheet or a script can re-add the lines and
get the statement's total to the øre.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .bands import local
from .lines import FeeLine, Unpriced
from .statement import KindTotal, Statement


@dataclass(frozen=True)
class Who:
    """How a clinician is shown on a statement."""

    name: str
    username: str
    organisation_id: int | None = None
    organisation: str = ""


CSV_COLUMNS = (
    "month", "clinician_id", "clinician", "username", "organisation", "kind", "rule",
    "schedule_version", "consultation_id", "period_start", "period_end", "quantity", "unit",
    "unit_amount", "per", "amount", "detail",
)  # fmt: skip


def _who(names: Mapping[int, Who], clinician_id: int) -> Who:
    return names.get(clinician_id, Who(f"#{clinician_id}", ""))


def line_json(line: FeeLine) -> dict[str, Any]:
    return {
        "clinician_id": line.clinician_id, "kind": line.kind, "rule": line.rule,
        "schedule_version": line.schedule_version, "quantity": str(line.quantity),
        "unit": line.unit, "unit_amount": str(line.unit_amount), "per": line.per,
        "amount": str(line.amount), "consultation_id": line.consultation_id,
        "period_start": local(line.period_start).isoformat(),
        "period_end": local(line.period_end).isoformat(), "detail": line.detail,
    }  # fmt: skip


def _kinds(totals: tuple[KindTotal, ...]) -> list[dict[str, Any]]:
    return [{"kind": k.kind, "count": k.count, "amount": str(k.amount)} for k in totals]


def _unpriced(u: Unpriced) -> dict[str, Any]:
    return {
        "clinician_id": u.clinician_id, "kind": u.kind, "consultation_id": u.consultation_id,
        "period_start": local(u.period_start).isoformat(),
        "period_end": local(u.period_end).isoformat() if u.period_end else None,
        "reason": u.reason,
    }  # fmt: skip


def statement_json(statement: Statement, names: Mapping[int, Who]) -> dict[str, Any]:
    """The statement as the API returns it (amounts as strings)."""
    return {
        "month": str(statement.month), "scope": statement.scope, "scope_id": statement.scope_id,
        "currency": "DKK", "total": str(statement.total),
        "by_kind": _kinds(statement.by_kind),
        "schedule_versions": list(statement.schedule_versions),
        "clinicians": [
            {"clinician_id": p.clinician_id, "name": _who(names, p.clinician_id).name,
             "username": _who(names, p.clinician_id).username,
             "organisation_id": _who(names, p.clinician_id).organisation_id,
             "organisation": _who(names, p.clinician_id).organisation,
             "total": str(p.total), "by_kind": _kinds(p.by_kind),
             "lines": [line_json(x) for x in p.lines]}
            for p in statement.parts
        ],
        "unpriced": [_unpriced(u) for u in statement.unpriced],
    }  # fmt: skip


def statement_csv(statement: Statement, names: Mapping[int, Who]) -> str:
    """One row per fee line, in the statement's order; the amounts add up to its total."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for line in statement.lines:
        who = _who(names, line.clinician_id)
        writer.writerow([
            str(statement.month), line.clinician_id, who.name, who.username, who.organisation,
            line.kind, line.rule, line.schedule_version, line.consultation_id or "",
            local(line.period_start).isoformat(), local(line.period_end).isoformat(),
            line.quantity, line.unit, line.unit_amount, line.per, line.amount, line.detail,
        ])  # fmt: skip
    return out.getvalue()


def statement_text(statement: Statement, names: Mapping[int, Who]) -> str:
    """A readable summary for the console: per clinician, subtotals by kind, and the total."""
    rows = [f"Fee statement {statement.month} ({statement.scope}"
            + (f" {statement.scope_id}" if statement.scope_id is not None else "") + "), DKK"]  # fmt: skip
    if statement.schedule_versions:
        rows.append("Schedule versions: " + ", ".join(statement.schedule_versions))
    for part in statement.parts:
        who = _who(names, part.clinician_id)
        label = f"{who.name} ({who.username})" if who.username else who.name
        rows.append("")
        rows.append(f"{label}{' - ' + who.organisation if who.organisation else ''}")
        for k in part.by_kind:
            rows.append(f"  {k.kind:<20} {k.count:>5} lines {k.amount:>14}")
        rows.append(f"  {'total':<20} {len(part.lines):>5} lines {part.total:>14}")
    rows.append("")
    rows.append(f"{'TOTAL':<22} {len(statement.lines):>5} lines {statement.total:>14}")
    if statement.unpriced:
        rows.append(f"Not priced: {len(statement.unpriced)} item(s) "
                    f"({', '.join(sorted({u.reason for u in statement.unpriced}))})")  # fmt: skip
    return "\n".join(rows) + "\n"
