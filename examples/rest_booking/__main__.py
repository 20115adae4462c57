"""`python -m examples.rest_booking …` (see --help)."""

from __future__ import annotations

import argparse
import logging
import sys

from aiohttp import web

from examples.rest_booking.app import create_app
from examples.rest_booking.settings import DEFAULT_SERVICES, MODES, Settings
from examples.rest_booking.store import DatabaseUrlError, sqlite_path

DESCRIPTION = """\
A small REST booking service on Cal.com API v2 (an example target for calharness).

  naive    the integration people write first: no call id or idempotency key, a create that
           got no answer is simply sent again, whatever booking Cal.com answers with is
           confirmed, and "no answer" is told to the caller as "failed"
  careful  the same API done right: per-slot lock and availability re-check, an idempotency
           key per request, a look-up in Cal.com instead of a blind resend, and only the
           caller's own fresh booking is confirmed
  --hold   (careful only) a slot a caller's availability check finds free (with phone=…) is
           reserved at Cal.com for that caller, so nobody else books it while they decide
"""

EPILOG = """\
example (the fake Cal.com on 8788, this service on 8090):
  python -m fake_calcom --port 8788
  python -m examples.rest_booking --port 8090 --calcom-url http://127.0.0.1:8788 \\
      --calcom-api-key cal_live_calharness_anna --database sqlite:///rest_booking.db --mode careful
  curl -s -XPOST localhost:8090/bookings -d '{"service": "Beratung", \\
      "start": "2026-03-03T09:00:00Z", "name": "Ada Lovelace", "phone": "+4915112345678"}'
"""


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number (0-65535): {text!r}")
    return int(text)


def _url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"not an http(s) URL: {text!r}")
    return text.rstrip("/")


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds: {text!r}")
    return value


def _service(text: str) -> tuple[str, int]:
    name, sep, event_type = text.rpartition("=")
    if not sep or not name.strip() or not event_type.isdigit():
        raise argparse.ArgumentTypeError(f"write NAME=EVENT_TYPE_ID (e.g. Beratung=2001), "
                                         f"got {text!r}")
    return name.strip(), int(event_type)


def _database(text: str) -> str:
    try:
        sqlite_path(text)
    except DatabaseUrlError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m examples.rest_booking",
                                     description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="interface (default: %(default)s)")
    parser.add_argument("--port", type=_port, default=8090, help="TCP port (default: %(default)s)")
    parser.add_argument("--calcom-url", type=_url, required=True,
                        help="Cal.com API base URL, e.g. a fake's http://127.0.0.1:8788")
    parser.add_argument("--calcom-api-key", required=True,
                        help="the Cal.com key bookings are made with (cal_…)")
    parser.add_argument("--calcom-read-api-key", action="append", default=[], metavar="KEY",
                        help="another host's key, only to list bookings (careful mode's "
                             "look-up: Cal.com lists only the key owner's); repeatable")
    parser.add_argument("--database", type=_database, default="sqlite:///rest_booking.db",
                        help="SQLite URL (default: %(default)s)")
    parser.add_argument("--mode", choices=MODES, default="naive",
                        help="naive or careful (default: %(default)s)")
    parser.add_argument("--hold", action="store_true",
                        help="careful mode: hold a slot at Cal.com for the caller whose "
                             "availability check found it free (slot reservations)")
    parser.add_argument("--service", type=_service, action="append", metavar="NAME=ID",
                        help="a bookable service and its Cal.com event type, repeatable "
                             f"(default: {', '.join(f'{k}={v}' for k, v in DEFAULT_SERVICES.items())})")
    parser.add_argument("--calcom-timeout", type=_positive, default=10.0, metavar="SECONDS",
                        help="give up on a Cal.com request after this long (default: %(default)s)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.calcom_api_key.startswith("cal_"):
        print("error: --calcom-api-key must be a Cal.com API key (cal_…)", file=sys.stderr)
        return 2
    if args.hold and args.mode != "careful":
        print("error: --hold needs --mode careful", file=sys.stderr)
        return 2
    settings = Settings(calcom_url=args.calcom_url, calcom_api_key=args.calcom_api_key,
                        database=args.database, mode=args.mode,
                        services=dict(args.service) if args.service else dict(DEFAULT_SERVICES),
                        calcom_read_api_keys=tuple(args.calcom_read_api_key),
                        calcom_timeout_s=args.calcom_timeout, hold=args.hold)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        web.run_app(create_app(settings), host=args.host, port=args.port,
                    print=lambda _: print(f"rest_booking ({settings.mode}"
                                          f"{', hold' if settings.hold else ''}) on "
                                          f"http://{args.host}:{args.port}", flush=True))
    except DatabaseUrlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
