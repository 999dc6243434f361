"""Shared fixtures: real PostgreSQL and Redis (embedded unless URLs are given), fresh per test.

Set ``ADVICE_LINE_TEST_DATABASE_URL`` (a server URL whose user may create databases) and
``ADVICE_LINE_TEST_REDIS_URL`` to run against external servers; otherwise the suite starts
an embedded PostgreSQL and Redis once per run in a temporary directory.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import hypothesis
import pytest
from redis.asyncio import Redis

from advice_line import audit, organisations, users
from advice_line.app import create_app
from advice_line.embedded import EmbeddedPostgres, EmbeddedRedis
from advice_line.migrate import migrate
from advice_line.passwords import use_cheap_hashing_for_tests
from advice_line.settings import Settings

# Two shared cores under a full suite make single examples slow now and then: a per-example
# deadline would turn that noise into failures. Examples are still bounded by pytest-timeout.
hypothesis.settings.register_profile("advice_line", deadline=None)
hypothesis.settings.load_profile("advice_line")

TEST_PASSWORD = "correct-horse-battery"

# argon2id at production cost takes ~0.1 s per hash on two cores; the suite hashes thousands.
use_cheap_hashing_for_tests()
_TABLES = (
    "push_subscriptions, episode_facts, episode_documents, course_outcomes, fee_schedules, "
    "audit_log, sessions, consultation_timers, consultation_events, consultations, "
    "gp_commitments, advisor_presence, patients, calendar_tokens, rota_participants, "
    "rota_layers, rota_overrides, rota_swaps, rotas, users, organisations"
)


@dataclass(frozen=True)
class Servers:
    admin_database_url: str
    redis_url: str

    def database_url(self, name: str) -> str:
        parts = urlsplit(self.admin_database_url)
        return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    db_url = os.environ.get("ADVICE_LINE_TEST_DATABASE_URL")
    redis_url = os.environ.get("ADVICE_LINE_TEST_REDIS_URL")
    started: list[EmbeddedPostgres | EmbeddedRedis] = []
    root = tmp_path_factory.mktemp("stores")
    if not db_url:
        pg = EmbeddedPostgres(root / "postgres")
        db_url = pg.start()
        started.append(pg)
    if not redis_url:
        rd = EmbeddedRedis(root / "redis")
        redis_url = rd.start()
        started.append(rd)
    yield Servers(db_url, redis_url)
    for server in reversed(started):
        server.stop()


async def recreate_database(servers: Servers, name: str, *, migrated: bool = True) -> str:
    """Drop and create a database on the test server; return its URL."""
    conn = await asyncpg.connect(servers.admin_database_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = servers.database_url(name)
    if migrated:
        conn = await asyncpg.connect(url)
        try:
            await migrate(conn)
        finally:
            await conn.close()
    return url


@pytest.fixture(scope="session")
def database_url(servers: Servers) -> str:
    """One migrated database for the run; tests empty its tables before they start."""
    return asyncio.run(recreate_database(servers, "advice_line_test"))


@pytest.fixture
async def clean_stores(database_url: str, servers: Servers) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        # The audit log refuses TRUNCATE through a trigger; replica mode skips triggers.
        await conn.execute("SET session_replication_role = replica")
        await conn.execute(f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE")
        await conn.execute("UPDATE role_policies SET totp_required = false")
    finally:
        await conn.close()
    redis = Redis.from_url(servers.redis_url)
    try:
        await redis.flushdb()
    finally:
        await redis.aclose()


@pytest.fixture
def settings(database_url: str, servers: Servers, tmp_path: Path, clean_stores: None) -> Settings:
    return Settings(
        environment="test",
        data_dir=tmp_path,
        database_url=database_url,
        redis_url=servers.redis_url,
        redis_key_prefix=f"t{uuid.uuid4().hex[:8]}:",
        migrate_on_start=False,
        ws_heartbeat_seconds=0.5,
        db_pool_min=1,
        db_pool_max=5,
    )


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection to the test database, for arranging and asserting."""
    from advice_line.db import _init_connection

    conn = await asyncpg.connect(settings.database_url)
    await _init_connection(conn)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> Any:
    return await aiohttp_client(create_app(settings))


TEST_ACTOR = audit.Actor(None, "test")


@pytest.fixture
def make_org(db: asyncpg.Connection) -> Any:
    async def make(name: str | None = None, kind: str = "home_care") -> dict[str, Any]:
        return await organisations.create(
            db, TEST_ACTOR, name or f"Org {uuid.uuid4().hex[:6]}", kind
        )

    return make


@pytest.fixture
def make_user(db: asyncpg.Connection, make_org: Any) -> Any:
    """Create a user of a role (with a fitting organisation unless given)."""

    async def make(role: str = "nurse", *, username: str | None = None, tier: str | None = None,
                   organisation_id: int | None = None, password: str = TEST_PASSWORD) -> dict[str, Any]:  # fmt: skip
        if role == "advisor" and tier is None:
            tier = "senior_nurse"
        if organisation_id is None and role != "admin":
            kind = (
                "gp_practice"
                if tier == "gp"
                else "hospital"
                if tier == "specialist"
                else "home_care"
            )
            organisation_id = (await make_org(kind=kind))["id"]
        data = {
            "username": username or f"{role}-{uuid.uuid4().hex[:8]}", "display_name": f"Test {role}",
            "password": password, "role": role, "tier": tier, "organisation_id": organisation_id,
        }  # fmt: skip
        return await users.create(db, TEST_ACTOR, data)

    return make


async def login(client: Any, username: str, password: str = TEST_PASSWORD, **extra: Any) -> str:
    """Log the client in; return the CSRF token and set it as a default header."""
    response = await client.post(
        "/api/v1/auth/login", json={"username": username, "password": password, **extra}
    )
    assert response.status == 200, await response.text()
    csrf = (await response.json())["csrf_token"]
    client.session.headers["X-CSRF-Token"] = csrf
    return str(csrf)


@pytest.fixture
def login_as(client: Any, make_user: Any) -> Any:
    """Create a user of ``role`` and log the shared client in as them; returns the user."""

    async def do(role: str = "nurse", **kwargs: Any) -> dict[str, Any]:
        user = await make_user(role, **kwargs)
        await login(client, user["username"])
        return user

    return do
