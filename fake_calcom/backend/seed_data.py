"""The default seed data (contracts §1.2) and loading/validating a seed-data JSON document."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from fake_calcom.backend.models import (
    WEEKDAYS,
    AccessToken,
    ApiKey,
    EventType,
    Host,
    OAuthClient,
    Team,
    WorkingHours,
)
from fake_calcom.backend.timefmt import is_time_zone

MON_FRI = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
DEFAULT_NOTICE_MIN = 60
TEAM_ID = 501
OAUTH_CLIENT_ID = "clxcalharness0platform01"


def _host(id_: int, username: str, name: str, email: str, start: str, end: str) -> dict[str, Any]:
    return {
        "id": id_,
        "username": username,
        "name": name,
        "email": email,
        "timeZone": "Europe/Berlin",
        "workingHours": [{"days": MON_FRI, "startTime": start, "endTime": end}],
    }


def _event_type(
    id_: int, slug: str, title: str, length: int, scheduling: str, hosts: list[int], **extra: Any
) -> dict[str, Any]:
    return {
        "id": id_,
        "slug": slug,
        "title": title,
        "lengthInMinutes": length,
        "schedulingType": scheduling,
        "hostIds": hosts,
        "requiresConfirmation": extra.get("requiresConfirmation", False),
        "minimumBookingNotice": DEFAULT_NOTICE_MIN,
        "description": "",
        "location": "",
        **({"teamId": extra["teamId"]} if "teamId" in extra else {}),
    }


DEFAULT_SEED_DATA: dict[str, Any] = {
    "hosts": [
        _host(101, "anna-becker", "Anna Becker", "anna@praxis-berlin.example", "09:00", "17:00"),
        _host(102, "ben-krause", "Ben Krause", "ben@praxis-berlin.example", "09:00", "17:00"),
        _host(103, "clara-wolf", "Clara Wolf", "clara@praxis-hamburg.example", "08:00", "16:00"),
    ],
    "apiKeys": [
        {"key": "cal_live_calharness_anna", "hostId": 101},
        {"key": "cal_live_calharness_ben", "hostId": 102},
        {"key": "cal_live_calharness_clara", "hostId": 103},
    ],
    "eventTypes": [
        _event_type(2001, "beratung", "Beratung", 30, "individual", [101]),
        _event_type(2002, "haarschnitt", "Haarschnitt", 60, "individual", [102]),
        _event_type(2003, "erstgespraech", "Erstgespräch", 30, "individual", [101], requiresConfirmation=True),
        _event_type(2004, "teamtermin", "Teamtermin", 30, "round_robin", [101, 102], teamId=TEAM_ID),
        _event_type(2005, "fallbesprechung", "Fallbesprechung", 45, "collective", [101, 103], teamId=TEAM_ID),
        _event_type(2006, "hamburg-beratung", "Hamburg Beratung", 30, "individual", [103]),
    ],
    "webhooks": [],
    # The team the round-robin and collective event types belong to.
    "teams": [{"id": TEAM_ID, "slug": "praxis-team", "name": "Praxis Team", "memberIds": [101, 102, 103]}],
    # A platform OAuth client and its managed users' access tokens (Bearer without `cal_`).
    "oauthClients": [
        {
            "id": OAUTH_CLIENT_ID,
            "name": "calharness platform",
            "organizationId": 601,
            "secret": "calharness-oauth-client-secret",
        }
    ],
    "accessTokens": [
        {"token": "at_calharness_anna", "hostId": 101, "clientId": OAUTH_CLIENT_ID},
        {"token": "at_calharness_ben", "hostId": 102, "clientId": OAUTH_CLIENT_ID},
        {"token": "at_calharness_clara", "hostId": 103, "clientId": OAUTH_CLIENT_ID},
    ],
}


def default_seed_data() -> dict[str, Any]:
    """A fresh copy of the default seed data (callers may mutate it)."""
    return copy.deepcopy(DEFAULT_SEED_DATA)


@dataclass(slots=True)
class SeedData:
    """Seed data checked and turned into records."""

    raw: dict[str, Any]
    hosts: dict[int, Host] = field(default_factory=dict)
    event_types: dict[int, EventType] = field(default_factory=dict)
    api_keys: dict[str, ApiKey] = field(default_factory=dict)
    webhooks: list[dict[str, Any]] = field(default_factory=list)
    teams: dict[int, Team] = field(default_factory=dict)
    oauth_clients: dict[str, OAuthClient] = field(default_factory=dict)
    access_tokens: dict[str, AccessToken] = field(default_factory=dict)


class SeedDataError(ValueError):
    """Seed data that cannot be loaded; the message says which entry and why."""


def _minutes(text: object, where: str) -> int:
    if not isinstance(text, str) or len(text) != 5 or text[2] != ":":
        raise SeedDataError(f"{where}: expected a time 'HH:MM', got {text!r}")
    try:
        hours, minutes = int(text[:2]), int(text[3:])
    except ValueError:
        raise SeedDataError(f"{where}: expected a time 'HH:MM', got {text!r}") from None
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or (hours == 24 and minutes):
        raise SeedDataError(f"{where}: {text!r} is not a time of day")
    return hours * 60 + minutes


def _require(entry: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in entry:
        raise SeedDataError(f"{where}: missing {key!r}")
    value = entry[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise SeedDataError(f"{where}: {key!r} has the wrong type ({value!r})")
    return value


def load_seed_data(raw: object) -> SeedData:
    """Validate a seed-data document (the shape of `GET /_fake/seed-data`)."""
    if not isinstance(raw, dict):
        raise SeedDataError("seed data must be a JSON object with hosts, apiKeys, eventTypes")
    unknown = set(raw) - {"hosts", "apiKeys", "eventTypes", "webhooks", "teams", "oauthClients", "accessTokens"}
    if unknown:
        raise SeedDataError(f"unknown seed-data keys: {sorted(unknown)}")
    data = SeedData(raw=copy.deepcopy(raw))
    for index, entry in enumerate(raw.get("hosts") or []):
        where = f"hosts[{index}]"
        if not isinstance(entry, dict):
            raise SeedDataError(f"{where}: expected an object")
        host_id = _require(entry, "id", int, where)
        if host_id in data.hosts:
            raise SeedDataError(f"{where}: duplicate host id {host_id}")
        time_zone = _require(entry, "timeZone", str, where)
        if not is_time_zone(time_zone):
            raise SeedDataError(f"{where}: unknown time zone {time_zone!r}")
        rules = []
        for rule_index, rule in enumerate(_require(entry, "workingHours", list, where)):
            rule_where = f"{where}.workingHours[{rule_index}]"
            if not isinstance(rule, dict):
                raise SeedDataError(f"{rule_where}: expected an object")
            days = []
            for day in _require(rule, "days", list, rule_where):
                if day not in WEEKDAYS:
                    raise SeedDataError(f"{rule_where}: unknown weekday {day!r} (use {WEEKDAYS})")
                days.append(WEEKDAYS.index(day))
            start = _minutes(rule.get("startTime"), f"{rule_where}.startTime")
            end = _minutes(rule.get("endTime"), f"{rule_where}.endTime")
            if start >= end:
                raise SeedDataError(f"{rule_where}: startTime must be before endTime")
            rules.append(WorkingHours(days=tuple(sorted(set(days))), start_min=start, end_min=end))
        data.hosts[host_id] = Host(
            id=host_id,
            username=_require(entry, "username", str, where),
            name=_require(entry, "name", str, where),
            email=_require(entry, "email", str, where),
            time_zone=time_zone,
            working_hours=tuple(rules),
        )
    for index, entry in enumerate(raw.get("apiKeys") or []):
        where = f"apiKeys[{index}]"
        if not isinstance(entry, dict):
            raise SeedDataError(f"{where}: expected an object")
        key = _require(entry, "key", str, where)
        if not key.startswith("cal_"):
            raise SeedDataError(f"{where}: Cal.com API keys start with 'cal_' ({key!r})")
        host_id = _require(entry, "hostId", int, where)
        if host_id not in data.hosts:
            raise SeedDataError(f"{where}: unknown host {host_id}")
        if key in data.api_keys:
            raise SeedDataError(f"{where}: duplicate key")
        data.api_keys[key] = ApiKey(key=key, host_id=host_id)
    for index, entry in enumerate(raw.get("teams") or []):
        where = f"teams[{index}]"
        if not isinstance(entry, dict):
            raise SeedDataError(f"{where}: expected an object")
        team_id = _require(entry, "id", int, where)
        if team_id in data.teams:
            raise SeedDataError(f"{where}: duplicate team id {team_id}")
        members = _require(entry, "memberIds", list, where)
        if any(m not in data.hosts for m in members):
            raise SeedDataError(f"{where}: memberIds must name known hosts ({members!r})")
        data.teams[team_id] = Team(
            id=team_id,
            slug=_require(entry, "slug", str, where),
            name=_require(entry, "name", str, where),
            member_ids=tuple(members),
        )
    for index, entry in enumerate(raw.get("eventTypes") or []):
        where = f"eventTypes[{index}]"
        if not isinstance(entry, dict):
            raise SeedDataError(f"{where}: expected an object")
        event_type_id = _require(entry, "id", int, where)
        if event_type_id in data.event_types:
            raise SeedDataError(f"{where}: duplicate event type id {event_type_id}")
        scheduling = _require(entry, "schedulingType", str, where)
        if scheduling not in ("individual", "round_robin", "collective"):
            raise SeedDataError(f"{where}: schedulingType must be individual, round_robin or collective")
        host_ids = _require(entry, "hostIds", list, where)
        if not host_ids or any(h not in data.hosts for h in host_ids):
            raise SeedDataError(f"{where}: hostIds must name known hosts ({host_ids!r})")
        if scheduling == "individual" and len(host_ids) != 1:
            raise SeedDataError(f"{where}: an individual event type has exactly one host")
        length = _require(entry, "lengthInMinutes", int, where)
        if length < 1:
            raise SeedDataError(f"{where}: lengthInMinutes must be at least 1")
        team_id = entry.get("teamId")
        if team_id is not None:
            if team_id not in data.teams:
                raise SeedDataError(f"{where}: teamId {team_id!r} names no team")
            if not set(host_ids) <= set(data.teams[team_id].member_ids):
                raise SeedDataError(f"{where}: every host must be a member of team {team_id}")
        notice = entry.get("minimumBookingNotice", 0)
        if not isinstance(notice, int) or isinstance(notice, bool) or notice < 0:
            raise SeedDataError(f"{where}: minimumBookingNotice must be minutes >= 0")
        data.event_types[event_type_id] = EventType(
            id=event_type_id,
            slug=_require(entry, "slug", str, where),
            title=entry.get("title") or _require(entry, "slug", str, where),
            length=length,
            scheduling_type=scheduling,
            host_ids=tuple(host_ids),
            requires_confirmation=bool(entry.get("requiresConfirmation", False)),
            minimum_notice=notice,
            description=str(entry.get("description") or ""),
            location=str(entry.get("location") or ""),
            team_id=team_id,
        )
    for index, entry in enumerate(raw.get("webhooks") or []):
        where = f"webhooks[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("subscriberUrl"), str):
            raise SeedDataError(f"{where}: expected an object with subscriberUrl")
        data.webhooks.append(entry)
    for index, entry in enumerate(raw.get("oauthClients") or []):
        where = f"oauthClients[{index}]"
        if not isinstance(entry, dict):
            raise SeedDataError(f"{where}: expected an object")
        client_id = _require(entry, "id", str, where)
        if client_id in data.oauth_clients:
            raise SeedDataError(f"{where}: duplicate client id")
        data.oauth_clients[client_id] = OAuthClient(
            id=client_id,
            name=_require(entry, "name", str, where),
            organization_id=_require(entry, "organizationId", int, where),
            secret=_require(entry, "secret", str, where),
        )
    for index, entry in enumerate(raw.get("accessTokens") or []):
        where = f"accessTokens[{index}]"
        if not isinstance(entry, dict):
            raise SeedDataError(f"{where}: expected an object")
        token = _require(entry, "token", str, where)
        if token.startswith("cal_") or not token or " " in token:
            raise SeedDataError(f"{where}: an access token is a Bearer without the 'cal_' prefix ({token!r})")
        if token in data.access_tokens:
            raise SeedDataError(f"{where}: duplicate token")
        host_id = _require(entry, "hostId", int, where)
        if host_id not in data.hosts:
            raise SeedDataError(f"{where}: unknown host {host_id}")
        client_id = _require(entry, "clientId", str, where)
        if client_id not in data.oauth_clients:
            raise SeedDataError(f"{where}: clientId {client_id!r} names no OAuth client")
        data.access_tokens[token] = AccessToken(token=token, host_id=host_id, client_id=client_id)
    return data
