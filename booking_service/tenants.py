"""Tenants: companies (each with its own API key and Cal.com key), branches and services.

The tenants file (docs/contracts.md §2.6) is validated, written into the database (upsert, so a
restart or `seed-demo` twice changes nothing) and then served from memory: tenant lookups happen
on every request and the configuration changes only on restart.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from booking_service.german_datetime import normalize
from booking_service.models import Branch, Company, Service


class TenantConfigError(ValueError):
    """The tenants file is unusable; the message says where."""


def hash_api_key(api_key: str) -> str:
    """Companies' API keys are stored as SHA-256, never in clear."""
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def normalize_phone(number: object) -> str | None:
    """`+49 30 123456`, `030/123456`, `0049 30 123456` → `+4930123456`; None if not a number."""
    if not isinstance(number, str | int):
        return None
    text = re.sub(r"[\s\-/().]", "", str(number))
    if text.startswith("00"):
        text = "+" + text[2:]
    elif text.startswith("0"):
        text = "+49" + text[1:]
    elif text and text[0].isdigit() and not text.startswith("+"):
        text = "+" + text
    if not re.fullmatch(r"\+[1-9]\d{6,14}", text):
        return None
    return text


def demo_tenants() -> dict[str, Any]:
    text = resources.files("booking_service").joinpath("demo_tenants.json").read_text("utf-8")
    return json.loads(text)


def load_tenants(source: Mapping[str, Any] | str | Path | None) -> dict[str, Any]:
    """The tenants document from a dict, a JSON file path, or the demo tenants when None."""
    if source is None:
        return demo_tenants()
    if isinstance(source, str | Path):
        path = Path(source)
        try:
            return json.loads(path.read_text("utf-8"))
        except FileNotFoundError as exc:
            raise TenantConfigError(f"tenants file not found: {path}") from exc
        except (ValueError, UnicodeDecodeError) as exc:
            raise TenantConfigError(f"tenants file {path} is not valid JSON: {exc}") from exc
    return dict(source)


@dataclass(frozen=True)
class ServiceInfo:
    id: int
    name: str
    event_type_id: int
    duration: int
    branch_id: str
    company_id: int


@dataclass(frozen=True)
class BranchInfo:
    id: str
    name: str
    phone: str | None
    company_id: int
    services: tuple[ServiceInfo, ...]


@dataclass(frozen=True)
class CompanyInfo:
    id: int
    name: str
    calcom_api_key: str
    fallback_email: str | None
    branches: tuple[BranchInfo, ...]
    calcom_read_api_keys: tuple[str, ...] = ()
    # Its own Cal.com webhook secret: deliveries about this tenant must be signed with it (the
    # shared secret is accepted only for tenants without one).
    webhook_secret: str | None = None

    @property
    def calcom_list_keys(self) -> tuple[str, ...]:
        """Keys to list bookings with: Cal.com lists only bookings the key's owner hosts, so a
        practice with several hosts needs each host's key to see all of its bookings."""
        return tuple(dict.fromkeys((self.calcom_api_key, *self.calcom_read_api_keys)))

    @property
    def services(self) -> tuple[ServiceInfo, ...]:
        return tuple(s for b in self.branches for s in b.services)


def _require(condition: bool, where: str, message: str) -> None:
    if not condition:
        raise TenantConfigError(f"{where}: {message}")


@dataclass
class _Seen:
    """What must be unique across the whole tenants document."""

    api_keys: set[str]
    branch_ids: set[str]
    phones: set[str]


def validate_tenants(doc: object) -> list[dict[str, Any]]:
    """Check the tenants document's shape; return its companies."""
    _require(isinstance(doc, dict), "tenants", "must be a JSON object with a 'companies' list")
    assert isinstance(doc, dict)
    companies = doc.get("companies")
    _require(
        isinstance(companies, list) and len(companies) > 0,
        "tenants",
        "'companies' must be a non-empty list",
    )
    assert isinstance(companies, list)
    seen = _Seen(set(), set(), set())
    for i, company in enumerate(companies):
        _validate_company(company, f"companies[{i}]", seen)
    return companies


