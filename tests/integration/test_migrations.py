"""Migrations: fresh, repeated, concurrent, and refusing a database that disagrees with the code."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from advice_line.migrate import Migration, MigrationError, load_migrations, migrate
from tests.conftest import recreate_database


@pytest.fixture
async def empty_db(servers):
    url = await recreate_database(servers, "advice_line_migrations", migrated=False)
    conn = await asyncpg.connect(url)
    yield conn, url
    await conn.close()


async def test_fresh_database_gets_every_migration_recorded(empty_db):
    conn, _ = empty_db
    applied = await migrate(conn)
    files = load_migrations()
    assert applied == [m.version for m in files]
    rows = await conn.fetch(
        "SELECT version, name, checksum FROM schema_migrations ORDER BY version"
    )
    assert [(r["version"], r["name"], r["checksum"]) for r in rows] == [
        (m.version, m.name, m.checksum) for m in files
    ]
    tables = {
        r["tablename"]
        for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    }
    assert {"users", "patients", "audit_log", "sessions", "organisations"} <= tables


async def test_running_again_changes_nothing(empty_db):
    conn, _ = empty_db
    await migrate(conn)
    assert await migrate(conn) == []


async def test_two_nodes_migrating_at_once_take_turns(empty_db):
    _, url = empty_db
    first, second = await asyncpg.connect(url), await asyncpg.connect(url)
    try:
        results = await asyncio.gather(migrate(first), migrate(second))
    finally:
        await first.close()
        await second.close()
    versions = [m.version for m in load_migrations()]
    assert sorted(results, key=len) == [[], versions]


async def test_a_changed_migration_is_refused(empty_db):
    conn, _ = empty_db
    files = load_migrations()
    await migrate(conn, files)
    changed = [
        *files[:-1],
        Migration(files[-1].version, files[-1].name, files[-1].sql + "\n-- edited"),
    ]
    with pytest.raises(MigrationError, match="changed after it was applied"):
        await migrate(conn, changed)


async def test_a_database_ahead_of_the_code_is_refused(empty_db):
    conn, _ = empty_db
    files = load_migrations()
    extra = Migration(len(files) + 1, "from_the_future", "CREATE TABLE future (id int)")
    await migrate(conn, [*files, extra])
    with pytest.raises(MigrationError, match="does not know"):
        await migrate(conn, files)


async def test_a_failing_migration_leaves_no_trace(empty_db):
    conn, _ = empty_db
    files = load_migrations()
    broken = Migration(len(files) + 1, "broken", "CREATE TABLE half (id int); SELECT 1/0;")
    with pytest.raises(asyncpg.DivisionByZeroError):
        await migrate(conn, [*files, broken])
    assert not await conn.fetchval("SELECT to_regclass('half')")
    assert await conn.fetchval("SELECT max(version) FROM schema_migrations") == len(files)
    assert await migrate(conn, files) == [], "the lock was released"


def test_migration_files_are_numbered_without_gaps(tmp_path):
    (tmp_path / "0001_a.sql").write_text("SELECT 1")
    (tmp_path / "0003_c.sql").write_text("SELECT 1")
    with pytest.raises(MigrationError, match="without gaps"):
        load_migrations(tmp_path)
    (tmp_path / "0002_B.sql").write_text("SELECT 1")
    with pytest.raises(MigrationError, match="NNNN_name"):
        load_migrations(tmp_path)
