"""Users: one role each (nurse, advisor with a tier, coordinator, admin), in an organisation."""

from __future__ import annotations

from typing import Any

import asyncpg

from advice_line import audit
from advice_line.passwords import hash_password, password_problem
from advice_line.problems import conflict, invalid, not_found
from advice_line.roles import ROLES, TIER_NAMES, Role
from advice_line.validation import Field

USERNAME_PATTERN = r"[a-z0-9][a-z0-9._-]{1,62}"

CREATE_SCHEMA = {
    "username": Field("str", required=True, min_length=2, max_length=63, pattern=USERNAME_PATTERN),
    "display_name": Field("str", required=True, min_length=1, max_length=200),
    "password": Field("str", required=True, min_length=1, max_length=256),
    "role": Field("enum", required=True, choices=ROLES),
    "tier": Field("enum", nullable=True, choices=TIER_NAMES),
    "organisation_id": Field("int", nullable=True, minimum=1),
    "language": Field("enum", choices=("da", "en")),
}

UPDATE_SCHEMA = {
    "display_name": Field("str", min_length=1, max_length=200),
    "disabled": Field("bool"),
    "language": Field("enum", choices=("da", "en")),
}

PUBLIC_COLUMNS = """u.id, u.username, u.display_name, u.role, u.tier, u.organisation_id,
    o.name AS organisation_name, o.kind AS organisation_kind, u.language, u.totp_enabled,
    u.disabled_at, u.created_at"""
_FROM = "users u LEFT JOIN organisations o ON o.id = u.organisation_id"


def public(row: asyncpg.Record | dict[str, Any]) -> dict[str, Any]:
    """The user as the API shows it (never the hash or the TOTP secret)."""
    data = dict(row)
    data["disabled"] = data.pop("disabled_at", None) is not None
    data.pop("created_at", None)
    return data


def check_role_fields(role: str, tier: str | None, organisation: dict[str, Any] | None) -> None:
    """A role's tier and organisation must fit together; raise 422 naming the field."""
    errors = []
    if role == Role.ADVISOR and not tier:
        errors.append(
            {"field": "tier", "code": "tier_needed", "message": "an advisor needs a tier"}
        )
    if role != Role.ADVISOR and tier:
        errors.append(
            {"field": "tier", "code": "tier_only_advisors", "message": "only advisors have a tier"}
        )
    if role != Role.ADMIN and organisation is None:
        errors.append(
            {
                "field": "organisation_id",
                "code": "organisation_needed",
                "message": "this role needs an organisation",
            }
        )
    if role == Role.NURSE and organisation and organisation["kind"] != "home_care":
        errors.append(
            {
                "field": "organisation_id",
                "code": "nurse_home_care",
                "message": "nurses belong to a home-care organisation",
            }
        )
    if errors:
        raise invalid(errors)


async def get(conn: asyncpg.Connection, user_id: int) -> dict[str, Any]:
    row = await conn.fetchrow(f"SELECT {PUBLIC_COLUMNS} FROM {_FROM} WHERE u.id = $1", user_id)
    if row is None:
        raise not_found(f"user {user_id}")
    return public(row)


async def by_username(conn: asyncpg.Connection, username: str) -> dict[str, Any] | None:
    """The full row (with hash and TOTP secret) for authentication, or None."""
    row = await conn.fetchrow(
        f"SELECT {PUBLIC_COLUMNS}, u.password_hash, u.totp_secret FROM {_FROM} WHERE u.username = $1",
        username,
    )
    return dict(row) if row else None


async def list_all(
    conn: asyncpg.Connection, *, role: str | None = None, organisation_id: int | None = None
) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"""SELECT {PUBLIC_COLUMNS} FROM {_FROM}
             WHERE ($1::text IS NULL OR u.role = $1)
               AND ($2::bigint IS NULL OR u.organisation_id = $2)
             ORDER BY u.username""",
        role, organisation_id,
    )  # fmt: skip
    return [public(r) for r in rows]


async def create(
    conn: asyncpg.Connection, actor: audit.Actor, data: dict[str, Any]
) -> dict[str, Any]:
    """Create a user from validated ``CREATE_SCHEMA`` data; audited."""
    problem = password_problem(data["password"])
    if problem:
        raise invalid([{"field": "password", "code": "password_rule", "message": problem}])
    organisation = None
    if data.get("organisation_id") is not None:
        row = await conn.fetchrow(
            "SELECT id, kind FROM organisations WHERE id = $1", data["organisation_id"]
        )
        if row is None:
            raise invalid(
                [
                    {
                        "field": "organisation_id",
                        "code": "organisation_unknown",
                        "message": "no such organisation",
                    }
                ]
            )
        organisation = dict(row)
    check_role_fields(data["role"], data.get("tier"), organisation)
    password_hash = hash_password(data["password"])
    async with conn.transaction():
        try:
            user_id = await conn.fetchval(
                """INSERT INTO users (username, display_name, role, tier, organisation_id,
                                      password_hash, language)
                   VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id""",
                data["username"], data["display_name"], data["role"], data.get("tier"),
                data.get("organisation_id"), password_hash, data.get("language", "da"),
            )  # fmt: skip
        except asyncpg.UniqueViolationError:
            raise conflict(f"the username {data['username']!r} is taken", "username") from None
        user = await get(conn, user_id)
        after = {k: user[k] for k in ("username", "role", "tier", "organisation_id")}
        await audit.record(
            conn, actor, "user.create", "user", user_id, "administration", details={"after": after}
        )
    return user


async def update(
    conn: asyncpg.Connection, actor: audit.Actor, user_id: int, data: dict[str, Any]
) -> dict[str, Any]:
    """Change display name, language or disabled state; audited with before and after."""
    async with conn.transaction():
        before = await get(conn, user_id)
        await conn.execute(
            """UPDATE users SET
                   display_name = coalesce($2, display_name),
                   language = coalesce($3, language),
                   disabled_at = CASE WHEN $4::boolean IS NULL THEN disabled_at
                                      WHEN $4 THEN coalesce(disabled_at, now()) ELSE NULL END,
                   updated_at = now()
             WHERE id = $1""",
            user_id, data.get("display_name"), data.get("language"), data.get("disabled"),
        )  # fmt: skip
        after = await get(conn, user_id)
        if data.get("disabled"):
            await conn.execute(
                "UPDATE sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
                user_id,
            )
        await audit.record(
            conn, actor, "user.update", "user", user_id, "administration",
            details=audit.changes(before, after),
        )  # fmt: skip
    return after


async def set_password(
    conn: asyncpg.Connection,
    actor: audit.Actor,
    user_id: int,
    password: str,
    *,
    field: str = "password",
    keep_session: str | None = None,
) -> list[str]:
    """Set a new password and end the user's other sessions; returns their hashes. Audited."""
    problem = password_problem(password)
    if problem:
        raise invalid([{"field": field, "code": "password_rule", "message": problem}])
    async with conn.transaction():
        await conn.execute(
            "UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1",
            user_id, hash_password(password),
        )  # fmt: skip
        rows = await conn.fetch(
            """UPDATE sessions SET revoked_at = now()
                WHERE user_id = $1 AND revoked_at IS NULL AND token_hash IS DISTINCT FROM $2
            RETURNING token_hash""",
            user_id, keep_session,
        )  # fmt: skip
        reason = "own password change" if actor.user_id == user_id else "administration"
        await audit.record(conn, actor, "user.password", "user", user_id, reason)
    return [r["token_hash"] for r in rows]
