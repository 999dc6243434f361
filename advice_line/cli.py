"""The ``advice-line`` console command.

Every subcommand reads the same settings (``ADVICE_LINE_*`` environment variables and an
optional config file): ``ADVICE_LINE_DATA_DIR`` for the embedded stores,
``ADVICE_LINE_DATABASE_URL`` and ``ADVICE_LINE_REDIS_URL`` for external servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import asyncpg
import click
import structlog
from aiohttp import web
from redis.asyncio import Redis

from advice_line import audit, demo, heap, organisations, users
from advice_line.logsetup import configure_logging
from advice_line.migrate import migrate as apply_migrations
from advice_line.problems import Problem
from advice_line.roles import ORGANISATION_KINDS, ROLES, TIER_NAMES
from advice_line.settings import Settings, SettingsError, load_settings
from advice_line.stores import open_stores
from advice_line.validation import ValidationFailed

T = TypeVar("T")
log = structlog.get_logger("advice_line.cli")
#: How long a production node keeps serving after SIGTERM while /readyz says 503: long
#: enough for the load balancer's health check (deploy/haproxy.cfg: out within about 1.5 s)
#: to stop sending it new connections (docs/operations.md, "Draining, restarts and upgrades").
PRODUCTION_DRAIN_SECONDS = 5.0
CLI_ACTOR = audit.Actor(None, "cli:" + os.environ.get("USER", "unknown"))


def _settings(**overrides: Any) -> Settings:
    try:
        settings = load_settings(
            os.environ, overrides={k: v for k, v in overrides.items() if v is not None}
        )
    except SettingsError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    configure_logging(settings.log_format, settings.log_level)
    return settings


def _with_stores(settings: Settings, work: Callable[[asyncpg.Pool, Redis], Awaitable[T]], *,
                 run_migrations: bool | None = None) -> T:  # fmt: skip
    async def run() -> T:
        async with open_stores(settings, run_migrations=run_migrations) as (pool, redis, _urls):
            return await work(pool, redis)

    try:
        return asyncio.run(run())
    except Problem as problem:
        click.echo(
            f"error: {problem.title}" + (f": {problem.detail}" if problem.detail else ""), err=True
        )
        for e in problem.errors or []:
            where = f"line {e['line']}, " if "line" in e else ""
            click.echo(f"  {where}{e['field']}: {e['message']}", err=True)
        sys.exit(1)
    except ValidationFailed as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """The advice line: 24/7 advice for palliative care at home."""


@main.command()
@click.option("--host", help="Address to listen on (default 127.0.0.1, or ADVICE_LINE_HOST).")
@click.option("--port", type=int, help="Port to listen on (default 8080, or ADVICE_LINE_PORT).")
@click.option(
    "--demo", "with_demo", is_flag=True, help="Seed the demo data first and print the logins."
)
@click.option(
    "--drain-seconds",
    type=click.FloatRange(0, 300),
    help="After SIGTERM, keep serving this long with /readyz answering 503 before closing "
    "WebSockets (default 5 in production, else 0).",
)
def serve(host: str | None, port: int | None, with_demo: bool, drain_seconds: float | None) -> None:
    """Run the service until SIGINT/SIGTERM, then drain and shut down gracefully."""
    from advice_line.app import create_app  # imported late: the web layer is heavier
    from advice_line.appkeys import DB

    settings = _settings(host=host, port=port)
    if drain_seconds is None:
        drain_seconds = PRODUCTION_DRAIN_SECONDS if settings.production else 0.0
    app = create_app(settings)

    async def announce(app: web.Application) -> None:
        if with_demo:
            async with app[DB].acquire() as conn:
                await demo.seed(conn)
        url = f"http://{settings.host}:{settings.port}/"
        click.echo(f"\nThe advice line is running at {url}", err=True)
        if with_demo:
            _print_logins()

    app.on_startup.append(announce)
    _run(_serve_until_stopped(app, settings, drain_seconds), settings.event_loop)


def _run(main: Coroutine[Any, Any, None], event_loop: str) -> None:
    """Run the node on the configured event loop (asyncio's own where uvloop is missing)."""
    if event_loop == "uvloop":
        try:
            import uvloop
        except ImportError:
            log.warning("serve.uvloop_missing", using="asyncio")
        else:
            uvloop.run(main)
            return
    asyncio.run(main)


async def _serve_until_stopped(app: web.Application, settings: Settings, drain: float) -> None:
    """Serve until SIGTERM or SIGINT; then drain: ``/readyz`` answers 503 at once, so load
    balancers send no new connections here, while everything keeps working for ``drain``
    seconds (a second signal cuts it short). Then stop listening, close the WebSockets with
    1001 (clients resume on another node), finish requests in flight (at most 10 s) and
    release the stores. SIGKILL skips all of this; nothing durable depends on it."""
    from advice_line.appkeys import DRAINING

    runner = web.AppRunner(app, access_log=None, shutdown_timeout=10)
    await runner.setup()
    heap.settle()  # started: what lives now lives as long as the node
    try:
        await web.TCPSite(runner, settings.host, settings.port).start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        app[DRAINING].set()
        log.info("node.draining", drain_seconds=drain)
        stop.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), drain)
        log.info("node.stopping")
    finally:
        await runner.cleanup()


