"""The ``advice-line`` console command, run as a real process against the test servers."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from advice_line.passwords import verify_password
from tests.conftest import Servers, recreate_database

pytestmark = pytest.mark.slow

ADVICE_LINE = Path(sys.executable).parent / "advice-line"
PASSWORD = "a-long-enough-password"
ORG = "Hjemmeplejen Nord"


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


Run = Callable[..., Awaitable[Result]]


@pytest.fixture
async def cli_database(servers: Servers) -> str:
    """A fresh, not yet migrated database for each test."""
    return await recreate_database(servers, "advice_line_cli", migrated=False)


@pytest.fixture
def cli_env(cli_database: str, servers: Servers, tmp_path: Path) -> dict[str, str]:
    # Nothing from the caller's ADVICE_LINE_* (a config file, say) may leak into the command.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADVICE_LINE_")}
    env.update(
        ADVICE_LINE_DATABASE_URL=cli_database,
        ADVICE_LINE_REDIS_URL=servers.redis_url,
        ADVICE_LINE_REDIS_KEY_PREFIX="cli:",
        ADVICE_LINE_DATA_DIR=str(tmp_path),
        ADVICE_LINE_ENVIRONMENT="test",
    )
    return env


@pytest.fixture
def run(cli_env: dict[str, str]) -> Run:
    async def run(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> Result:
        process = await asyncio.create_subprocess_exec(
            str(ADVICE_LINE),
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**cli_env, **(env or {})},
        )
        try:
            out, err = await asyncio.wait_for(process.communicate(stdin.encode()), timeout=90)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
        assert process.returncode is not None
        return Result(process.returncode, out.decode(), err.decode())

    return run


async def count(database_url: str, table: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
    finally:
        await conn.close()


def ok(result: Result) -> Result:
    assert result.code == 0, f"exit {result.code}\nstdout:\n{result.out}\nstderr:\n{result.err}"
    return result


def user_line(listing: str, username: str) -> str:
    lines = [line for line in listing.splitlines() if line.split()[:1] == [username]]
    assert len(lines) == 1, listing
    return lines[0]


async def test_help_lists_the_subcommands(run: Run) -> None:
    result = ok(await run("--help"))

    for command in ("serve", "migrate", "demo", "user", "org"):
        assert command in result.out
    user_help = ok(await run("user", "--help"))
    for command in ("add", "list", "disable", "enable"):
        assert command in user_help.out


async def test_migrate_applies_once_then_reports_up_to_date(run: Run, cli_database: str) -> None:
    first = ok(await run("migrate"))
    assert first.out.startswith("applied migrations: [1")
    assert await count(cli_database, "schema_migrations") >= 1

    second = ok(await run("migrate"))
    assert second.out.strip() == "the schema is up to date"


async def test_org_add_then_list(run: Run) -> None:
    added = ok(await run("org", "add", ORG, "--kind", "home_care"))
    assert added.out.startswith(f"created organisation {ORG} (id ")
    assert "home_care" in added.out
    ok(await run("org", "add", "Lægehuset Fiktivvej", "--kind", "gp_practice"))

    listing = ok(await run("org", "list")).out

    assert ORG in listing
    assert "Lægehuset Fiktivvej" in listing
    assert len(listing.strip().splitlines()) == 2


async def test_org_add_refuses_an_unknown_kind(run: Run) -> None:
    result = await run("org", "add", ORG, "--kind", "pharmacy")

    assert result.code != 0
    assert "--kind" in result.err


async def test_user_add_reads_the_password_from_stdin(run: Run, cli_database: str) -> None:
    ok(await run("org", "add", ORG, "--kind", "home_care"))

    added = ok(
        await run(
            "user", "add", "Anne", "--role", "nurse", "--organisation", ORG, stdin=PASSWORD + "\n"
        )
    )

    assert added.out.startswith("created user anne (id ")
    assert "nurse" in added.out
    line = user_line(ok(await run("user", "list")).out, "anne")
    assert "nurse" in line
    assert ORG in line
    assert line.endswith("active")
    conn = await asyncpg.connect(cli_database)
    try:
        stored = await conn.fetchval("SELECT password_hash FROM users WHERE username = 'anne'")
    finally:
        await conn.close()
    assert verify_password(stored, PASSWORD)


async def test_user_list_filters_by_role(run: Run) -> None:
    ok(await run("org", "add", ORG, "--kind", "home_care"))
    ok(await run("user", "add", "anne", "--role", "nurse", "--organisation", ORG, stdin=PASSWORD))
    ok(await run("user", "add", "root", "--role", "admin", stdin=PASSWORD))

    admins = ok(await run("user", "list", "--role", "admin")).out

    assert user_line(admins, "root")
    assert "anne" not in admins


async def test_too_short_password_fails_and_creates_nothing(run: Run, cli_database: str) -> None:
    ok(await run("org", "add", ORG, "--kind", "home_care"))

    result = await run(
        "user", "add", "anne", "--role", "nurse", "--organisation", ORG, stdin="short\n"
    )

    assert result.code != 0
    assert "password" in result.err
    assert "at least 10 characters" in result.err
    assert await count(cli_database, "users") == 0
    assert "anne" not in ok(await run("user", "list")).out


async def test_missing_password_on_stdin_fails(run: Run, cli_database: str) -> None:
    ok(await run("migrate"))

    result = await run("user", "add", "root", "--role", "admin", stdin="")

    assert result.code != 0
    assert "password" in result.err
    assert await count(cli_database, "users") == 0


async def test_advisor_without_tier_fails(run: Run, cli_database: str) -> None:
    ok(await run("org", "add", ORG, "--kind", "home_care"))

    result = await run(
        "user", "add", "bent", "--role", "advisor", "--organisation", ORG, stdin=PASSWORD
    )

    assert result.code != 0
    assert "tier" in result.err
    assert await count(cli_database, "users") == 0


async def test_user_in_an_unknown_organisation_fails(run: Run) -> None:
    ok(await run("migrate"))

    result = await run(
        "user", "add", "anne", "--role", "nurse", "--organisation", "Nowhere", stdin=PASSWORD
    )

    assert result.code != 0
    assert "Nowhere" in result.err


async def test_user_disable_and_enable(run: Run) -> None:
    ok(await run("org", "add", ORG, "--kind", "home_care"))
    ok(await run("user", "add", "anne", "--role", "nurse", "--organisation", ORG, stdin=PASSWORD))

    assert ok(await run("user", "disable", "anne")).out.strip() == "disabled anne"
    assert user_line(ok(await run("user", "list")).out, "anne").endswith("disabled")

    assert ok(await run("user", "enable", "anne")).out.strip() == "enabled anne"
    assert user_line(ok(await run("user", "list")).out, "anne").endswith("active")


async def test_disable_unknown_user_fails(run: Run) -> None:
    ok(await run("migrate"))

    result = await run("user", "disable", "nobody")

    assert result.code != 0
    assert "nobody" in result.err


async def test_demo_is_idempotent(run: Run, cli_database: str) -> None:
    tables = ("organisations", "users", "patients", "audit_log", "rotas", "rota_layers")

    first = ok(await run("demo"))
    counts = {table: await count(cli_database, table) for table in tables}
    second = ok(await run("demo"))

    assert first.out.startswith("added: ")
    assert "0 organisations" not in first.out
    assert counts["organisations"] > 0
    assert counts["users"] > 0
    assert counts["patients"] > 0
    assert counts["rotas"] == 4
    assert second.out.splitlines()[0] == "added: 0 organisations, 0 users, 0 patients, 0 rotas"
    assert {table: await count(cli_database, table) for table in tables} == counts
    assert "sygeplejerske" in second.err  # the logins are printed every time


async def test_bad_setting_exits_2_naming_the_variable(run: Run) -> None:
    result = await run("migrate", env={"ADVICE_LINE_PORT": "abc"})

    assert result.code == 2
    assert "ADVICE_LINE_PORT" in result.err
    assert result.out == ""


async def test_user_password_sets_a_new_password(run: Run, cli_database: str) -> None:
    ok(await run("org", "add", ORG, "--kind", "home_care"))
    ok(await run("user", "add", "anne", "--role", "nurse", "--organisation", ORG, stdin=PASSWORD))

    changed = ok(await run("user", "password", "anne", stdin="another-long-password\n"))
    assert "anne" in changed.out

    conn = await asyncpg.connect(cli_database)
    try:
        stored = await conn.fetchval("SELECT password_hash FROM users WHERE username = 'anne'")
        audited = await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE action = 'user.password'"
        )
    finally:
        await conn.close()
    assert verify_password(stored, "another-long-password")
    assert audited == 1
    weak = await run("user", "password", "anne", stdin="short\n")
    assert weak.code != 0 and "password" in weak.err


async def test_rota_import_and_export(run: Run, cli_database: str, tmp_path: Path) -> None:
    ok(await run("org", "add", ORG, "--kind", "home_care"))
    ok(await run("user", "add", "anne", "--role", "advisor", "--tier", "senior_nurse",
                 "--organisation", ORG, stdin=PASSWORD))  # fmt: skip
    good = tmp_path / "good.csv"
    good.write_text(
        "tier,clinician,start,end\nsenior_nurse,anne,2026-11-02 08:00,2026-11-02 16:00\n"
    )

    checked = ok(await run("rota", "import", str(good), "--dry-run"))
    assert checked.out.strip() == "1 rows: would add 1, unchanged 0"
    assert await count(cli_database, "rota_overrides") == 0
    assert ok(await run("rota", "import", str(good))).out.strip() == "1 rows: added 1, unchanged 0"
    assert await count(cli_database, "rota_overrides") == 1

    bad = tmp_path / "bad.csv"
    bad.write_text("tier,clinician,start,end\nsenior_nurse,nobody,2026-11-03 08:00,x\n")
    refused = await run("rota", "import", str(bad))
    assert refused.code == 1
    assert "line 2, clinician: no user named 'nobody'" in refused.err
    assert "line 2, end:" in refused.err

    exported = ok(
        await run(
            "rota",
            "export",
            "--tier",
            "senior_nurse",
            "--from",
            "2026-11-01T00:00:00+01:00",
            "--days",
            "7",
        )
    )
    assert (
        exported.out
        == "tier,clinician,start,end\nsenior_nurse,anne,2026-11-02 08:00,2026-11-02 16:00\n"
    )
