"""`python -m calharness.load_support.service_process`: the reference booking service in a process
of its own, with settings `python -m booking_service serve` has no flags for.

A load profile scales the service's waits by its time factor (rate-limit waits, back-off, slot
lock and Cal.com timeouts: `LoadProfile.service_settings`). The served stack passes them here as
JSON, so a load run can give the service its own core and still run it exactly as the embedded
stack would (`calharness.served.ServedOptions.service_settings`).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence

from aiohttp import web

from booking_service.app import AccessLogger, create_app
from booking_service.defenses import Defenses
from booking_service.pii import install_redaction
from booking_service.settings import Settings

TOKEN_ENV = "BOOKING_TEST_CONTROL_TOKEN"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m calharness.load_support.service_process",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--calcom-url", required=True)
    parser.add_argument("--webhook-secret", required=True)
    parser.add_argument("--defense-off", default="", metavar="NAME,NAME")
    parser.add_argument("--no-migrate", action="store_true")
    parser.add_argument("--settings-json", default="{}",
                        help="further Settings fields as a JSON object (e.g. the scaled waits)")
    parser.add_argument("--log-level", default="WARNING")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=getattr(logging, args.log_level.upper(), logging.WARNING),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("aiosqlite", "aiomysql", "asyncpg", "sqlalchemy.engine"):
        logging.getLogger(noisy).setLevel(logging.WARNING)  # drivers log customers' details
    install_redaction()
    extra = json.loads(args.settings_json)
    if not isinstance(extra, dict):
        print("error: --settings-json must be a JSON object", file=sys.stderr)
        return 2
    settings = Settings(database_url=args.database_url, calcom_base_url=args.calcom_url,
                        webhook_secret=args.webhook_secret,
                        defenses=Defenses.with_off(args.defense_off),
                        migrate_on_startup=not args.no_migrate,
                        test_control_token=os.environ.get(TOKEN_ENV) or None, **extra)
    web.run_app(create_app(settings), access_log_class=AccessLogger, host="127.0.0.1",
                port=args.port, print=lambda text: logging.info("%s", text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