def _print_logins() -> None:
    click.echo(f"Demo logins (password for all: {demo.DEMO_PASSWORD}):", err=True)
    for username, role, name in demo.login_table():
        click.echo(f"  {username:<20} {role:<26} {name}", err=True)


@main.command("migrate")
def migrate_command() -> None:
    """Apply pending schema migrations (safe to run on several nodes at once)."""
    settings = _settings()

    async def work(pool: asyncpg.Pool, _redis: Redis) -> list[int]:
        async with pool.acquire() as conn:
            return await apply_migrations(conn)

    applied = _with_stores(settings, work, run_migrations=False)
    click.echo(f"applied migrations: {applied}" if applied else "the schema is up to date")


@main.command("demo")
def demo_command() -> None:
    """Seed the demo data (idempotent) and print the logins."""
    settings = _settings()

    async def work(pool: asyncpg.Pool, _redis: Redis) -> dict[str, int]:
        async with pool.acquire() as conn:
            return await demo.seed(conn)

    added = _with_stores(settings, work, run_migrations=True)
    click.echo("added: " + ", ".join(f"{v} {k}" for k, v in added.items()))
    _print_logins()


@main.group("user")
def user_group() -> None:
    """Create, list, disable and enable users."""


def _read_password() -> str:
    if sys.stdin.isatty():
        return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    line = sys.stdin.readline().rstrip("\n")
    if not line:
        click.echo("error: no password on standard input", err=True)
        sys.exit(1)
    return line


@user_group.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--tier", type=click.Choice(TIER_NAMES), help="Advisors only.")
@click.option("--organisation", help="Organisation name (all roles but admin).")
@click.option("--display-name", help="Full name as others see it (default: the username).")
def user_add(
    username: str, role: str, tier: str | None, organisation: str | None, display_name: str | None
) -> None:
    """Create a user; the password is read from standard input or prompted for."""
    settings = _settings()
    password = _read_password()

    async def work(pool: asyncpg.Pool, _redis: Redis) -> dict[str, Any]:
        async with pool.acquire() as conn:
            org_id = None
            if organisation:
                org = await organisations.by_name(conn, organisation)
                if org is None:
                    raise Problem(
                        422,
                        "validation",
                        "Unknown organisation",
                        f"no organisation named {organisation!r}",
                    )
                org_id = org["id"]
            from advice_line.validation import validate

            data = validate(users.CREATE_SCHEMA, {
                "username": username.lower(), "display_name": display_name or username, "password": password,
                "role": role, "tier": tier, "organisation_id": org_id,
            })  # fmt: skip
            return await users.create(conn, CLI_ACTOR, data)

    user = _with_stores(settings, work)
    click.echo(f"created user {user['username']} (id {user['id']}, {user['role']})")


@user_group.command("password")
@click.argument("username")
def user_password(username: str) -> None:
    """Set a user's password (read from standard input or prompted for); ends their sessions."""
    settings = _settings()
    password = _read_password()

    async def work(pool: asyncpg.Pool, _redis: Redis) -> None:
        async with pool.acquire() as conn:
            found = await users.by_username(conn, username.lower())
            if found is None:
                raise Problem(404, "not-found", "Unknown user", f"no user named {username!r}")
            await users.set_password(conn, CLI_ACTOR, found["id"], password)

    _with_stores(settings, work)
    click.echo(f"password changed for {username}; their sessions have ended")


