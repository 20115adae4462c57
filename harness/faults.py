"""Builders for the fake Cal.com's fault directives (docs/contracts.md §1.5).

A directive is plain JSON; these functions only spare scenarios from spelling the same dicts:

    world.arm(fault("lost-answer", status(503, "after"), first=1))
    world.arm(fault("replay", stale_replay("start")))
    world.arm(fault("slow-slots", latency_ms(300), on=SLOTS))
    world.arm(webhook_fault("no-webhooks", webhook_drop()))
"""

from __future__ import annotations

from typing import Any

Endpoint = tuple[str, str]

CREATE: Endpoint = ("POST", "/v2/bookings")
LIST_BOOKINGS: Endpoint = ("GET", "/v2/bookings")
SLOTS: Endpoint = ("GET", "/v2/slots")
CANCEL: Endpoint = ("POST", "/v2/bookings/*/cancel")
RESCHEDULE: Endpoint = ("POST", "/v2/bookings/*/reschedule")


def trigger(*, first: int | None = None, nth: int | None = None,
            p: float | None = None) -> dict[str, Any]:
    """always (no argument), the first `first` matches, only the `nth`, or with probability `p`."""
    if first is not None:
        return {"kind": "first", "k": first}
    if nth is not None:
        return {"kind": "nth", "n": nth}
    if p is not None:
        return {"kind": "probability", "p": p}
    return {"kind": "always"}


def fault(name: str, action: dict[str, Any], *, on: Endpoint | dict[str, Any] = CREATE,
          first: int | None = None, nth: int | None = None, p: float | None = None,
          body: dict[str, Any] | None = None) -> dict[str, Any]:
    """A directive: `action` on requests to `on` (an endpoint, or a full match dict), optionally
    only those whose body fields match `body` (dotted paths)."""
    match: dict[str, Any] = dict(on) if isinstance(on, dict) else {"method": on[0],
                                                                    "path": on[1]}
    if body:
        match["body"] = body
    return {"name": name, "match": match, "trigger": trigger(first=first, nth=nth, p=p),
            "action": action}


def webhook_fault(name: str, action: dict[str, Any], *, event: str = "*",
                  first: int | None = None, nth: int | None = None) -> dict[str, Any]:
    """A directive on the fake's webhook deliveries (`event`: a trigger event or `*`)."""
    return {"name": name, "match": {"webhook": event}, "trigger": trigger(first=first, nth=nth),
            "action": action}


# actions ---------------------------------------------------------------------------------------

def status(code: int, phase: str = "before") -> dict[str, Any]:
    """Answer `code` (Cal.com-shaped body) before handling, or after the booking was made."""
    return {"kind": "status", "status": code, "phase": phase}


def hang(phase: str = "before") -> dict[str, Any]:
    return {"kind": "hang", "phase": phase}


def reset(phase: str = "before") -> dict[str, Any]:
    return {"kind": "reset", "phase": phase}


def latency_ms(ms: float) -> dict[str, Any]:
    return {"kind": "latency", "distribution": "fixed", "ms": ms}


def truncate(keep_bytes: int | None = None) -> dict[str, Any]:
    """The real status and headers, the body cut short (by default to half)."""
    action: dict[str, Any] = {"kind": "truncate"}
    if keep_bytes is not None:
        action["keep_bytes"] = keep_bytes
    return action


def malformed() -> dict[str, Any]:
    """The real status, a body that is not JSON."""
    return {"kind": "malformed"}


def empty() -> dict[str, Any]:
    """The real status, an empty body."""
    return {"kind": "empty"}


def stale_replay(key: str = "email+start") -> dict[str, Any]:
    """Answer a create with an existing booking at that start (the Call 687/688 incident)."""
    return {"kind": "stale_replay", "key": key}


def rewrite(**fields: Any) -> dict[str, Any]:
    """Change fields of the real answer: `rewrite(**{"data.createdAt": None})` drops one."""
    return {"kind": "rewrite", "set": fields}


def overbook() -> dict[str, Any]:
    """Cal.com accepts a create although the host is busy (the upstream allows a double)."""
    return {"kind": "overbook"}


def barrier(parties: int, *, timeout_ms: int = 2000, key: str = "host_slot") -> dict[str, Any]:
    """Park `parties` creates and decide them together (Cal.com's race semantics)."""
    return {"kind": "barrier", "parties": parties, "timeout_ms": timeout_ms, "key": key}


def slot_steal(name: str = "Outside Booker", email: str = "outside@example.com") -> dict[str, Any]:
    """An outside booker takes the requested slot just before the create is handled."""
    return {"kind": "slot_steal", "attendee": {"name": name, "email": email}}


# webhook actions (for `webhook_fault`) ----------------------------------------------------------

def webhook_duplicate(copies: int = 2) -> dict[str, Any]:
    """Send the identical delivery `copies` times."""
    return {"kind": "webhook_duplicate", "copies": copies}


def webhook_delay(ms: float) -> dict[str, Any]:
    """Deliver `ms` later (still in order relative to a flush)."""
    return {"kind": "webhook_delay", "ms": ms}


def webhook_reorder() -> dict[str, Any]:
    """Hold the delivery back and send it right after the next one to the same subscriber."""
    return {"kind": "webhook_reorder"}


def webhook_drop() -> dict[str, Any]:
    """Never deliver."""
    return {"kind": "webhook_drop"}


def webhook_bad_signature() -> dict[str, Any]:
    """Deliver with a wrong `X-Cal-Signature-256`."""
    return {"kind": "webhook_bad_signature"}
