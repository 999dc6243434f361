"""A frozen table: named columns and rows of plain cells, ready for CSV, text and JSON."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: A cell: a count, a figure, a label, a yes/no, or None for "no figure" (n = 0, unknown).
Cell = int | float | str | bool | None

#: How a missing figure reads on a screen or in text output (in CSV it is an empty field).
MISSING = "–"


@dataclass(frozen=True)
class Table:
    """One table of a report; ``rows`` line up with ``columns``."""

    name: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]

    def __post_init__(self) -> None:
        assert all(len(row) == len(self.columns) for row in self.rows), self.name

    def column(self, name: str) -> tuple[Cell, ...]:
        """Every value of one column, top to bottom."""
        i = self.columns.index(name)
        return tuple(row[i] for row in self.rows)

    def row(self, key: Cell) -> dict[str, Cell]:
        """The first row whose first cell is ``key``, as a column -> value mapping."""
        for row in self.rows:
            if row[0] == key:
                return dict(zip(self.columns, row, strict=True))
        raise KeyError(key)

    def csv_rows(self) -> list[list[str]]:
        """Header and rows as strings for ``csv.writer``: missing figures are empty fields."""
        return [list(self.columns), *([csv_cell(c) for c in row] for row in self.rows)]

    def text_rows(self) -> list[list[str]]:
        """Header and rows for people: missing figures read "–"."""
        return [list(self.columns), *([text_cell(c) for c in row] for row in self.rows)]

    def to_json(self) -> dict[str, Any]:
        return {"columns": list(self.columns), "rows": [list(r) for r in self.rows]}


def csv_cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def text_cell(value: Cell) -> str:
    return MISSING if value is None else csv_cell(value)


def aligned(table: Table) -> str:
    """The table as aligned plain text (the CLI's ``--format text``)."""
    rows = table.text_rows()
    widths = [max(len(r[i]) for r in rows) for i in range(len(table.columns))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
             for r in rows]  # fmt: skip
    return "\n".join([table.name, *lines])


def make(name: str, columns: Sequence[str], rows: Sequence[Sequence[Cell]]) -> Table:
    """A table from any sequences (the constructor wants tuples)."""
    return Table(name, tuple(columns), tuple(tuple(r) for r in rows))