@user_group.command("list")
@click.option("--role", type=click.Choice(ROLES))
def user_list(role: str | None) -> None:
    """List users."""
    settings = _settings()

    async def work(pool: asyncpg.Pool, _redis: Redis) -> list[dict[str, Any]]:
        async with pool.acquire() as conn:
            return await users.list_all(conn, role=role)

    for u in _with_stores(settings, work):
        state = "disabled" if u["disabled"] else "active"
        click.echo(f"{u['username']:<22} {u['role']:<12} {u['tier'] or '':<13} "
                   f"{u['organisation_name'] or '':<34} {state}")  # fmt: skip


def _set_disabled(username: str, disabled: bool) -> None:
    settings = _settings()

    async def work(pool: asyncpg.Pool, redis: Redis) -> None:
        async with pool.acquire() as conn:
            found = await users.by_username(conn, username.lower())
            if found is None:
                raise Problem(404, "not-found", "Unknown user", f"no user named {username!r}")
            await users.update(conn, CLI_ACTOR, found["id"], {"disabled": disabled})

    _with_stores(settings, work)
    click.echo(f"{'disabled' if disabled else 'enabled'} {username}")


@user_group.command("disable")
@click.argument("username")
def user_disable(username: str) -> None:
    """Disable a user and end their sessions."""
    _set_disabled(username, True)


@user_group.command("enable")
@click.argument("username")
def user_enable(username: str) -> None:
    """Enable a disabled user again."""
    _set_disabled(username, False)


@main.group("org")
def org_group() -> None:
    """Create and list organisations."""


@org_group.command("add")
@click.argument("name")
@click.option("--kind", type=click.Choice(ORGANISATION_KINDS), required=True)
def org_add(name: str, kind: str) -> None:
    """Create an organisation."""
    settings = _settings()

    async def work(pool: asyncpg.Pool, _redis: Redis) -> dict[str, Any]:
        async with pool.acquire() as conn:
            return await organisations.create(conn, CLI_ACTOR, name, kind)

    org = _with_stores(settings, work)
    click.echo(f"created organisation {org['name']} (id {org['id']}, {org['kind']})")


@org_group.command("list")
def org_list() -> None:
    """List organisations."""
    settings = _settings()

    async def work(pool: asyncpg.Pool, _redis: Redis) -> list[dict[str, Any]]:
        async with pool.acquire() as conn:
            return await organisations.list_all(conn)

    for org in _with_stores(settings, work):
        click.echo(f"{org['id']:>5}  {org['kind']:<12} {org['name']}")


@main.group("rota")
def rota_group() -> None:
    """Import and export duty shifts (CSV: tier,clinician,start,end in local time)."""


@rota_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option(
    "--dry-run", is_flag=True, help="Check the file and show what would change; apply nothing."
)
@click.option(
    "--rota-id", type=int, help="Put the shifts in this rota (default: the tier's import rota)."
)
def rota_import(path: str, dry_run: bool, rota_id: int | None) -> None:
    """Import shifts from a CSV file: all rows or none; every bad row is named by line."""
    from pathlib import Path

    from tqdm import tqdm

    from advice_line import rota_exchange

    settings = _settings()
    data = Path(path).read_bytes()
    rows = max(data.count(b"\n") - 1, 0)

    async def work(pool: asyncpg.Pool, _redis: Redis) -> rota_exchange.ImportResult:
        with tqdm(total=rows, unit="row", desc="importing", disable=dry_run or rows < 1000,
                  file=sys.stderr) as bar:  # fmt: skip
            async with pool.acquire() as conn:
                return await rota_exchange.import_csv(
                    conn, CLI_ACTOR, data, dry_run=dry_run, rota_id=rota_id, progress=bar.update
                )

    result = _with_stores(settings, work)
    verb = "would add" if dry_run else "added"
    click.echo(f"{result.rows} rows: {verb} {len(result.added)}, unchanged {len(result.unchanged)}")


