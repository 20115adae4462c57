"""What every handler shares: the per-request context, answers, body parsing and auth."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from fake_calcom.backend.errors import BadRequest, Forbidden, Unauthorized
from fake_calcom.backend.models import Host
from fake_calcom.wire.errors import (
    BAD_KEY_MESSAGE,
    BAD_TOKEN_MESSAGE,
    NO_AUTH_MESSAGE,
    PERMISSIONS_NO_AUTH_MESSAGE,
)

if TYPE_CHECKING:
    from fake_calcom.backend.faults import Fault
    from fake_calcom.wire.state import FakeState

STATE_KEY: web.AppKey[FakeState] = web.AppKey("fake_calcom_state")

V2024_08_13 = "2024-08-13"
V2024_09_04 = "2024-09-04"
V2024_06_14 = "2024-06-14"
V2024_06_11 = "2024-06-11"
V2024_04_15 = "2024-04-15"
KNOWN_VERSIONS = frozenset({V2024_04_15, V2024_06_11, V2024_06_14, V2024_08_13, V2024_09_04})

_UNSET: Any = object()


@dataclass(slots=True)
class Answer:
    """A response before it is written: the fault layer may still change it."""

    status: int
    payload: Any = None  # a JSON document, or None when `body` is set
    body: bytes | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        if self.body is None:
            self.body = dumps(self.payload)
        return self.body


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def dumps(document: Any) -> bytes:
    """`JSON.stringify` bytes (what Express's `res.json` sends).

    orjson writes the same compact UTF-8 (and floats, NaN as `null`, the way JavaScript does);
    what it refuses (non-string keys, integers past 64 bits) goes through the stdlib encoder."""
    try:
        return orjson.dumps(document)
    except TypeError:
        return _ENCODER.encode(document).encode()


def success(data: Any, status: int = 200, **extra: Any) -> Answer:
    return Answer(status, {"status": "success", "data": data, **extra})


@dataclass(slots=True)
class Ctx:
    """Per-request facts the middleware learns before the handler runs."""

    version: str | None
    raw_body: bytes = b""
    has_body: bool = False
    overbook: Fault | None = None
    barrier: Fault | None = None
    expire_early: Fault | None = None  # reservation_expire_early
    reserve_taken: Fault | None = None  # reservation_taken
    cancel_race: Fault | None = None  # cancel_race (confirm / decline)
    fired: list[str] = field(default_factory=list)
    legacy_errors: bool = False  # errors rendered as the 2024-04-15 bookings controller does
    shown: Answer | None = None  # the answer a truncate/hang/reset fault kept from the client
    _json: Any = _UNSET

    @property
    def route_version(self) -> str:
        """Unknown or missing `cal-api-version` is routed to the 2024-04-15 controllers."""
        return self.version if self.version in KNOWN_VERSIONS else V2024_04_15

    def json(self) -> Any:
        """The parsed body (None when there is none); BadRequest when it is not JSON."""
        if self._json is _UNSET:
            self._json = parse_json(self.raw_body) if self.has_body else None
        return self._json

    def json_or_none(self) -> Any:
        try:
            return self.json()
        except BadRequest:
            return None


# aiohttp >= 3.12 wants typed request keys; older versions take a plain string.
CTX_KEY: Any = web.RequestKey("fake_calcom_ctx", Ctx) if hasattr(web, "RequestKey") else "fake_calcom_ctx"


def parse_json(raw: bytes) -> Any:
    """The body as JSON: orjson for a well-formed body; anything it refuses takes the stdlib
    path, which keeps the V8 wording of the error (and what the stdlib accepts, e.g. `NaN`)."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except UnicodeDecodeError:
        raise BadRequest("Unexpected token in JSON: the body is not valid UTF-8") from None
    except json.JSONDecodeError as exc:
        # The wording of V8's JSON.parse error, which Express's body parser passes on.
        if exc.pos >= len(exc.doc):
            raise BadRequest("Unexpected end of JSON input") from None
        raise BadRequest(f"Unexpected token {exc.doc[exc.pos]} in JSON at position {exc.pos}") from None
    except RecursionError:
        raise BadRequest("Unexpected token in JSON: nested too deeply") from None


def ctx_of(request: web.Request) -> Ctx:
    return request[CTX_KEY]


def state_of(request: web.Request) -> FakeState:
    return request.app[STATE_KEY]


def authenticate(request: web.Request, *, required: bool, permissions: bool = False) -> Host | None:
    """Cal.com's ApiAuthGuard / OptionalApiAuthGuard: sent-but-invalid credentials are 401."""
    header = request.headers.get("Authorization")
    if not header or not header.startswith("Bearer "):
        if required:
            if permissions:
                raise Forbidden(PERMISSIONS_NO_AUTH_MESSAGE)
            raise Unauthorized(NO_AUTH_MESSAGE)
        return None
    token = header[7:].strip()
    backend = state_of(request).backend
    if not token.startswith("cal_"):
        # A platform managed user's access token (no `cal_` prefix).
        owner = backend.owner_of_token(token)
        if owner is None:
            raise Unauthorized(BAD_TOKEN_MESSAGE)
        return owner
    host = backend.owner_of_key(token)
    if host is None:
        raise Unauthorized(BAD_KEY_MESSAGE)
    return host


def reservation_cookie(request: web.Request) -> str | None:
    """The `uid` cookie POST /v2/slots/reserve sets: the caller's own slot reservation."""
    value = request.cookies.get("uid")
    return value or None


def query_dict(request: web.Request) -> dict[str, str]:
    """Query parameters (the last value wins for repeated keys)."""
    return {key: value for key, value in request.query.items()}
