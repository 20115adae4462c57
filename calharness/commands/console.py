"""The console commands print to: terminal width on a terminal, wide enough for CI logs
otherwise (rich would cut tables to 80 columns)."""

from __future__ import annotations

import sys

from rich.console import Console


def make_console() -> Console:
    return Console(width=None if sys.stdout.isatty() else 160)