@rota_group.command("export")
@click.option("--tier", type=click.Choice(TIER_NAMES), help="One tier (default: all).")
@click.option("--from", "start", help="RFC 3339 instant (default: now).")
@click.option("--days", type=click.IntRange(1, 400), default=90, show_default=True)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True),
    help="File (default: standard output).",
)
def rota_export(tier: str | None, start: str | None, days: int, output: str | None) -> None:
    """Export the final schedule as CSV (reads back the same with `rota import`)."""
    import datetime as dt
    from pathlib import Path

    from advice_line import rota_exchange

    settings = _settings()
    try:
        begin = dt.datetime.fromisoformat(start) if start else dt.datetime.now(dt.UTC)
    except ValueError:
        raise click.BadParameter("must be an RFC 3339 date-time", param_hint="--from") from None
    if begin.tzinfo is None:
        raise click.BadParameter("must include a time-zone offset", param_hint="--from")

    async def work(pool: asyncpg.Pool, _redis: Redis) -> str:
        async with pool.acquire() as conn:
            tiers = [tier] if tier else list(TIER_NAMES)
            return await rota_exchange.export_csv(
                conn, tiers, begin, begin + dt.timedelta(days=days)
            )

    text = _with_stores(settings, work)
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)


@main.group("fees")
def fees_group() -> None:
    """Fee schedules (TOML documents) and monthly fee statements (docs/fees.md)."""


@fees_group.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option(
    "--allow-past",
    is_flag=True,
    help="Accept an effective date before today (changes issued statements).",
)
def fees_load(path: str, allow_past: bool) -> None:
    """Validate a fee schedule document and store it as a new version (never changed after)."""
    from pathlib import Path

    from advice_line import fee_store

    settings = _settings()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise click.BadParameter("the file is not UTF-8 text", param_hint="PATH") from None

    async def work(pool: asyncpg.Pool, _redis: Redis) -> dict[str, Any]:
        async with pool.acquire() as conn:
            return await fee_store.store_schedule(conn, CLI_ACTOR, text, allow_past=allow_past)

    row = _with_stores(settings, work)
    click.echo(f"stored fee schedule {row['version']} (in force from {row['effective_from']}, "
               f"sha256 {row['sha256'][:12]})")  # fmt: skip


@fees_group.command("list")
def fees_list() -> None:
    """List the stored fee schedule versions, the earliest effective first."""
    from advice_line import fee_store

    settings = _settings()

    async def work(pool: asyncpg.Pool, _redis: Redis) -> list[dict[str, Any]]:
        async with pool.acquire() as conn:
            return await fee_store.list_schedules(conn)

    rows = _with_stores(settings, work)
    if not rows:
        click.echo("no fee schedules stored")
    for r in rows:
        click.echo(f"{r['effective_from']}  {r['version']:<24} {r['sha256'][:12]}  "
                   f"{r['uploaded_by']:<20} {r['description']}")  # fmt: skip


@fees_group.command("statement")
@click.option("--month", required=True, help="The month, YYYY-MM (Danish local time).")
@click.option("--clinician", help="One clinician, by username.")
@click.option("--organisation", type=int, help="The clinicians of one organisation, by id.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "csv"]), default="text", show_default=True
)
def fees_statement(month: str, clinician: str | None, organisation: int | None, fmt: str) -> None:
    """A month's fee statement: per clinician, with totals that equal the sum of the lines."""
    from advice_line import fee_store
    from advice_line.fees.period import Month
    from advice_line.fees.render import statement_csv, statement_text

    settings = _settings()
    try:
        period = Month.parse(month)
    except ValueError:
        raise click.BadParameter("must be a month YYYY-MM", param_hint="--month") from None
    if clinician and organisation is not None:
        raise click.UsageError("give --clinician or --organisation, not both")

    async def work(pool: asyncpg.Pool, _redis: Redis) -> str:
        async with pool.acquire() as conn:
            scope = fee_store.Scope()
            if clinician:
                found = await users.by_username(conn, clinician.lower())
                if found is None:
                    raise Problem(404, "not-found", "Unknown user", f"no user named {clinician!r}")
                scope = fee_store.Scope("clinician", found["id"])
            elif organisation is not None:
                if not await conn.fetchval(
                    "SELECT 1 FROM organisations WHERE id = $1", organisation
                ):
                    raise Problem(
                        404, "not-found", "Unknown organisation", f"no organisation {organisation}"
                    )
                scope = fee_store.Scope("organisation", organisation)
            found_statement, names = await fee_store.statement(conn, period, scope)
        render = statement_csv if fmt == "csv" else statement_text
        return render(found_statement, names)

    click.echo(_with_stores(settings, work), nl=False)


@main.group("report")
def report_group() -> None:
    """Evaluation reports for a period (local dates, Danish time; --to not included)."""


