"""Storage of duty rotas in PostgreSQL, and the pure ``rota`` model built from it.

Every change locks its rota row, applies the change, rebuilds the rota and checks it with
the pure core (``rota.model.rota_problems``) before committing, so the database never
holds a rota the core would refuse (overlapping overrides for one clinician, say). Each
change writes an audit row with what was there before and after.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from typing import Any

import asyncpg

from advice_line import audit
from advice_line.problems import invalid, not_found
from rota.errors import InvalidOverride
from rota.model import (
    Layer,
    Override,
    OverrideKind,
    Rota,
    Swap,
    Unit,
    Window,
    rota_problems,
)

REASON = "rota administration"


# Reading -------------------------------------------------------------------------------


def _window(data: dict[str, Any]) -> Window:
    return Window(
        days=frozenset(data["days"]),
        start=dt.time.fromisoformat(data["start"]),
        end=dt.time.fromisoformat(data["end"]),
    )


async def load_rotas(
    conn: asyncpg.Connection, *, tier: str | None = None, rota_id: int | None = None
) -> list[Rota]:
    """Rotas (all, a tier's, or one) as pure model objects."""
    rotas = await conn.fetch(
        """SELECT id, name, tier, timezone FROM rotas
            WHERE ($1::text IS NULL OR tier = $1) AND ($2::bigint IS NULL OR id = $2)
            ORDER BY id""",
        tier,
        rota_id,
    )
    ids = [r["id"] for r in rotas]
    layers = await conn.fetch(
        """SELECT l.*, coalesce(array_agg(p.user_id ORDER BY p.position)
                                FILTER (WHERE p.user_id IS NOT NULL), '{}') AS participants
             FROM rota_layers l LEFT JOIN rota_participants p ON p.layer_id = l.id
            WHERE l.rota_id = ANY($1::bigint[])
            GROUP BY l.id ORDER BY l.rota_id, l.position""",
        ids,
    )
    overrides = await conn.fetch(
        "SELECT * FROM rota_overrides WHERE rota_id = ANY($1::bigint[]) ORDER BY id", ids
    )
    swaps = await conn.fetch(
        "SELECT * FROM rota_swaps WHERE rota_id = ANY($1::bigint[]) ORDER BY id", ids
    )
    by_rota: dict[int, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    for row in layers:
        by_rota[row["rota_id"]]["layers"].append(
            Layer(
                id=row["id"],
                name=row["name"],
                participants=tuple(row["participants"]),
                shift_length=row["shift_length"],
                unit=Unit(row["unit"]),
                handoff=row["handoff"],
                start_date=row["start_date"],
                windows=tuple(_window(w) for w in row["windows"]),
            )
        )
    for row in overrides:
        by_rota[row["rota_id"]]["overrides"].append(
            Override(
                row["id"],
                row["clinician_id"],
                row["start_at"],
                row["end_at"],
                OverrideKind(row["kind"]),
                row["replaces_id"],
            )
        )
    for row in swaps:
        by_rota[row["rota_id"]]["swaps"].append(
            Swap(
                row["id"],
                row["first_id"],
                row["second_id"],
                row["first_start"],
                row["first_end"],
                row["second_start"],
                row["second_end"],
            )
        )
    return [
        Rota(
            id=r["id"],
            name=r["name"],
            tier=r["tier"],
            timezone=r["timezone"],
            layers=tuple(by_rota[r["id"]]["layers"]),
            overrides=tuple(by_rota[r["id"]]["overrides"]),
            swaps=tuple(by_rota[r["id"]]["swaps"]),
        )
        for r in rotas
    ]


async def get_rota(conn: asyncpg.Connection, rota_id: int) -> Rota:
    found = await load_rotas(conn, rota_id=rota_id)
    if not found:
        raise not_found(f"rota {rota_id}")
    return found[0]


def window_json(window: Window) -> dict[str, Any]:
    return {
        "days": sorted(window.days),
        "start": window.start.strftime("%H:%M"),
        "end": window.end.strftime("%H:%M"),
    }


def rota_json(rota: Rota) -> dict[str, Any]:
    """The rota as the API shows it (clinicians by id; names come from ``clinician_names``)."""
    return {
        "id": rota.id,
        "name": rota.name,
        "tier": rota.tier,
        "timezone": rota.timezone,
        "layers": [
            {
                "id": layer.id, "position": position, "name": layer.name,
                "participants": list(layer.participants), "shift_length": layer.shift_length,
                "unit": str(layer.unit), "handoff": layer.handoff.strftime("%H:%M"),
                "start_date": layer.start_date.isoformat(),
                "windows": [window_json(w) for w in layer.windows],
            }
            for position, layer in enumerate(rota.layers)
        ],
        "overrides": [
            {"id": o.id, "kind": str(o.kind), "clinician_id": o.clinician,
             "replaces_id": o.replaces, "start": o.start.isoformat(), "end": o.end.isoformat()}
            for o in rota.overrides
        ],
        "swaps": [
            {"id": s.id, "first_id": s.first, "second_id": s.second,
             "first_start": s.first_start.isoformat(), "first_end": s.first_end.isoformat(),
             "second_start": s.second_start.isoformat(), "second_end": s.second_end.isoformat()}
            for s in rota.swaps
        ],
    }  # fmt: skip


async def clinician_names(conn: asyncpg.Connection, ids: set[int]) -> dict[int, str]:
    rows = await conn.fetch(
        "SELECT id, display_name FROM users WHERE id = ANY($1::bigint[])", list(ids)
    )
    return {r["id"]: r["display_name"] for r in rows}


# Changing ------------------------------------------------------------------------------


async def _lock(conn: asyncpg.Connection, rota_id: int) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT * FROM rotas WHERE id = $1 FOR UPDATE", rota_id)
    if row is None:
        raise not_found(f"rota {rota_id}")
    return row


async def check_clinicians(
    conn: asyncpg.Connection, tier: str, people: dict[str, list[int]]
) -> None:
    """Every named clinician must be an active advisor of ``tier``; 422 naming the field."""
    ids = {i for group in people.values() for i in group}
    rows = await conn.fetch(
        """SELECT id FROM users WHERE id = ANY($1::bigint[])
              AND role = 'advisor' AND tier = $2 AND disabled_at IS NULL""",
        list(ids),
        tier,
    )
    fit = {r["id"] for r in rows}
    errors = [
        {
            "field": field,
            "code": "not_advisor_of_tier",
            "user": i,
            "message": f"user {i} is not an active advisor of the tier {tier}",
        }
        for field, group in people.items()
        for i in group
        if i not in fit
    ]
    if errors:
        raise invalid(errors)


def rota_error(problem: Exception) -> dict[str, Any]:
    """A rota problem as a field error; overlapping changes for one clinician get their own code."""
    message = str(problem)
    overlap = re.search(r"overlap for clinician (\d+)$", message)
    if isinstance(problem, InvalidOverride) and overlap:
        return {
            "field": "rota",
            "code": "overlap",
            "clinician": int(overlap[1]),
            "message": message,
        }
    return {"field": "rota", "code": "rota_rule", "message": message}


async def checked(conn: asyncpg.Connection, rota_id: int) -> Rota:
    """The rota after a change, refused (422, rolled back) if the core finds problems."""
    # Every change passes here: bumping updated_at tells caches (routing) to rebuild.
    await conn.execute("UPDATE rotas SET updated_at = clock_timestamp() WHERE id = $1", rota_id)
    rota = await get_rota(conn, rota_id)
    problems = rota_problems(rota)
    if problems:
        raise invalid([rota_error(p) for p in problems])
    return rota


async def create_rota(conn: asyncpg.Connection, actor: audit.Actor, data: dict[str, Any]) -> Rota:
    async with conn.transaction():
        try:
            rota_id = await conn.fetchval(
                "INSERT INTO rotas (name, tier, timezone) VALUES ($1, $2, $3) RETURNING id",
                data["name"], data["tier"], data.get("timezone", "Europe/Copenhagen"),
            )  # fmt: skip
        except asyncpg.UniqueViolationError:
            raise invalid([{"field": "name", "code": "taken", "message": "is taken"}]) from None
        rota = await checked(conn, rota_id)
        await audit.record(conn, actor, "rota.create", "rota", rota_id, REASON,
                           details={"after": rota_json(rota)})  # fmt: skip
    return rota


async def update_rota(
    conn: asyncpg.Connection, actor: audit.Actor, rota_id: int, data: dict[str, Any]
) -> Rota:
    async with conn.transaction():
        await _lock(conn, rota_id)
        before = await get_rota(conn, rota_id)
        if "tier" in data and data["tier"] != before.tier:
            people = {
                "tier": [p for layer in before.layers for p in layer.participants]
                + [o.clinician for o in before.overrides]
            }
            await check_clinicians(conn, data["tier"], people)
        try:
            await conn.execute(
                """UPDATE rotas SET name = coalesce($2, name), tier = coalesce($3, tier),
                                    timezone = coalesce($4, timezone), updated_at = now()
                    WHERE id = $1""",
                rota_id, data.get("name"), data.get("tier"), data.get("timezone"),
            )  # fmt: skip
        except asyncpg.UniqueViolationError:
            raise invalid([{"field": "name", "code": "taken", "message": "is taken"}]) from None
        after = await checked(conn, rota_id)
        await _audit_change(conn, actor, "rota.update", rota_id, before, after)
    return after


async def delete_rota(conn: asyncpg.Connection, actor: audit.Actor, rota_id: int) -> None:
    async with conn.transaction():
        await _lock(conn, rota_id)
        before = await get_rota(conn, rota_id)
        await conn.execute("DELETE FROM rotas WHERE id = $1", rota_id)
        await audit.record(conn, actor, "rota.delete", "rota", rota_id, REASON,
                           details={"before": rota_json(before)})  # fmt: skip


async def _audit_change(
    conn: asyncpg.Connection, actor: audit.Actor, action: str, rota_id: int,
    before: Rota, after: Rota,
) -> None:  # fmt: skip
    await audit.record(conn, actor, action, "rota", rota_id, REASON,
                       details={"before": rota_json(before), "after": rota_json(after)})  # fmt: skip


async def _write_layer(
    conn: asyncpg.Connection, rota_id: int, layer_id: int | None, data: dict[str, Any]
) -> int:
    windows = [
        {"days": sorted(set(w["days"])), "start": w["start"].strftime("%H:%M"),
         "end": w["end"].strftime("%H:%M")}
        for w in data.get("windows", [])
    ]  # fmt: skip
    if layer_id is None:
        position = await conn.fetchval(
            "SELECT coalesce(max(position) + 1, 0) FROM rota_layers WHERE rota_id = $1", rota_id
        )
        layer_id = await conn.fetchval(
            """INSERT INTO rota_layers (rota_id, position, name, shift_length, unit, handoff,
                                        start_date, windows)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id""",
            rota_id, position, data["name"], data["shift_length"], data["unit"],
            data["handoff"], data["start_date"], windows,
        )  # fmt: skip
    else:
        await conn.execute(
            """UPDATE rota_layers SET name = $2, shift_length = $3, unit = $4, handoff = $5,
                                      start_date = $6, windows = $7, updated_at = now()
                WHERE id = $1""",
            layer_id, data["name"], data["shift_length"], data["unit"], data["handoff"],
            data["start_date"], windows,
        )  # fmt: skip
        await conn.execute("DELETE FROM rota_participants WHERE layer_id = $1", layer_id)
    await conn.executemany(
        "INSERT INTO rota_participants (layer_id, position, user_id) VALUES ($1, $2, $3)",
        [(layer_id, i, user_id) for i, user_id in enumerate(data["participants"])],
    )
    assert layer_id is not None
    return int(layer_id)


async def save_layer(
    conn: asyncpg.Connection, actor: audit.Actor, rota_id: int, layer_id: int | None,
    data: dict[str, Any],
) -> Rota:  # fmt: skip
    """Add a layer on top (``layer_id`` None) or replace one; its participants in order."""
    async with conn.transaction():
        row = await _lock(conn, rota_id)
        if layer_id is not None and not await conn.fetchval(
            "SELECT 1 FROM rota_layers WHERE id = $1 AND rota_id = $2", layer_id, rota_id
        ):
            raise not_found(f"layer {layer_id} of rota {rota_id}")
        await check_clinicians(conn, row["tier"], {"participants": data["participants"]})
        before = await get_rota(conn, rota_id)
        await _write_layer(conn, rota_id, layer_id, data)
        after = await checked(conn, rota_id)
        action = "rota.layer_add" if layer_id is None else "rota.layer_update"
        await _audit_change(conn, actor, action, rota_id, before, after)
    return after


async def move_layer(
    conn: asyncpg.Connection, actor: audit.Actor, rota_id: int, layer_id: int, position: int
) -> Rota:
    """Put a layer at ``position`` (0 = lowest); the others keep their order."""
    async with conn.transaction():
        await _lock(conn, rota_id)
        before = await get_rota(conn, rota_id)
        order = [layer.id for layer in before.layers]
        if layer_id not in order:
            raise not_found(f"layer {layer_id} of rota {rota_id}")
        if not 0 <= position < len(order):
            raise invalid(
                [
                    {
                        "field": "position",
                        "code": "too_large",
                        "limit": len(order) - 1,
                        "message": f"must be 0 to {len(order) - 1}",
                    }
                ]
            )
        order.remove(layer_id)
        order.insert(position, layer_id)
        await conn.executemany(
            "UPDATE rota_layers SET position = $2 WHERE id = $1",
            [(lid, i) for i, lid in enumerate(order)],
        )
        after = await checked(conn, rota_id)
        await _audit_change(conn, actor, "rota.layer_move", rota_id, before, after)
    return after


async def delete_layer(
    conn: asyncpg.Connection, actor: audit.Actor, rota_id: int, layer_id: int
) -> Rota:
    async with conn.transaction():
        await _lock(conn, rota_id)
        before = await get_rota(conn, rota_id)
        deleted = await conn.fetchval(
            "DELETE FROM rota_layers WHERE id = $1 AND rota_id = $2 RETURNING id", layer_id, rota_id
        )
        if deleted is None:
            raise not_found(f"layer {layer_id} of rota {rota_id}")
        after = await checked(conn, rota_id)
        await _audit_change(conn, actor, "rota.layer_delete", rota_id, before, after)
    return after


async def add_override(
    conn: asyncpg.Connection, actor: audit.Actor, rota_id: int, data: dict[str, Any]
) -> tuple[Rota, int]:
    """A replacement or extra cover on ``[start, end)``; refused if it overlaps another change
    for the same clinician in this rota."""
    async with conn.transaction():
        row = await _lock(conn, rota_id)
        people = {"clinician_id": [data["clinician_id"]]}
        if data.get("replaces_id") is not None:
            people["replaces_id"] = [data["replaces_id"]]
        await check_clinicians(conn, row["tier"], people)
        before = await get_rota(conn, rota_id)
        override_id = await conn.fetchval(
            """INSERT INTO rota_overrides (rota_id, kind, clinician_id, replaces_id, start_at,
                                           end_at, note, created_by)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id""",
            rota_id, data["kind"], data["clinician_id"], data.get("replaces_id"),
            data["start"], data["end"], data.get("note", ""), actor.user_id,
        )  # fmt: skip
        after = await checked(conn, rota_id)
        await _audit_change(conn, actor, "rota.override_add", rota_id, before, after)
    return after, int(override_id)


async def delete_override(
    conn: asyncpg.Connection, actor: audit.Actor, rota_id: int, override_id: int
) -> Rota:
    async with conn.transaction():
        await _lock(conn, rota_id)
        before = await get_rota(conn, rota_id)
        deleted = await conn.fetchval(
            "DELETE FROM rota_overrides WHERE id = $1 AND rota_id = $2 RETURNING id",
            override_id, rota_id,
        )  # fmt: skip
        if deleted is None:
            raise not_found(f"override {override_id} of rota {rota_id}")
        after = await checked(conn, rota_id)
        await _audit_change(conn, actor, "rota.override_delete", rota_id, before, after)
    return after


async def add_swap(
    conn: asyncpg.Connection, actor: audit.Actor, rota_id: int, data: dict[str, Any]
) -> tuple[Rota, int]:
    async with conn.transaction():
        row = await _lock(conn, rota_id)
        await check_clinicians(
            conn, row["tier"], {"first_id": [data["first_id"]], "second_id": [data["second_id"]]}
        )
        before = await get_rota(conn, rota_id)
        swap_id = await conn.fetchval(
            """INSERT INTO rota_swaps (rota_id, first_id, second_id, first_start, first_end,
                                       second_start, second_end, note, created_by)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id""",
            rota_id, data["first_id"], data["second_id"], data["first_start"],
            data["first_end"], data["second_start"], data["second_end"],
            data.get("note", ""), actor.user_id,
        )  # fmt: skip
        after = await checked(conn, rota_id)
        await _audit_change(conn, actor, "rota.swap_add", rota_id, before, after)
    return after, int(swap_id)


async def delete_swap(
    conn: asyncpg.Connection, actor: audit.Actor, rota_id: int, swap_id: int
) -> Rota:
    async with conn.transaction():
        await _lock(conn, rota_id)
        before = await get_rota(conn, rota_id)
        deleted = await conn.fetchval(
            "DELETE FROM rota_swaps WHERE id = $1 AND rota_id = $2 RETURNING id", swap_id, rota_id
        )
        if deleted is None:
            raise not_found(f"swap {swap_id} of rota {rota_id}")
        after = await checked(conn, rota_id)
        await _audit_change(conn, actor, "rota.swap_delete", rota_id, before, after)
    return after