def _validate_company(company: Any, where: str, seen: _Seen) -> None:
    _require(isinstance(company, dict), where, "must be an object")
    _require(
        isinstance(company.get("name"), str) and company["name"].strip() != "",
        where,
        "needs a name",
    )
    key = company.get("api_key")
    _require(
        isinstance(key, str) and len(key) >= 8,
        where,
        "needs an api_key of at least 8 characters",
    )
    _require(key not in seen.api_keys, where, "api_key used twice")
    seen.api_keys.add(key)
    read_keys = company.get("calcom_read_api_keys", [])
    _require(
        isinstance(read_keys, list) and all(isinstance(k, str) and k for k in read_keys),
        where,
        "calcom_read_api_keys must be a list of Cal.com API keys",
    )
    secret = company.get("webhook_secret")
    _require(
        secret is None or (isinstance(secret, str) and len(secret) >= 8),
        where,
        "webhook_secret must be a string of at least 8 characters",
    )
    for field in ("calcom_api_key", "fallback_email"):
        _require(
            company.get(field) is None or isinstance(company.get(field), str),
            where,
            f"{field} must be a string",
        )
    branches = company.get("branches")
    _require(
        isinstance(branches, list) and len(branches) > 0,
        where,
        "needs a non-empty 'branches' list",
    )
    for j, branch in enumerate(branches):
        _validate_branch(branch, f"{where}.branches[{j}]", seen)


def _validate_branch(branch: Any, where: str, seen: _Seen) -> None:
    """Branch ids are UUID strings, never numbers (RCA 2025-10-06: an integer cast of a UUID
    branch id crashed the alternative finder)."""
    _require(isinstance(branch, dict), where, "must be an object")
    try:
        uuid.UUID(str(branch.get("id")))
    except ValueError as exc:
        raise TenantConfigError(f"{where}: id must be a UUID string") from exc
    _require(isinstance(branch.get("id"), str), where, "id must be a UUID string")
    _require(branch["id"] not in seen.branch_ids, where, "branch id used twice")
    seen.branch_ids.add(branch["id"])
    _require(isinstance(branch.get("name"), str), where, "needs a name")
    if branch.get("phone") is not None:
        phone = normalize_phone(branch["phone"])
        _require(phone is not None, where, "phone must be a phone number such as +4930123456")
        _require(phone not in seen.phones, where, "phone used by two branches")
        seen.phones.add(str(phone))
    services = branch.get("services")
    _require(
        isinstance(services, list) and len(services) > 0,
        where,
        "needs a non-empty 'services' list",
    )
    names: set[str] = set()
    for k, service in enumerate(services):
        _validate_service(service, f"{where}.services[{k}]", names)


def _validate_service(service: Any, where: str, names: set[str]) -> None:
    """`names`: the branch's service names so far (normalised), which must not repeat."""
    _require(isinstance(service, dict), where, "must be an object")
    _require(
        isinstance(service.get("name"), str) and service["name"].strip() != "",
        where,
        "needs a name",
    )
    _require(
        normalize(service["name"]) not in names,
        where,
        "service name used twice in the branch",
    )
    names.add(normalize(service["name"]))
    etid = service.get("event_type_id")
    _require(
        isinstance(etid, int) and not isinstance(etid, bool) and etid > 0,
        where,
        "event_type_id must be a positive integer",
    )
    duration = service.get("duration")
    _require(
        isinstance(duration, int) and not isinstance(duration, bool) and 0 < duration <= 24 * 60,
        where,
        "duration must be minutes (1..1440)",
    )


async def sync_tenants(
    sessions: async_sessionmaker[AsyncSession], doc: dict[str, Any], default_calcom_api_key: str
) -> TenantDirectory:
    """Upsert the tenants document into the database and return the in-memory directory."""
    companies = validate_tenants(doc)
    async with sessions.begin() as session:
        company_ids: list[int] = []
        for company_doc in companies:
            key_hash = hash_api_key(company_doc["api_key"])
            company = (
                await session.execute(sa.select(Company).where(Company.api_key_hash == key_hash))
            ).scalar_one_or_none()
            if company is None:
                company = Company(name=company_doc["name"], api_key_hash=key_hash)
                session.add(company)
            company.name = company_doc["name"]
            company.calcom_api_key = company_doc.get("calcom_api_key")
            company.fallback_email = company_doc.get("fallback_email")
            await session.flush()
            company_ids.append(company.id)
            for branch_doc in company_doc["branches"]:
                branch = await session.get(Branch, branch_doc["id"])
                if branch is None:
                    branch = Branch(
                        id=branch_doc["id"], company_id=company.id, name=branch_doc["name"]
                    )
                    session.add(branch)
                elif branch.company_id != company.id:
                    raise TenantConfigError(
                        f"branch {branch_doc['id']} already belongs to another company"
                    )
                branch.name = branch_doc["name"]
                branch.phone = (
                    normalize_phone(branch_doc.get("phone")) if branch_doc.get("phone") else None
                )
                await session.flush()
                for service_doc in branch_doc["services"]:
                    service = (
                        await session.execute(
                            sa.select(Service).where(
                                Service.branch_id == branch.id, Service.name == service_doc["name"]
                            )
                        )
                    ).scalar_one_or_none()
                    if service is None:
                        service = Service(
                            company_id=company.id, branch_id=branch.id, name=service_doc["name"]
                        )
                        session.add(service)
                    service.event_type_id = service_doc["event_type_id"]
                    service.duration = service_doc["duration"]
        await session.flush()
        return await _directory(session, companies, company_ids, default_calcom_api_key)