def _report_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The filter every report command takes."""
    for option in reversed([
        click.option("--from", "start", required=True, metavar="YYYY-MM-DD", help="First day."),
        click.option("--to", "end", required=True, metavar="YYYY-MM-DD", help="Day after the last."),
        click.option("--organisation", type=click.IntRange(1), help="One organisation's id."),
        click.option("--tier", type=click.IntRange(1, len(TIER_NAMES)),
                     help="Only calls that reached this tier (1-3)."),
    ]):  # fmt: skip
        command = option(command)
    return command


def _report_filter(start: str, end: str, organisation: int | None, tier: int | None) -> Any:
    import datetime as dt

    from advice_line.evaluation import FilterError, parse_filter

    query = {"from": start, "to": end, "organisation": str(organisation or ""),
             "tier": str(tier or "")}  # fmt: skip
    try:
        return parse_filter(query, dt.date.today())
    except FilterError as exc:
        raise click.UsageError(
            "; ".join(f"--{e['field']}: {e['message']} ({e['code']})" for e in exc.errors)
        ) from None


async def _known_organisation(conn: asyncpg.Connection, organisation: int | None) -> None:
    if organisation is not None and not await conn.fetchval(
        "SELECT 1 FROM organisations WHERE id = $1", organisation
    ):
        raise Problem(400, "bad-filter", "Unknown organisation", f"no organisation {organisation}")


def _emit_table(table: Any, fmt: str, out: str | None) -> None:
    import csv
    import io
    from pathlib import Path

    from advice_line.evaluation.table import aligned

    if fmt == "csv":
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(table.csv_rows())
        text = buffer.getvalue()
    else:
        text = aligned(table) + "\n"
    if out:
        Path(out).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)


def _load_report(start: str, end: str, organisation: int | None, tier: int | None) -> Any:
    from advice_line import evaluation_store

    settings = _settings()
    f = _report_filter(start, end, organisation, tier)

    async def work(pool: asyncpg.Pool, _redis: Redis) -> Any:
        async with pool.acquire() as conn:
            await _known_organisation(conn, f.organisation_id)
            return await evaluation_store.load_report(conn, f)

    return _with_stores(settings, work)


_FORMAT = click.option("--format", "fmt", type=click.Choice(["text", "csv"]), default="text",
                       show_default=True)  # fmt: skip
_OUT = click.option("--out", "-o", type=click.Path(dir_okay=False, writable=True),
                    help="File (default: standard output).")  # fmt: skip


@report_group.command("summary")
@_report_options
@_FORMAT
@_OUT
def report_summary(start: str, end: str, organisation: int | None, tier: int | None, fmt: str,
                   out: str | None) -> None:  # fmt: skip
    """The key figures: calls, answer times, escalation, outcomes, died where wished."""
    _emit_table(_load_report(start, end, organisation, tier).table("summary"), fmt, out)


@report_group.command("table")
@click.argument("name")
@_report_options
@_FORMAT
@_OUT
def report_table(name: str, start: str, end: str, organisation: int | None, tier: int | None,
                 fmt: str, out: str | None) -> None:  # fmt: skip
    """One table of the report (heatmap, answer_times, escalation, ...)."""
    from advice_line.evaluation import TABLE_NAMES

    if name not in TABLE_NAMES:
        raise click.BadParameter("must be one of " + ", ".join(TABLE_NAMES), param_hint="NAME")
    _emit_table(_load_report(start, end, organisation, tier).table(name), fmt, out)


@report_group.command("chart")
@click.argument("name")
@_report_options
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False, writable=True),
              help="File ending in .svg or .png.")  # fmt: skip
@click.option("--language", type=click.Choice(["da", "en"]), help="Labels (default: the setting).")
def report_chart(name: str, start: str, end: str, organisation: int | None, tier: int | None,
                 out: str, language: str | None) -> None:  # fmt: skip
    """Draw one chart (heatmap, answer_times, escalation, died_where_wished) to a file."""
    from pathlib import Path

    from advice_line import report_charts
    from advice_line.i18n import Catalogue

    if name not in report_charts.CHARTS:
        raise click.BadParameter("must be one of " + ", ".join(report_charts.CHARTS), param_hint="NAME")  # fmt: skip
    fmt = Path(out).suffix.lower().lstrip(".")
    if fmt not in report_charts.FORMATS:
        raise click.BadParameter("must end in .svg or .png", param_hint="--out")
    report = _load_report(start, end, organisation, tier)
    catalogue = Catalogue.load()
    lang = language or _settings().default_language

    def t(key: str, **values: object) -> str:
        return catalogue.translate(lang, key, **values)

    Path(out).write_bytes(report_charts.render(report, name, fmt, t))
    click.echo(f"wrote {out}", err=True)


@report_group.command("extract")
@_report_options
@click.option("--part", type=click.Choice(["episodes", "courses"]), default="episodes",
              show_default=True)  # fmt: skip
@_OUT
def report_extract(start: str, end: str, organisation: int | None, tier: int | None, part: str,
                   out: str | None) -> None:  # fmt: skip
    """The pseudonymised research extract as CSV (needs ADVICE_LINE_RESEARCH_PSEUDONYM_KEY);
    the export is written to the audit log."""
    from advice_line import evaluation_store

    settings = _settings()
    if settings.research_pseudonym_key is None:
        click.echo("error: set ADVICE_LINE_RESEARCH_PSEUDONYM_KEY to make research extracts",
                   err=True)  # fmt: skip
        sys.exit(1)
    key = settings.research_pseudonym_key.encode()
    f = _report_filter(start, end, organisation, tier)

    async def work(pool: asyncpg.Pool, _redis: Redis) -> Any:
        async with pool.acquire() as conn:
            await _known_organisation(conn, f.organisation_id)
            return await evaluation_store.research_extract(conn, f, part, key, CLI_ACTOR)

    _emit_table(_with_stores(settings, work), "csv", out)


@main.group("retention")
def retention_group() -> None:
    """Delete records past their retention period (docs/retention.md)."""


@retention_group.command("run")
@click.option("--dry-run", is_flag=True, help="Only say what would go; delete nothing.")
@click.option("--batch-size", type=click.IntRange(1, 100000), default=500, show_default=True,
              help="Records per transaction (each batch writes one audit entry).")  # fmt: skip
def retention_run(dry_run: bool, batch_size: int) -> None:
    """Delete (or with --dry-run count) what is past its period, kind by kind; safe to
    schedule (one run at a time). Prints counts and cutoffs, never names."""
    from advice_line.retention.run import KindResult, policy_of, run

    settings = _settings()
    policy = policy_of(settings)

    def report(r: KindResult) -> None:
        verb = "would go" if dry_run else f"deleted in {r.batches} batch(es)"
        click.echo(f"{r.kind.value:<20} {r.count:>7} {verb}  (period {r.period}, "
                   f"dated before {r.cutoff.isoformat()})")  # fmt: skip

    async def work(pool: asyncpg.Pool, _redis: Redis) -> int:
        async with pool.acquire() as conn:
            found = await run(conn, policy, dry_run=dry_run, actor=CLI_ACTOR,
                              batch_size=batch_size, report=report)  # fmt: skip
        return sum(r.count for r in found)

    total = _with_stores(settings, work)
    click.echo(f"total: {total} {'would go (dry run)' if dry_run else 'deleted'}")


@main.group("episodes")
def episodes_group() -> None:
    """Advice episodes (docs/episodes.md)."""


@episodes_group.command("rebuild-facts")
@click.option(
    "--check", is_flag=True, help="Only report differences (exit 1 if any); change nothing."
)
def episodes_rebuild_facts(check: bool) -> None:
    """Recompute the stored facts of every closed episode from its timeline, and report (or,
    without --check, fix) each row that is missing, outdated, different or not wanted."""
    from advice_line.episodes import stored_facts

    settings = _settings()

    async def work(pool: asyncpg.Pool, _redis: Redis) -> stored_facts.Rebuild:
        async with pool.acquire() as conn:
            return await stored_facts.rebuild(conn, fix=not check)

    result = _with_stores(settings, work)
    verb = "differ" if check else "fixed"
    click.echo(
        f"checked {result.checked} closed episodes: {len(result.missing)} missing, "
        f"{len(result.outdated)} outdated, {len(result.differing)} differing, "
        f"{len(result.extra)} stored for open consultations; {result.differences} {verb}"
    )
    for name in ("missing", "outdated", "differing", "extra"):
        ids = getattr(result, name)
        if ids:
            shown = ", ".join(str(i) for i in ids[:20]) + (" ..." if len(ids) > 20 else "")
            click.echo(f"  {name}: {shown}")
    if check and result.differences:
        sys.exit(1)
