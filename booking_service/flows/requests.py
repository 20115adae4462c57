"""Reading a voice request: its arguments, the tenant whose number was called, the service the
caller named and the start they asked for. Anything unusable is a `Refusal`, never an error."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from booking_service.context import ServiceContext
from booking_service.flows.refusals import Refusal
from booking_service.german_datetime import DateTimeParseError, parse_local_datetime
from booking_service.tenants import BranchInfo, CompanyInfo, ServiceInfo, TenantDirectory

CALL_ID_RE = re.compile(r"^[A-Za-z0-9_\-:.]{1,100}$")
MAX_TEXT = 500


@dataclass
class RetellRequest:
    args: dict[str, Any]
    call: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, body: object) -> RetellRequest:
        if not isinstance(body, dict):
            raise Refusal("missing_required_field", "args", field="args")
        args = body.get("args")
        if args is None and any(
            k in body for k in ("datum", "uhrzeit", "call_id", "appointment_id")
        ):
            args = body  # some agent platforms send the arguments unwrapped
        if not isinstance(args, dict):
            raise Refusal("missing_required_field", "args", field="args")
        call = body.get("call")
        return cls(args=args, call=call if isinstance(call, dict) else {})

    def text(self, name: str, *, required: bool = False, max_len: int = MAX_TEXT) -> str | None:
        """A text argument: numbers become text, blanks count as missing, objects are refused."""
        value = self.args.get(name)
        if isinstance(value, bool) or value is None:
            value = None
        elif isinstance(value, int | float):
            value = str(value)
        elif not isinstance(value, str):
            raise Refusal("error", f"invalid_{name}")
        if value is not None:
            value = value.strip()
            if len(value) > max_len:
                raise Refusal("error", f"invalid_{name}")
        if not value:
            if required:
                raise Refusal("missing_required_field", name, field=name)
            return None
        return value

    def required(self, name: str, *, max_len: int = MAX_TEXT) -> str:
        value = self.text(name, required=True, max_len=max_len)
        if value is None:  # text() raised already; this keeps type checkers informed
            raise Refusal("missing_required_field", name, field=name)
        return value

    def call_id(self) -> str:
        value = self.args.get("call_id")
        if value is None or (isinstance(value, str) and not value.strip()):
            value = self.call.get("call_id")
        if value is None or (isinstance(value, str) and not value.strip()):
            raise Refusal("missing_required_field", "call_id", field="call_id")
        if not isinstance(value, str) or not CALL_ID_RE.fullmatch(value.strip()):
            raise Refusal("error", "invalid_call_id")
        return value.strip()

    def flag(self, name: str, default: bool = True) -> bool:
        value = self.args.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float):
            return value != 0
        if isinstance(value, str):
            text = value.strip().lower()
            if text in ("false", "nein", "no", "0", "n", "falsch"):
                return False
            if text in ("true", "ja", "yes", "1", "j", "y", "wahr", ""):
                return True
        return default


def resolve_tenant(ctx: ServiceContext, request: RetellRequest) -> tuple[CompanyInfo, BranchInfo]:
    """The branch whose phone number was called, else the default company's first branch."""
    branch = ctx.tenants.branch_for_number(request.call.get("to_number"))
    if branch is not None:
        company = ctx.tenants.company(branch.company_id)
        assert company is not None
        return company, branch
    company = ctx.tenants.default_company
    return company, company.branches[0]


def find_service(branch: BranchInfo, spoken: str | None, *, required: bool) -> ServiceInfo:
    if spoken is None and not required:
        return branch.services[0]
    service = TenantDirectory.find_service(branch, spoken)
    if service is None:
        raise Refusal(
            "unknown_service", "unknown_service", services=[s.name for s in branch.services]
        )
    return service


def parse_start(ctx: ServiceContext, datum: str, uhrzeit: str) -> datetime:
    """The requested start as aware UTC; refuses unreadable and past times."""
    try:
        start = parse_local_datetime(datum, uhrzeit, ctx.now(), ctx.settings.timezone)
    except DateTimeParseError as exc:
        raise Refusal(exc.kind, exc.kind) from exc
    if start <= ctx.now():
        raise Refusal("past_date", "in_the_past", start=start)
    return start
