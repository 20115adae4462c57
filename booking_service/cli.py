"""`python -m booking_service serve|migrate|seed-demo|reconcile|defenses`.

Every connection flag can come from the environment instead (flags win):
BOOKING_DATABASE_URL, CALCOM_BASE_URL, CALCOM_API_KEY, CALCOM_WEBHOOK_SECRET,
BOOKING_DEFENSES_OFF (comma-separated names), BOOKING_TENANTS_FILE.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from aiohttp import web

from booking_service import migrate
from booking_service.app import AccessLogger, create_app
from booking_service.calcom.errors import CalcomError
from booking_service.calcom.models import parse_instant
from booking_service.context import close_context, open_context
from booking_service.db import DatabaseURLError, create_engine, session_factory
from booking_service.flows.reconcile import reconcile
from booking_service.pii import install_redaction
from booking_service.settings import DEFENSE_NAMES, Defenses, Settings
from booking_service.tenants import TenantConfigError, demo_tenants, load_tenants, sync_tenants

DESCRIPTION = """\
Reference booking service for calharness: a voice agent's function calls (Retell style) book,
cancel and reschedule appointments in Cal.com, with every duplicate-prevention defense
switchable by name so the harness can prove it catches its absence.
"""

EPILOG = f"""\
defenses (all on by default; switch off with --defense-off or BOOKING_DEFENSES_OFF):
  {", ".join(DEFENSE_NAMES)}

examples:
  python -m fake_calcom &                                   # a fake Cal.com on :8787
  python -m booking_service serve --port 8080
  python -m booking_service serve --defense-off freshness,slot_lock
  python -m booking_service migrate upgrade --database-url mysql+pymysql://root@127.0.0.1/booking
  python -m booking_service reconcile --repair
