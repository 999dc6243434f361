"""Importing shifts from CSV into rotas, and exporting a tier's final schedule to CSV.

Imported rows become one-off shifts (extra-cover overrides) in a rota of their tier: the
rota given by id, or the tier's import rota (created on first use). An import is all or
nothing: every row is checked (by line) before anything is written, a row identical to a
shift already there counts as unchanged, and the whole import is one transaction with one
audit row listing what was added.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from advice_line import audit, rota_store
from advice_line.problems import Problem, invalid, not_found
from advice_line.rota_csv import (
    Clinician,
    CsvRejected,
    CsvShift,
    LineError,
    read_shifts,
    write_shifts,
)
from rota.model import DEFAULT_TIMEZONE, OverrideKind
from rota.schedule import final_schedule

IMPORT_ROTA_NAME = "Importerede vagter ({tier})"

Progress = Callable[[int], None]


@dataclass
class ImportResult:
    dry_run: bool
    rows: int
    added: list[CsvShift] = field(default_factory=list)
    unchanged: list[CsvShift] = field(default_factory=list)
    rotas: dict[str, int] = field(default_factory=dict)  # tier -> rota id (or 0 if to be created)

    def as_dict(self) -> dict[str, Any]:
        def row(shift: CsvShift, status: str) -> dict[str, Any]:
            return {"line": shift.line, "tier": shift.tier, "clinician": shift.username,
                    "clinician_id": shift.clinician, "start": shift.start.isoformat(),
                    "end": shift.end.isoformat(), "status": status}  # fmt: skip

        changes = [row(s, "add") for s in self.added] + [
            row(s, "unchanged") for s in self.unchanged
        ]
        return {
            "dry_run": self.dry_run, "rows": self.rows, "added": len(self.added),
            "unchanged": len(self.unchanged),
            "changes": sorted(changes, key=lambda c: c["line"]),
        }  # fmt: skip


def rejected(errors: list[LineError]) -> Problem:
    """422 naming every bad row by line number."""
    return Problem(
        422, "csv-invalid", "The file has invalid rows",
        f"{len(errors)} problem(s); nothing was imported",
        errors=[e.as_dict() for e in errors],
    )  # fmt: skip


async def _clinicians(conn: asyncpg.Connection) -> dict[str, Clinician]:
    rows = await conn.fetch("SELECT id, username, role, tier, disabled_at FROM users")
    return {
        r["username"]: Clinician(
            r["id"], r["username"], r["role"], r["tier"], r["disabled_at"] is None
        )
        for r in rows
    }


async def _target_rotas(
    conn: asyncpg.Connection, tiers: set[str], rota_id: int | None
) -> dict[str, int]:
    if rota_id is not None:
        row = await conn.fetchrow("SELECT id, tier FROM rotas WHERE id = $1", rota_id)
        if row is None:
            raise not_found(f"rota {rota_id}")
        others = sorted(tiers - {row["tier"]})
        if others:
            raise invalid([{"field": "rota_id", "code": "wrong_tier", "message": f"rota {rota_id} is for {row['tier']}; "
                            f"the file also has {', '.join(others)}"}])  # fmt: skip
        return {row["tier"]: row["id"]}
    found = {}
    for tier in sorted(tiers):
        existing = await conn.fetchval(
            "SELECT id FROM rotas WHERE name = $1", IMPORT_ROTA_NAME.format(tier=tier)
        )
        found[tier] = existing or 0
    return found


async def import_csv(
    conn: asyncpg.Connection, actor: audit.Actor, data: bytes, *, dry_run: bool,
    rota_id: int | None = None, progress: Progress | None = None,
) -> ImportResult:  # fmt: skip
    """Check every row, then (unless ``dry_run``) add them all in one transaction."""
    zone = ZoneInfo(DEFAULT_TIMEZONE)
    if rota_id is not None:
        zone_name = await conn.fetchval("SELECT timezone FROM rotas WHERE id = $1", rota_id)
        zone = ZoneInfo(zone_name) if zone_name else zone
    try:
        shifts = read_shifts(data, await _clinicians(conn), zone)
    except CsvRejected as exc:
        raise rejected(exc.errors) from None
    async with conn.transaction():
        targets = await _target_rotas(conn, {s.tier for s in shifts}, rota_id)
        result = ImportResult(dry_run, len(shifts), rotas=targets)
        existing = await _existing(conn, [i for i in targets.values() if i])
        clashes = []
        for shift in shifts:
            key = (targets[shift.tier], shift.clinician)
            same = [(s, e) for s, e in existing.get(key, []) if s < shift.end and shift.start < e]
            if (shift.start, shift.end) in same:
                result.unchanged.append(shift)
            elif same:
                clashes.append(LineError(shift.line, "start", "overlaps a change already in the rota "
                                         f"for {shift.username}"))  # fmt: skip
            else:
                result.added.append(shift)
        if clashes:
            raise rejected(clashes)
        if not dry_run and result.added:
            await _apply(conn, actor, result, progress)
    return result


async def _existing(
    conn: asyncpg.Connection, rota_ids: list[int]
) -> dict[tuple[int, int], list[tuple[dt.datetime, dt.datetime]]]:
    rows = await conn.fetch(
        "SELECT rota_id, clinician_id, start_at, end_at FROM rota_overrides WHERE rota_id = ANY($1::bigint[])",
        rota_ids,
    )
    found: dict[tuple[int, int], list[tuple[dt.datetime, dt.datetime]]] = {}
    for r in rows:
        found.setdefault((r["rota_id"], r["clinician_id"]), []).append((r["start_at"], r["end_at"]))
    return found


async def _apply(
    conn: asyncpg.Connection, actor: audit.Actor, result: ImportResult, progress: Progress | None
) -> None:
    for tier, rota_id in list(result.rotas.items()):
        if not rota_id:
            rota = await rota_store.create_rota(
                conn, actor, {"name": IMPORT_ROTA_NAME.format(tier=tier), "tier": tier}
            )
            result.rotas[tier] = rota.id
    for rota_id in result.rotas.values():
        await conn.execute("SELECT 1 FROM rotas WHERE id = $1 FOR UPDATE", rota_id)
    batch = 500
    for i in range(0, len(result.added), batch):
        chunk = result.added[i : i + batch]
        await conn.executemany(
            """INSERT INTO rota_overrides (rota_id, kind, clinician_id, start_at, end_at, note, created_by)
               VALUES ($1, $2, $3, $4, $5, 'CSV import', $6)""",
            [(result.rotas[s.tier], str(OverrideKind.ADD), s.clinician, s.start, s.end, actor.user_id)
             for s in chunk],
        )  # fmt: skip
        if progress:
            progress(len(chunk))
    for rota_id in set(result.rotas.values()):
        await rota_store.checked(conn, rota_id)
    await audit.record(
        conn, actor, "rota.import", "rota", ",".join(str(i) for i in sorted(set(result.rotas.values()))),
        rota_store.REASON,
        details={"added": [{"tier": s.tier, "clinician_id": s.clinician, "start": s.start.isoformat(),
                            "end": s.end.isoformat()} for s in result.added],
                 "unchanged": len(result.unchanged)},
    )  # fmt: skip


async def export_csv(
    conn: asyncpg.Connection, tiers: list[str], start: dt.datetime, end: dt.datetime
) -> str:
    """The final schedule of ``tiers`` on ``[start, end)``: one row per clinician's stretch."""
    rows: list[tuple[str, str, dt.datetime, dt.datetime]] = []
    usernames = {r["id"]: r["username"] for r in await conn.fetch("SELECT id, username FROM users")}
    for tier in tiers:
        for rota in await rota_store.load_rotas(conn, tier=tier):
            for clinician, stretches in clinician_stretches(
                final_schedule(rota, start, end)
            ).items():
                rows.extend((tier, usernames[clinician], s, e) for s, e in stretches)
    rows.sort(key=lambda r: (r[2], r[0], r[1]))
    return write_shifts(rows, ZoneInfo(DEFAULT_TIMEZONE))


def clinician_stretches(shifts: list[Any]) -> dict[int, list[tuple[dt.datetime, dt.datetime]]]:
    """Each clinician's continuous stretches on duty, from a rota's final schedule."""
    found: dict[int, list[tuple[dt.datetime, dt.datetime]]] = {}
    for shift in shifts:
        for clinician in shift.clinicians:
            stretches = found.setdefault(clinician, [])
            if stretches and stretches[-1][1] == shift.start:
                stretches[-1] = (stretches[-1][0], shift.end)
            else:
                stretches.append((shift.start, shift.end))
    return found
