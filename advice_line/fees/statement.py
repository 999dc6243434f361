"""Monthly statements: a month's fee lines grouped per clinician, with totals that equal the
sum of the lines exactly (each line is already rounded to the øre; sums are never rounded).

A statement's scope is everyone, one clinician, or the clinicians of one organisation (the
organisation a clinician belongs to, i.e. the one paid for their work).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from decimal import Decimal

from .lines import KINDS, FeeLine, Priced, Unpriced
from .period import Month


@dataclass(frozen=True)
class KindTotal:
    kind: str
    count: int
    amount: Decimal


@dataclass(frozen=True)
class ClinicianPart:
    """One clinician's lines in the month, with subtotals by kind and the total."""

    clinician_id: int
    lines: tuple[FeeLine, ...]
    by_kind: tuple[KindTotal, ...]
    total: Decimal


@dataclass(frozen=True)
class Statement:
    month: Month
    scope: str  # "all", "clinician", "organisation"
    scope_id: int | None
    parts: tuple[ClinicianPart, ...]
    unpriced: tuple[Unpriced, ...]
    total: Decimal

    @property
    def lines(self) -> tuple[FeeLine, ...]:
        return tuple(line for part in self.parts for line in part.lines)

    @property
    def schedule_versions(self) -> tuple[str, ...]:
        return tuple(sorted({line.schedule_version for line in self.lines}))

    @property
    def by_kind(self) -> tuple[KindTotal, ...]:
        return _by_kind(self.lines)


def total_of(lines: Iterable[FeeLine]) -> Decimal:
    """The exact sum of the lines' amounts."""
    return sum((line.amount for line in lines), Decimal("0.00"))


def _by_kind(lines: Iterable[FeeLine]) -> tuple[KindTotal, ...]:
    groups: dict[str, list[FeeLine]] = defaultdict(list)
    for line in lines:
        groups[line.kind].append(line)
    return tuple(KindTotal(k, len(groups[k]), total_of(groups[k])) for k in KINDS if k in groups)


def build_statement(
    month: Month,
    priced: Priced,
    *,
    scope: str = "all",
    scope_id: int | None = None,
    clinicians: Collection[int] | None = None,
) -> Statement:
    """The statement of ``month`` for ``clinicians`` (everyone when None)."""
    assert scope in ("all", "clinician", "organisation")
    wanted = None if clinicians is None else frozenset(clinicians)
    per: dict[int, list[FeeLine]] = defaultdict(list)
    for line in priced.lines:
        if wanted is None or line.clinician_id in wanted:
            per[line.clinician_id].append(line)
    parts = tuple(
        ClinicianPart(c, tuple(ls), _by_kind(ls), total_of(ls)) for c, ls in sorted(per.items())
    )
    total = total_of(line for part in parts for line in part.lines)
    assert total == sum((p.total for p in parts), Decimal("0.00"))
    unpriced = tuple(u for u in priced.unpriced if wanted is None or u.clinician_id in wanted)
    return Statement(month, scope, scope_id, parts, unpriced, total)
