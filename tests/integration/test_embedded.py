"""advice_line.embedded: PostgreSQL and Redis from the wheels, in a data dir of their own.

These tests start their own servers in a temporary directory; they never touch the shared
test servers from tests/conftest.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from redis.asyncio import Redis
from redis.exceptions import AuthenticationError

from advice_line.embedded import EmbeddedPostgres, EmbeddedRedis

pytestmark = pytest.mark.slow

Store = EmbeddedPostgres | EmbeddedRedis


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[Store]]:
    """Every store a test creates is listed here and stopped afterwards, whatever happened."""
    stores: list[Store] = []
    yield stores
    for store in reversed(stores):
        with contextlib.suppress(Exception):
            store.stop()


async def start(stores: list[Store], store: Store) -> str:
    stores.append(store)
    return await asyncio.to_thread(store.start)


async def stop(store: Store) -> None:
    await asyncio.to_thread(store.stop)


def listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def running(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie waiting to be reaped."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return status.rsplit(")", 1)[1].split()[0] != "Z"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def pg_fetch(url: str, query: str) -> object:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(query)
    finally:
        await conn.close()


async def pg_execute(url: str, query: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(query)
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def redis_client(url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(url, decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()


# PostgreSQL -----------------------------------------------------------------------------


async def test_postgres_data_survives_a_restart(tmp_path: Path, started: list[Store]) -> None:
    root = tmp_path / "postgres"
    first = EmbeddedPostgres(root)
    url = await start(started, first)
    assert first.started_here
    assert first.port is not None
    assert listening(first.port)
    assert url.startswith("postgresql://postgres:")
    assert url.endswith(f"@127.0.0.1:{first.port}/postgres")
    await pg_execute(url, "CREATE TABLE kept (note text); INSERT INTO kept VALUES ('still here')")
    pid = int((root / "data" / "postmaster.pid").read_text().split()[0])
    assert running(pid)

    port = first.port
    await stop(first)

    assert not first.started_here
    assert not listening(port)
    assert not running(pid)
    again = EmbeddedPostgres(root)
    url = await start(started, again)
    assert again.started_here
    assert await pg_fetch(url, "SELECT note FROM kept") == "still here"


async def test_postgres_password_file_is_private(tmp_path: Path, started: list[Store]) -> None:
    pg = EmbeddedPostgres(tmp_path / "postgres")
    url = await start(started, pg)

    password_file = tmp_path / "postgres" / "password"
    password = password_file.read_text().strip()
    assert mode(password_file) == 0o600
    assert len(password) >= 16
    assert f":{password}@" in url
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(url.replace(password, "wrong-password"))


async def test_second_postgres_object_reuses_the_running_server(
    tmp_path: Path, started: list[Store]
) -> None:
    root = tmp_path / "postgres"
    first = EmbeddedPostgres(root)
    first_url = await start(started, first)
    second = EmbeddedPostgres(root)

    second_url = await start(started, second)

    assert second_url == first_url
    assert second.port == first.port
    assert not second.started_here
    await stop(second)
    assert first.port is not None
    assert listening(first.port)
    assert await pg_fetch(first_url, "SELECT 1") == 1

    await stop(first)
    assert not listening(first.port)


# Redis ----------------------------------------------------------------------------------


async def test_redis_data_survives_a_restart(tmp_path: Path, started: list[Store]) -> None:
    root = tmp_path / "redis"
    first = EmbeddedRedis(root)
    url = await start(started, first)
    assert first.started_here
    assert first.port is not None
    assert listening(first.port)
    async with redis_client(url) as client:
        assert await client.set("al:kept", "still here")
    pid = int((root / "redis.pid").read_text())
    assert running(pid)

    port = first.port
    await stop(first)

    assert not first.started_here
    assert not listening(port)
    assert not running(pid)
    again = EmbeddedRedis(root)
    url = await start(started, again)
    assert again.started_here
    async with redis_client(url) as client:
        assert await client.get("al:kept") == "still here"


async def test_redis_stopped_right_after_it_started_is_gone(
    tmp_path: Path, started: list[Store]
) -> None:
    # The daemon answers on its port a moment before it writes its pid file; start() waits
    # for both, so a stop() at once finds the process (it left it running before).
    for n in range(5):
        redis = EmbeddedRedis(tmp_path / f"redis-{n}")
        await start(started, redis)
        pid = int((tmp_path / f"redis-{n}" / "redis.pid").read_text())
        port = redis.port
        assert port is not None
        await stop(redis)
        assert not running(pid) and not listening(port)


async def test_redis_password_file_is_private(tmp_path: Path, started: list[Store]) -> None:
    rd = EmbeddedRedis(tmp_path / "redis")
    url = await start(started, rd)

    password_file = tmp_path / "redis" / "password"
    password = password_file.read_text().strip()
    assert mode(password_file) == 0o600
    assert f":{password}@" in url
    assert rd.port is not None
    with pytest.raises(AuthenticationError):
        async with redis_client(f"redis://127.0.0.1:{rd.port}/0") as client:
            await client.get("x")


async def test_second_redis_object_reuses_the_running_server(
    tmp_path: Path, started: list[Store]
) -> None:
    root = tmp_path / "redis"
    first = EmbeddedRedis(root)
    first_url = await start(started, first)
    second = EmbeddedRedis(root)

    second_url = await start(started, second)

    assert second_url == first_url
    assert not second.started_here
    await stop(second)
    async with redis_client(first_url) as client:
        assert await client.ping()

    await stop(first)
    assert first.port is not None
    assert not listening(first.port)
