"""What a failed scenario's text says first: its assertion, and where it was raised.

pytest's long report marks the lines of the exception with ``E``; the first block of them is the
assertion a reader needs (a checker's ``invariants violated`` with every violation, or the
scenario's own assert with its message). The whole text stays available beside it.
"""

from __future__ import annotations

import re

_LOCATION = re.compile(r"^(\S+\.py):(\d+): (\w[\w.]*)$")
#: Lines of the first assertion shown before "… more".
MAX_ASSERTION_LINES = 60


def first_assertion(text: str | None) -> str:
    """The first block of ``E`` lines (prefix and shared indentation removed), else the
    message before the traceback."""
    if not text:
        return ""
    lines = text.splitlines()
    block: list[str] = []
    for line in lines:
        if line.startswith("E ") or line == "E":
            block.append(line[2:] if len(line) > 1 else "")
        elif block:
            break
    if not block:
        head: list[str] = []
        for line in lines:
            if not line.strip() or line.startswith(("Traceback", "[+")) or " more lines;" in line:
                if head:
                    break
                continue
            head.append(line.rstrip())
        block = head or [lines[0]]
    indent = min((len(ln) - len(ln.lstrip()) for ln in block if ln.strip()), default=0)
    block = [ln[indent:].rstrip() for ln in block]
    if len(block) > MAX_ASSERTION_LINES:
        block = [*block[:MAX_ASSERTION_LINES],
                 f"… ({len(block) - MAX_ASSERTION_LINES} more lines below)"]
    return "\n".join(block).strip("\n")


def failure_location(text: str | None) -> str | None:
    """``scenarios/rca/test_x.py:42: AssertionError`` — the last such line of the report."""
    if not text:
        return None
    found = None
    for line in text.splitlines():
        match = _LOCATION.match(line.strip())
        if match:
            found = f"{match.group(1)}:{match.group(2)} ({match.group(3)})"
    return found