async def _directory(
    session: AsyncSession, companies: list[dict[str, Any]], company_ids: list[int], default_key: str
) -> TenantDirectory:
    infos: list[CompanyInfo] = []
    for company_doc, company_id in zip(companies, company_ids, strict=True):
        branches: list[BranchInfo] = []
        for branch_doc in company_doc["branches"]:
            services = []
            for service_doc in branch_doc["services"]:
                row = (
                    await session.execute(
                        sa.select(Service).where(
                            Service.branch_id == branch_doc["id"],
                            Service.name == service_doc["name"],
                        )
                    )
                ).scalar_one()
                services.append(
                    ServiceInfo(
                        row.id, row.name, row.event_type_id, row.duration, row.branch_id, company_id
                    )
                )
            branches.append(
                BranchInfo(
                    id=branch_doc["id"],
                    name=branch_doc["name"],
                    phone=normalize_phone(branch_doc.get("phone"))
                    if branch_doc.get("phone")
                    else None,
                    company_id=company_id,
                    services=tuple(services),
                )
            )
        infos.append(
            CompanyInfo(
                id=company_id,
                name=company_doc["name"],
                calcom_api_key=company_doc.get("calcom_api_key") or default_key,
                fallback_email=company_doc.get("fallback_email"),
                calcom_read_api_keys=tuple(company_doc.get("calcom_read_api_keys", [])),
                webhook_secret=company_doc.get("webhook_secret"),
                branches=tuple(branches),
            )
        )
    return TenantDirectory(
        infos,
        {hash_api_key(c["api_key"]): cid for c, cid in zip(companies, company_ids, strict=True)},
    )


class TenantDirectory:
    """In-memory view of the tenants for request routing."""

    def __init__(self, companies: list[CompanyInfo], key_hashes: dict[str, int]) -> None:
        self.companies = companies
        self._by_id = {c.id: c for c in companies}
        self._by_key_hash = {h: self._by_id[cid] for h, cid in key_hashes.items()}
        self._branch_by_phone = {b.phone: b for c in companies for b in c.branches if b.phone}
        self._services_by_event_type: dict[int, list[ServiceInfo]] = {}
        for company in companies:
            for service in company.services:
                self._services_by_event_type.setdefault(service.event_type_id, []).append(service)

    @property
    def default_company(self) -> CompanyInfo:
        return self.companies[0]

    def company(self, company_id: int) -> CompanyInfo | None:
        return self._by_id.get(company_id)

    def company_for_api_key(self, api_key: str) -> CompanyInfo | None:
        return self._by_key_hash.get(hash_api_key(api_key))

    def branch_for_number(self, number: object) -> BranchInfo | None:
        phone = normalize_phone(number)
        return self._branch_by_phone.get(phone) if phone else None

    def services_for_event_type(self, event_type_id: int | None) -> list[ServiceInfo]:
        if event_type_id is None:
            return []
        return self._services_by_event_type.get(event_type_id, [])

    def event_type_ids(self, company: CompanyInfo) -> list[int]:
        return sorted({s.event_type_id for s in company.services})

    @staticmethod
    def find_service(branch: BranchInfo, spoken: object) -> ServiceInfo | None:
        """The branch's service the caller named: exact (umlaut/case-insensitive), else a unique partial match."""
        if not isinstance(spoken, str) or not spoken.strip():
            return None
        wanted = normalize(spoken)
        for service in branch.services:
            if normalize(service.name) == wanted:
                return service
        partial = [
            s for s in branch.services if normalize(s.name) in wanted or wanted in normalize(s.name)
        ]
        return partial[0] if len(partial) == 1 else None