"""


#: The settings a flag falls back to when neither it nor its environment variable is given.
DEFAULTS = Settings()


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _add_connection_flags(parser: argparse.ArgumentParser, *, calcom: bool = True) -> None:
    parser.add_argument(
        "--database-url",
        default=_env("BOOKING_DATABASE_URL", DEFAULTS.database_url),
        help="sqlite:///file.db, mysql+pymysql://user@host/db or postgresql://… (env BOOKING_DATABASE_URL; default %(default)s)",
    )
    parser.add_argument(
        "--tenants",
        type=Path,
        default=_env("BOOKING_TENANTS_FILE"),
        help="tenants JSON (companies, branches, services; env BOOKING_TENANTS_FILE; default: the demo tenants)",
    )
    if calcom:
        parser.add_argument(
            "--calcom-url",
            default=_env("CALCOM_BASE_URL", DEFAULTS.calcom_base_url),
            help="Cal.com API base URL (env CALCOM_BASE_URL; default %(default)s)",
        )
        parser.add_argument(
            "--calcom-api-key",
            default=_env("CALCOM_API_KEY", DEFAULTS.calcom_api_key),
            help="Cal.com API key for companies without their own (env CALCOM_API_KEY)",
        )
        parser.add_argument(
            "--calcom-timeout",
            type=float,
            default=float(_env("CALCOM_TIMEOUT_S", "10") or 10),
            help="seconds before a Cal.com call counts as timed out (default %(default)s)",
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m booking_service",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--log-level", default=_env("BOOKING_LOG_LEVEL", "INFO"), help="default %(default)s"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser(
        "serve", help="run the HTTP service", description="Run the booking service over HTTP."
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="interface to listen on (default %(default)s)"
    )
    serve.add_argument("--port", type=int, default=8080, help="TCP port (default %(default)s)")
    _add_connection_flags(serve)
    serve.add_argument(
        "--webhook-secret",
        default=_env(
            "CALCOM_WEBHOOK_SECRET", DEFAULTS.webhook_secret
        ),
        help="secret of the Cal.com webhook subscription (env CALCOM_WEBHOOK_SECRET)",
    )
    serve.add_argument(
        "--defense-off",
        action="append",
        default=[],
        metavar="NAME[,NAME]",
        help="switch a defense off (repeatable, or a comma list; env BOOKING_DEFENSES_OFF)",
    )
    serve.add_argument(
        "--no-migrate", action="store_true", help="do not run migrations on start-up"
    )
    for flag, field, what in (
        ("--db-connect-timeout", "db_connect_timeout_s", "connecting to MySQL/MariaDB"),
        ("--db-read-timeout", "db_read_timeout_s", "each answer of MySQL/MariaDB"),
        ("--db-pool-timeout", "db_pool_timeout_s", "a pooled database connection"),
        ("--slot-lock-timeout", "slot_lock_timeout_s", "a slot's lock"),
    ):
        env = "BOOKING_" + flag.removeprefix("--").replace("-", "_").upper()
        serve.add_argument(
            flag,
            dest=field,
            type=float,
            default=float(_env(env) or getattr(DEFAULTS, field)),
            metavar="SECONDS",
            help=f"longest wait for {what} (env {env}; default %(default)g)",
        )
    serve.add_argument(
        "--test-control-token",
        default=_env("BOOKING_TEST_CONTROL_TOKEN"),
        metavar="TOKEN",
        help="enable the test-control endpoints under /_test/ (defenses, clock, failpoints, "
        "state, reset — for calharness; they can wipe the database: never in production), "
        "guarded by this bearer token (env BOOKING_TEST_CONTROL_TOKEN)",
    )

    mig = commands.add_parser("migrate", help="upgrade or downgrade the database schema")
    mig.add_argument("direction", nargs="?", choices=("upgrade", "downgrade"), default="upgrade")
    mig.add_argument(
        "--revision", help="target revision (default: head for upgrade, base for downgrade)"
    )
    _add_connection_flags(mig, calcom=False)

    seed = commands.add_parser(
        "seed-demo", help="migrate and write the tenants (demo tenants by default) to the database"
    )
    _add_connection_flags(seed, calcom=False)
    seed.add_argument("--print", action="store_true", help="also print the tenants JSON")

    rec = commands.add_parser("reconcile", help="compare local appointments with Cal.com bookings")
    _add_connection_flags(rec)
    rec.add_argument(
        "--repair", action="store_true", help="import missing bookings and cancel orphans locally"
    )
    rec.add_argument(
        "--from", dest="window_from", help="window start, ISO-8601 (default: now - 1 day)"
    )
    rec.add_argument("--to", dest="window_to", help="window end, ISO-8601 (default: now + 90 days)")

    commands.add_parser("defenses", help="list the defense names")
    return parser


def _settings(args: argparse.Namespace, **extra: object) -> Settings:
    return Settings(
        database_url=args.database_url,
        calcom_base_url=getattr(
            args, "calcom_url", DEFAULTS.calcom_base_url
        ),
        calcom_api_key=getattr(
            args, "calcom_api_key", DEFAULTS.calcom_api_key
        ),
        calcom_timeout_s=getattr(args, "calcom_timeout", 10.0),
        tenants=args.tenants,
        **extra,  # type: ignore[arg-type]
    )


async def _migrate(args: argparse.Namespace) -> int:
    engine = create_engine(args.database_url)
    try:
        if args.direction == "upgrade":
            await migrate.upgrade(engine, args.revision or "head")
        else:
            await migrate.downgrade(engine, args.revision or "base")
        print(f"database at revision {await migrate.current_revision(engine) or 'base (empty)'}")
    finally:
        await engine.dispose()
    return 0


async def _seed(args: argparse.Namespace) -> int:
    engine = create_engine(args.database_url)
    try:
        await migrate.upgrade(engine)
        doc = load_tenants(args.tenants)
        directory = await sync_tenants(session_factory(engine), doc, Settings().calcom_api_key)
    finally:
        await engine.dispose()
    for company in directory.companies:
        print(
            f"company {company.id}: {company.name} — {len(company.branches)} branch(es), {len(company.services)} service(s)"
        )
    if args.print:
        print(json.dumps(doc if args.tenants else demo_tenants(), indent=2, ensure_ascii=False))
    return 0


async def _reconcile(args: argparse.Namespace) -> int:
    window = {}
    for name, raw in (("window_start", args.window_from), ("window_end", args.window_to)):
        if raw:
            instant = parse_instant(raw)
            if instant is None:
                print(f"error: {raw!r} is not an ISO-8601 timestamp", file=sys.stderr)
                return 2
            window[name] = instant
    ctx = await open_context(_settings(args))
    try:
        report = await reconcile(ctx, repair=args.repair, **window)
    except CalcomError as exc:
        print(f"error: Cal.com could not be read ({exc})", file=sys.stderr)
        return 1
    finally:
        await close_context(ctx)
    print(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    return 0


def _serve(args: argparse.Namespace) -> int:
    names = [*args.defense_off, _env("BOOKING_DEFENSES_OFF", "") or ""]
    try:
        defenses = Defenses.with_off(",".join(names))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    settings = _settings(
        args,
        webhook_secret=args.webhook_secret,
        defenses=defenses,
        migrate_on_startup=not args.no_migrate,
        test_control_token=args.test_control_token or None,
        db_connect_timeout_s=args.db_connect_timeout_s,
        db_read_timeout_s=args.db_read_timeout_s,
        db_pool_timeout_s=args.db_pool_timeout_s,
        slot_lock_timeout_s=args.slot_lock_timeout_s,
    )
    if settings.test_control_token:
        logging.warning("test control is ON (/_test/…): this service can be wiped over HTTP")
    web.run_app(
        create_app(settings),
        access_log_class=AccessLogger,
        host=args.host,
        port=args.port,
        print=lambda text: logging.info("%s", text),
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Database drivers log SQL parameters (customers' details) at DEBUG: never let them through.
    for noisy in ("aiosqlite", "aiomysql", "asyncpg", "sqlalchemy.engine"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    install_redaction()
    try:
        if args.command == "defenses":
            print("\n".join(DEFENSE_NAMES))
            return 0
        if args.command == "serve":
            return _serve(args)
        runner = {"migrate": _migrate, "seed-demo": _seed, "reconcile": _reconcile}[args.command]
        return asyncio.run(runner(args))
    except (DatabaseURLError, TenantConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except sa.exc.SQLAlchemyError as exc:
        print(f"error: database: {getattr(exc, 'orig', None) or exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
