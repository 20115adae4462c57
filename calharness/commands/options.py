"""Options every command spells the same way, validated before anything starts.

A bad value ends the command with one line naming the problem and the fix, exit 2, and nothing
written (`UsageError`, caught by `calharness.cli.main`). Old spellings still work, with a note
that says the new one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from booking_service.settings import DEFENSE_NAMES
from harness.target import Target, TargetError, load_target


class UsageError(ValueError):
    """Bad input to a command: the message says what and how to fix it (exit 2)."""


class _Deprecated(argparse.Action):
    """An old option name: works as the new one, and says so once."""

    def __init__(self, option_strings: list[str], dest: str, new: str = "",
                 **kwargs: Any) -> None:
        self.new = new
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        print(f"note: {option_string} is deprecated; use {self.new}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def add_database_url(parser: argparse.ArgumentParser | Any, what: str = "") -> None:
    parser.add_argument(
        "--database-url", metavar="URL",
        help=what or "the booking service's database (SQLAlchemy URL). Default: "
        "$HARNESS_DB_URL; else a fresh database on the MariaDB/MySQL server in "
        "$HARNESS_MYSQL_URL; else a MySQL container when Docker answers; else SQLite")
    parser.add_argument("--db", dest="database_url", action=_Deprecated, new="--database-url",
                        help=argparse.SUPPRESS)


def add_defense_off(parser: argparse.ArgumentParser | Any, what: str = "") -> None:
    parser.add_argument(
        "--defense-off", action="append", default=[], metavar="NAME[,NAME]",
        help=what or "switch a booking-service defense off (repeatable, or a comma list; "
        "known: " + ", ".join(DEFENSE_NAMES) + ")")


def defenses_off(values: list[str] | None) -> tuple[str, ...]:
    """`--defense-off a --defense-off b,c` → ("a", "b", "c"), every name known."""
    names = [n.strip() for value in values or () for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in DEFENSE_NAMES]
    if unknown:
        raise UsageError(f"--defense-off: unknown defense {', '.join(unknown)}; known: "
                         + ", ".join(DEFENSE_NAMES))
    return tuple(dict.fromkeys(names))


def add_target(parser: argparse.ArgumentParser | Any, what: str = "") -> None:
    parser.add_argument(
        "--target", type=Path, metavar="FILE",
        help=what or "a target file (TOML, see harness/target.py): verify that deployment "
        "through its adapter instead of the embedded stack")


def target_of(path: Path | None) -> Target | None:
    """The target file read and checked (every key known, every value of its type), or None."""
    if path is None:
        return None
    try:
        return load_target(path)
    except TargetError as exc:
        raise UsageError(f"--target: {exc}") from None


def min_ran(text: str | None) -> float | int | None:
    """`90%` → 0.9 (a share of the selected scenarios), `120` → 120 (a count)."""
    if text is None:
        return None
    raw = text.strip()
    try:
        if raw.endswith("%"):
            share = float(raw[:-1]) / 100
            if not 0 <= share <= 1:
                raise ValueError
            return share
        count = int(raw)
        if count < 0:
            raise ValueError
        return count
    except ValueError:
        raise UsageError(f"--min-ran: {text!r} is neither a percentage (90%) nor a count "
                         "(120)") from None


def port(value: int | None, option: str) -> int | None:
    if value is not None and not 0 <= value <= 65535:
        raise UsageError(f"{option}: {value} is not a TCP port (0-65535)")
    return value
