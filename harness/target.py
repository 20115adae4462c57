"""Target files: point the harness at a deployment (staging) instead of the embedded stack.

A real deployment offers no reset, no fault injection, no failpoints and no virtual clock, so a
target run is black-box: only scenarios not marked ``embedded_only`` run, every call id carries
the run's id, the run books on days far from real traffic, it stops at a request budget, and it
cancels what it booked at the end. Example (TOML)::

    name = "staging"
    service_url = "https://booking.staging.example.com"
    allow_booking = true          # the run books (and then cancels) real test appointments
    max_requests = 400            # hard stop: the run aborts when it would send more
    days_ahead = 40               # book this many working days out, away from real callers
    service = "Beratung"          # the service (dienstleistung) scenarios book

    [companies.primary]           # the tenant calls are routed to (world.berlin)
    api_key = "bs_…"              # its key for the read API
    phone = "+4930123456"         # the number callers dial (routes the call to the tenant)
    fallback_email = "termin@…"   # optional

    [companies.secondary]         # another tenant, for the isolation scenarios (world.hamburg)
    api_key = "bs_…"
    phone = "+4940987654"

    [calcom]                      # optional: where ground truth comes from
    control_url = "http://…"      # a fake Cal.com control plane behind the deployment, or
    api_url = "https://api.cal.com"  # the real Cal.com API, read-only,
    api_key = "cal_live_…"        # with a key that may list the bookings
"""

from __future__ import annotations

import secrets
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class TargetError(ValueError):
    """A target file that cannot be used (the message says what to fix)."""


@dataclass(frozen=True)
class TargetCompany:
    role: str
    api_key: str
    phone: str | None = None
    fallback_email: str | None = None
    id: int | None = None


@dataclass(frozen=True)
class Target:
    name: str
    service_url: str
    companies: dict[str, TargetCompany]
    allow_booking: bool = False
    max_requests: int = 300
    days_ahead: int = 30
    service: str = "Beratung"
    calcom_control_url: str | None = None
    calcom_api_url: str | None = None
    calcom_api_key: str | None = None
    run_id: str = field(default_factory=lambda: "calh" + secrets.token_hex(3))

    @property
    def primary(self) -> TargetCompany:
        return self.companies["primary"]

    @property
    def secondary(self) -> TargetCompany | None:
        return self.companies.get("secondary")


def _url(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise TargetError(f"{where} must be an http(s) URL, got {value!r}")
    return value.rstrip("/")


def load_target(path: str | Path) -> Target:
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TargetError(f"cannot read target file {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise TargetError(f"{path} is not valid TOML: {exc}") from None
    known = {"name", "service_url", "allow_booking", "max_requests", "days_ahead", "service",
             "companies", "calcom"}
    unknown = sorted(set(doc) - known)
    if unknown:
        raise TargetError(f"{path}: unknown setting(s) {', '.join(unknown)}; "
                          f"known: {', '.join(sorted(known))}")
    if "service_url" not in doc:
        raise TargetError(f"{path}: service_url is required (the booking service's base URL)")
    companies_doc = doc.get("companies") or {}
    if "primary" not in companies_doc:
        raise TargetError(f"{path}: [companies.primary] is required (api_key, phone)")
    companies = {}
    for role, body in companies_doc.items():
        if not isinstance(body, dict) or not isinstance(body.get("api_key"), str):
            raise TargetError(f"{path}: [companies.{role}] needs api_key = \"…\"")
        companies[role] = TargetCompany(role=role, api_key=body["api_key"],
                                        phone=body.get("phone"),
                                        fallback_email=body.get("fallback_email"),
                                        id=body.get("id"))
    calcom = doc.get("calcom") or {}
    max_requests = doc.get("max_requests", 300)
    if not isinstance(max_requests, int) or max_requests < 1:
        raise TargetError(f"{path}: max_requests must be a positive integer")
    days_ahead = doc.get("days_ahead", 30)
    if not isinstance(days_ahead, int) or days_ahead < 1:
        raise TargetError(f"{path}: days_ahead must be a positive integer")
    return Target(
        name=str(doc.get("name") or path.stem),
        service_url=_url(doc["service_url"], "service_url"),
        companies=companies,
        allow_booking=bool(doc.get("allow_booking", False)),
        max_requests=max_requests, days_ahead=days_ahead,
        service=str(doc.get("service", "Beratung")),
        calcom_control_url=_url(calcom["control_url"], "calcom.control_url")
        if calcom.get("control_url") else None,
        calcom_api_url=_url(calcom["api_url"], "calcom.api_url") if calcom.get("api_url") else None,
        calcom_api_key=calcom.get("api_key"),
    )
