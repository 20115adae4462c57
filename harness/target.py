"""Target files: which booking service to verify, through which adapter, with what control.

The embedded stack is a target too (the harness writes it); a target file points the harness at
a deployment instead — the reference service in its own processes, a user's service, staging.
What the target offers decides which scenarios run (harness/capabilities.py). Example (TOML)::

    name = "staging"
    service_url = "https://booking.staging.example.com"
    adapter = "voice"             # the API shape: "voice" (Retell-style), or "package.module:Class"
    allow_booking = true          # the run books (and then cancels) test appointments
    allow_faults = false          # inject faults at the fake Cal.com behind the service
    max_requests = 400            # hard stop: the run aborts when it would send more (0: none)
    days_ahead = 30               # without a reset, book this many working days out

    [adapter_settings]            # the adapter's own settings (see the adapter's docstring)

    [companies.primary]           # the tenant calls are routed to (world.berlin)
    api_key = "bs_…"              # its key for the read API
    phone = "+4930123456"         # the number callers dial (routes the call to the tenant)
    fallback_email = "termin@…"   # optional
    id = 1                        # optional: its id in the service's answers

    [companies.secondary]         # another tenant, for the isolation scenarios (world.hamburg)
    api_key = "bs_…"
    phone = "+4940987654"

    [calcom]                      # where Cal.com is, as the service sees it
    control_url = "http://…"      # a fake Cal.com's control plane: faults, clock, ground truth
    api_url = "https://api.cal.com"  # or the real Cal.com API, read-only, for ground truth,
    api_key = "cal_live_…"        # with a key that may list the bookings
    webhook_secret = "whsec_…"    # optional: the service's webhook secret (forgery scenarios)

    [test_control]                # the service's test-control protocol (docs/contracts.md §4)
    url = "http://…"              # default: service_url
    token_env = "BOOKING_TEST_CONTROL_TOKEN"   # or token = "…"
    replica_url = "http://…"      # optional: a second instance on the same database

With test control the companies may be left out: the service names its tenants itself.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import tomllib
from collections.abc import Mapping
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
    name: str | None = None
    calcom_api_key: str | None = None
    branch_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Target:
    name: str
    service_url: str
    companies: dict[str, TargetCompany] = field(default_factory=dict)
    adapter: str = "voice"
    adapter_settings: Mapping[str, Any] = field(default_factory=dict)
    allow_booking: bool = False
    allow_faults: bool = False
    max_requests: int | None = 300
    days_ahead: int = 30
    calcom_control_url: str | None = None
    calcom_api_url: str | None = None
    calcom_api_key: str | None = None
    #: the secret Cal.com signs the service's webhooks with (lets the harness sign its own)
    calcom_webhook_secret: str | None = None
    test_control_url: str | None = None
    test_control_token: str | None = None
    replica_url: str | None = None
    #: the harness started this stack itself (embedded): no request budget, all allowed
    embedded: bool = False
    run_id: str = field(default_factory=lambda: "calh" + secrets.token_hex(3))

    @property
    def primary(self) -> TargetCompany:
        return self.companies["primary"]

    @property
    def secondary(self) -> TargetCompany | None:
        return self.companies.get("secondary")


KNOWN = {"name", "service_url", "adapter", "adapter_settings", "allow_booking", "allow_faults",
         "max_requests", "days_ahead", "companies", "calcom", "test_control"}
COMPANY_KEYS = {"api_key", "phone", "fallback_email", "id", "name", "calcom_api_key",
                "branch_ids"}
CALCOM_KEYS = {"control_url", "api_url", "api_key", "webhook_secret"}
TEST_CONTROL_KEYS = {"url", "token", "token_env", "replica_url"}


def _url(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")) \
            or len(value.split("://", 1)[1].strip("/")) == 0:
        raise TargetError(f"{where} must be an http(s) URL, got {value!r}")
    return value.rstrip("/")


def _keys(doc: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(doc) - known)
    if unknown:
        raise TargetError(f"{where}: unknown setting(s) {', '.join(unknown)}; "
                          f"known: {', '.join(sorted(known))}")


def _table(doc: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = doc.get(key, {})
    if not isinstance(value, dict):  # also a falsy `calcom = ""`: a mistake, not "no table"
        raise TargetError(f"{where}: [{key}] must be a table")
    return value


def _flag(doc: Mapping[str, Any], key: str, where: str) -> bool:
    value = doc.get(key, False)
    if not isinstance(value, bool):
        raise TargetError(f"{where}: {key} must be true or false, got {value!r}")
    return value


def _count(doc: Mapping[str, Any], key: str, default: int, where: str, *,
           zero_ok: bool = False) -> int:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if zero_ok else 1):
        raise TargetError(f"{where}: {key} must be a {'non-negative' if zero_ok else 'positive'} "
                          f"integer, got {value!r}")
    return value


def _companies(doc: Mapping[str, Any], where: str) -> dict[str, TargetCompany]:
    companies: dict[str, TargetCompany] = {}
    for role, body in _table(doc, "companies", where).items():
        at = f"{where}: [companies.{role}]"
        if not isinstance(body, dict):
            raise TargetError(f"{at} must be a table")
        _keys(body, COMPANY_KEYS, at)
        if not isinstance(body.get("api_key"), str) or not body["api_key"]:
            raise TargetError(f"{at} needs api_key = \"…\" (the tenant's key for the read API)")
        for key in ("phone", "fallback_email", "name", "calcom_api_key"):
            if key in body and not isinstance(body[key], str):
                raise TargetError(f"{at}: {key} must be a string")
        if "id" in body and (isinstance(body["id"], bool) or not isinstance(body["id"], int)):
            raise TargetError(f"{at}: id must be an integer")
        branches = body.get("branch_ids", [])
        if not isinstance(branches, list) or not all(isinstance(b, str) for b in branches):
            raise TargetError(f"{at}: branch_ids must be a list of strings")
        companies[role] = TargetCompany(role=role, api_key=body["api_key"],
                                        phone=body.get("phone"),
                                        fallback_email=body.get("fallback_email"),
                                        id=body.get("id"), name=body.get("name"),
                                        calcom_api_key=body.get("calcom_api_key"),
                                        branch_ids=tuple(branches))
    return companies


def _token(control: Mapping[str, Any], where: str) -> str | None:
    if "token" in control and "token_env" in control:
        raise TargetError(f"{where}: [test_control] takes token or token_env, not both")
    if "token_env" in control:
        name = control["token_env"]
        if not isinstance(name, str) or not name:
            raise TargetError(f"{where}: [test_control] token_env must name an environment variable")
        value = os.environ.get(name)
        if not value:
            raise TargetError(f"{where}: [test_control] token_env: ${name} is not set "
                              f"(export it, or remove [test_control] to run black-box)")
        return value
    token = control.get("token")
    if token is not None and (not isinstance(token, str) or not token):
        raise TargetError(f"{where}: [test_control] token must be a non-empty string")
    return token


def parse_target(doc: Mapping[str, Any], where: str, *, default_name: str = "target") -> Target:
    """Validate a decoded target document (every key known, every value of its type)."""
    _keys(doc, KNOWN, where)
    if "service_url" not in doc:
        raise TargetError(f"{where}: service_url is required (the booking service's base URL)")
    calcom = _table(doc, "calcom", where)
    _keys(calcom, CALCOM_KEYS, f"{where}: [calcom]")
    control = _table(doc, "test_control", where)
    _keys(control, TEST_CONTROL_KEYS, f"{where}: [test_control]")
    token = _token(control, where)
    if control and token is None:
        raise TargetError(f"{where}: [test_control] needs token or token_env")
    companies = _companies(doc, where)
    if "primary" not in companies and token is None:
        raise TargetError(f"{where}: [companies.primary] is required (api_key, phone) unless "
                          f"[test_control] lets the service name its tenants")
    adapter = doc.get("adapter", "voice")
    if not isinstance(adapter, str) or not adapter:
        raise TargetError(f"{where}: adapter must be \"voice\" or \"package.module:Class\"")
    service_url = _url(doc["service_url"], f"{where}: service_url")
    max_requests = _count(doc, "max_requests", 300, where, zero_ok=True)
    for key in ("api_key", "webhook_secret"):
        if calcom.get(key) is not None and not isinstance(calcom[key], str):
            raise TargetError(f"{where}: [calcom] {key} must be a string")
    allow_faults = _flag(doc, "allow_faults", where)
    if allow_faults and not calcom.get("control_url"):
        raise TargetError(f"{where}: allow_faults needs a fake Cal.com behind the service: set "
                          f"[calcom] control_url (faults are never sent to the real Cal.com)")
    return Target(
        name=str(doc.get("name") or default_name),
        service_url=service_url,
        companies=companies,
        adapter=adapter,
        adapter_settings=_table(doc, "adapter_settings", where),
        allow_booking=_flag(doc, "allow_booking", where),
        allow_faults=allow_faults,
        max_requests=max_requests or None,
        days_ahead=_count(doc, "days_ahead", 30, where),
        calcom_control_url=_url(calcom["control_url"], f"{where}: [calcom] control_url")
        if calcom.get("control_url") else None,
        calcom_api_url=_url(calcom["api_url"], f"{where}: [calcom] api_url")
        if calcom.get("api_url") else None,
        calcom_api_key=calcom.get("api_key"),
        calcom_webhook_secret=calcom.get("webhook_secret"),
        test_control_url=(_url(control["url"], f"{where}: [test_control] url")
                          if control.get("url") else service_url) if token else None,
        test_control_token=token,
        replica_url=_url(control["replica_url"], f"{where}: [test_control] replica_url")
        if control.get("replica_url") else None,
    )


def load_target(path: str | Path) -> Target:
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TargetError(f"target file not found: {path}") from None
    except OSError as exc:
        raise TargetError(f"cannot read target file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise TargetError(f"{path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise TargetError(f"{path} is not valid TOML: {exc}") from None
    return parse_target(doc, str(path), default_name=path.stem)


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_value(key)


def _toml_value(value: Any) -> str:
    """A TOML value for what a target holds (strings escaped, tables inline)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        # A JSON string is a TOML basic string, once DEL (which TOML wants escaped) is.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_toml_key(str(k))} = {_toml_value(v)}"
                               for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} {value!r} into a target file")


