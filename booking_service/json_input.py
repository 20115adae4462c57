"""Reading JSON from outside (voice agent, webhooks, tenant API) so that no input becomes a 500.

`json.loads` alone lets three kinds of input through to places that fail later: documents
nested deeper than Python's recursion limit (RecursionError while parsing, or later while
encoding), `NaN`/`Infinity` (not JSON; MariaDB's JSON columns refuse them), and lone UTF-16
surrogates in strings (`"\\ud800"` parses, but no database driver can encode it). Each is
refused here, as unreadable input, before anything acts on it.
"""

from __future__ import annotations

import json
from typing import Any

#: Far deeper than any request this service reads (webhook payloads nest four levels).
MAX_DEPTH = 32


class UnreadableJSON(ValueError):
    """The body is not a JSON document this service will act on; the message says why."""


def _refuse_constant(name: str) -> Any:
    raise UnreadableJSON(f"{name} is not JSON")


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check(document: object) -> None:
    """Depth and strings, walked with an explicit stack (no recursion on hostile input)."""
    pending: list[tuple[object, int]] = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            if not _encodable(value):
                raise UnreadableJSON("a string holds a lone surrogate")
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > MAX_DEPTH:
            raise UnreadableJSON(f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, dict):
            for key, item in value.items():
                if not _encodable(key):
                    raise UnreadableJSON("a key holds a lone surrogate")
                pending.append((item, depth + 1))
        else:
            pending.extend((item, depth + 1) for item in value)


def read_json(raw: bytes | str) -> Any:
    """The document in `raw`, or UnreadableJSON (never RecursionError, never NaN or surrogates)."""
    try:
        document = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError as exc:
        raise UnreadableJSON("nested too deeply") from exc
    except UnicodeDecodeError as exc:
        raise UnreadableJSON("not UTF-8") from exc
    except ValueError as exc:  # JSONDecodeError, and UnreadableJSON from parse_constant
        raise UnreadableJSON(str(exc)) from exc
    _check(document)
    return document
