"""Organisations: municipal home care, GP practices, hospital palliative teams."""

from __future__ import annotations

from typing import Any

import asyncpg

from advice_line import audit
from advice_line.problems import conflict, not_found
from advice_line.roles import ORGANISATION_KINDS
from advice_line.validation import Field

CREATE_SCHEMA = {
    "name": Field("str", required=True, min_length=1, max_length=200),
    "kind": Field("enum", required=True, choices=ORGANISATION_KINDS),
}

_COLUMNS = "id, name, kind, created_at"


async def list_all(conn: asyncpg.Connection, kind: str | None = None) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM organisations WHERE ($1::text IS NULL OR kind = $1) ORDER BY name",
        kind,
    )
    return [dict(r) for r in rows]


async def get(conn: asyncpg.Connection, org_id: int) -> dict[str, Any]:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM organisations WHERE id = $1", org_id)
    if row is None:
        raise not_found(f"organisation {org_id}")
    return dict(row)


async def by_name(conn: asyncpg.Connection, name: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM organisations WHERE name = $1", name)
    return dict(row) if row else None


async def create(
    conn: asyncpg.Connection, actor: audit.Actor, name: str, kind: str
) -> dict[str, Any]:
    async with conn.transaction():
        try:
            row = await conn.fetchrow(
                f"INSERT INTO organisations (name, kind) VALUES ($1, $2) RETURNING {_COLUMNS}",
                name, kind,
            )  # fmt: skip
        except asyncpg.UniqueViolationError:
            raise conflict(f"an organisation named {name!r} exists already", "name") from None
        assert row is not None
        await audit.record(
            conn, actor, "organisation.create", "organisation", row["id"], "administration",
            details={"after": {"name": name, "kind": kind}},
        )  # fmt: skip
    return dict(row)