def target_toml(target: Target, *, token_env: str | None = None) -> str:
    """A target file for `target` (what `calharness serve` prints): `load_target` reads it back
    into the same target (but for the run id, and `embedded`, which no file can say)."""

    def setting(key: str, value: Any) -> str:
        return f"{_toml_key(key)} = {_toml_value(value)}"

    lines = [setting("name", target.name), setting("service_url", target.service_url),
             setting("adapter", target.adapter), setting("allow_booking", target.allow_booking),
             setting("allow_faults", target.allow_faults),
             setting("max_requests", target.max_requests or 0),
             setting("days_ahead", target.days_ahead)]
    if target.adapter_settings:
        lines += ["", "[adapter_settings]"]
        lines += [setting(str(k), v) for k, v in target.adapter_settings.items()]
    for role, company in target.companies.items():
        lines += ["", f"[companies.{_toml_key(role)}]", setting("api_key", company.api_key)]
        for key in ("phone", "fallback_email", "id", "name", "calcom_api_key"):
            if getattr(company, key) is not None:
                lines.append(setting(key, getattr(company, key)))
        if company.branch_ids:
            lines.append(setting("branch_ids", list(company.branch_ids)))
    calcom = {"control_url": target.calcom_control_url, "api_url": target.calcom_api_url,
              "api_key": target.calcom_api_key, "webhook_secret": target.calcom_webhook_secret}
    if any(v is not None for v in calcom.values()):
        lines += ["", "[calcom]"] + [setting(k, v) for k, v in calcom.items() if v is not None]
    if target.test_control_token:
        lines += ["", "[test_control]", setting("url", target.test_control_url)]
        lines.append(setting("token_env", token_env) if token_env
                     else setting("token", target.test_control_token))
        if target.replica_url:
            lines.append(setting("replica_url", target.replica_url))
    return "\n".join(lines) + "\n"
