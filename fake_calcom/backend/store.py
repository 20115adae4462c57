"""The Backend: the fake's state and Cal.com's booking rules (API-FACTS §4, contracts §1.3).

Every method is synchronous and runs to completion, so a check ("is the slot free?") and its
commit can never be interleaved by another request: races exist only where the barrier fault
asks for one, through `prepare_create` + `commit` (availability judged for a whole group before
any of them commits).
"""

from __future__ import annotations

import copy
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from fake_calcom.backend.busy import BusyIndex
from fake_calcom.backend.clock import VirtualClock
from fake_calcom.backend.errors import (
    BUSY_MESSAGE,
    OUT_OF_BOUNDS_MESSAGE,
    PAST_MESSAGE,
    TEAM_BUSY_MESSAGE,
    BadRequest,
    BookingConflict,
    CalcomError,
    Forbidden,
    NotFound,
    Unauthorized,
)
from fake_calcom.backend.ids import IdGenerator
from fake_calcom.backend.models import (
    Attendee,
    Booking,
    CreateRequest,
    EventType,
    Host,
    Reservation,
    WebhookSubscription,
)
from fake_calcom.backend.reservations import NOT_FIRST_IN_LINE, ReservationBook, seconds_until
from fake_calcom.backend.seed_data import SeedData, default_seed_data, load_seed_data
from fake_calcom.backend.slots import WorkingCalendar, free_slots
from fake_calcom.backend.timefmt import iso_ms
from fake_calcom.backend.webhooks import WebhookQueue, booking_payload, js_json, webhook_body

KeyMode = Literal["host_slot", "attendee"]

DEFAULT_RESERVATION_MIN = 5  # POST /v2/slots/reservations without reservationDuration
LEGACY_RESERVATION_MIN = 5  # POST /v2/slots/reserve: Cal.com's MINUTES_TO_BOOK default
RESERVED_MESSAGE = "This time slot is already reserved by another user. Please choose a different time."
RESERVE_BOOKED_MESSAGE = "Can't reserve a slot if the event is already booked."
RESERVATION_DURATION_FORBIDDEN = (
    "authenticated user is not owner of event type, does not have memberships in common with owner "
    "of the event type, nor does belong to event type's team or org."
)
CONFIRM_UNAUTHORIZED = "User is not authorized to confirm this booking"
PRISMA_CONFLICT = "Invalid Input: Trying to create a record that already exists."


@dataclass(slots=True)
class CreatePlan:
    """A create that passed validation and availability, not yet committed."""

    request: CreateRequest
    event_type: EventType
    host_ids: tuple[int, ...]
    start: datetime
    end: datetime
    status: str
    existing: Booking | None = None  # set when Cal.com's dedupe path returns an old booking


@dataclass(slots=True)
class CreateResult:
    booking: Booking
    created: bool  # False when the dedupe path returned an existing booking unchanged


def _unavailable(event_type: EventType) -> BadRequest:
    """Cal.com's answer when no host of `event_type` can take the slot."""
    if event_type.is_team:
        return BadRequest(TEAM_BUSY_MESSAGE, reason="hosts_unavailable_for_booking")
    return BadRequest(BUSY_MESSAGE, reason="no_available_users_found_error")


def booking_idempotency_key(booking: Booking) -> str | None:
    """Cal.com's `idempotencyKey` column: set while active, null once cancelled/rejected."""
    if not booking.active:
        return None
    start_ms = int(booking.start.timestamp() * 1000)
    end_ms = int(booking.end.timestamp() * 1000)
    if booking.key_mode == "attendee":
        emails = ",".join(a.email for a in booking.attendees[:1])
        return f"{booking.event_type_id}.{start_ms}.{end_ms}.{emails}"
    return f"{start_ms}.{end_ms}.{'.'.join(str(h) for h in booking.host_ids)}"


class Backend:
    """State + rules. No I/O; the wire layer and the control plane drive it."""

    def __init__(
        self,
        seed: int = 0,
        seed_data: dict[str, Any] | None = None,
        clock: VirtualClock | None = None,
    ) -> None:
        self.clock = clock or VirtualClock()
        self.seed = seed
        self.ids = IdGenerator(seed)
        self.webhooks = WebhookQueue()
        self._seed_raw = seed_data if seed_data is not None else default_seed_data()
        self.data: SeedData = load_seed_data(self._seed_raw)
        self.calendar = WorkingCalendar(self.data.hosts)
        self.subscriptions: dict[int, WebhookSubscription] = {}
        self.bookings_created = 0
        # PATCH /v2/me: what each user changed of their profile (host id -> fields).
        self.profile_updates: dict[int, dict[str, Any]] = {}
        self._clear_bookings()
        self._load_subscriptions()

    # ------------------------------------------------------------------ state management

    def _clear_bookings(self) -> None:
        self.bookings: dict[str, Booking] = {}
        self.bookings_by_id: dict[int, Booking] = {}
        self._by_start: dict[datetime, list[Booking]] = defaultdict(list)
        # Active bookings per host, for the overlap check.
        self._busy = BusyIndex()
        self._active_count: dict[int, int] = defaultdict(int)
        # Cal.com's unique idempotency key today: one active booking per (host, start, end).
        self._slot_keys: dict[tuple[int, datetime, datetime], int] = defaultdict(int)
        self.reservations = ReservationBook()
        self._origins: dict[tuple[tuple[str, Any], ...], dict[str, Any]] = {}

    def _load_subscriptions(self) -> None:
        self.subscriptions = {}
        for entry in self.data.webhooks:
            self.add_subscription(
                subscriber_url=entry["subscriberUrl"],
                triggers=entry.get("triggers"),
                secret=entry.get("secret"),
                active=entry.get("active", True),
                owner_id=entry.get("ownerId"),
                payload_template=entry.get("payloadTemplate"),
            )

    def reset(self, scope: str = "all") -> None:
        """`all`: seed data, no bookings, ids re-seeded, clock real; `bookings`: bookings + queue."""
        if scope not in ("all", "bookings"):
            raise ValueError("scope must be 'all' or 'bookings'")
        self._clear_bookings()
        self.webhooks.clear()
        self.bookings_created = 0
        if scope == "all":
            self.ids.reseed(self.seed)
            self.data = load_seed_data(self._seed_raw)
            self.calendar = WorkingCalendar(self.data.hosts)
            self._load_subscriptions()
            self.profile_updates = {}
            self.clock.reset()

    def replace_seed_data(self, raw: dict[str, Any]) -> None:
        """Validate and install new seed data, then reset everything."""
        load_seed_data(raw)  # raises SeedDataError with a clear message
        self._seed_raw = copy.deepcopy(raw)
        self.reset("all")

    def seed_data(self) -> dict[str, Any]:
        return copy.deepcopy(self._seed_raw)

    # ------------------------------------------------------------------ lookups

    def host(self, host_id: int) -> Host | None:
        return self.data.hosts.get(host_id)

    def hosts_of(self, booking: Booking) -> list[Host]:
        return [self.data.hosts[h] for h in booking.host_ids if h in self.data.hosts]

    def event_type(self, event_type_id: int) -> EventType | None:
        return self.data.event_types.get(event_type_id)

    def event_type_by_slug(self, slug: str, username: str | None) -> EventType | None:
        for event_type in self.data.event_types.values():
            if event_type.slug != slug:
                continue
            if username is None:
                return event_type
            usernames = {self.data.hosts[h].username for h in event_type.host_ids}
            if username in usernames:
                return event_type
        return None

    def host_by_username(self, username: str) -> Host | None:
        for host in self.data.hosts.values():
            if host.username == username:
                return host
        return None

    def owner_of_key(self, key: str) -> Host | None:
        api_key = self.data.api_keys.get(key)
        return self.data.hosts.get(api_key.host_id) if api_key else None

    def owner_of_token(self, token: str) -> Host | None:
        """The managed user a platform access token belongs to."""
        access = self.data.access_tokens.get(token)
        return self.data.hosts.get(access.host_id) if access else None

    def get_booking(self, uid: str) -> Booking:
        booking = self.bookings.get(uid)
        if booking is None:
            raise NotFound(f"Booking with uid={uid} was not found in the database")
        return booking

    def is_busy(self, host_id: int, start: datetime, end: datetime, ignore_uid: str | None = None) -> bool:
        return self._busy.any_overlapping(host_id, start, end, ignore_uid)

    def busy_intervals(
        self, host_id: int, start: datetime, end: datetime, ignore_uid: str | None = None
    ) -> list[tuple[datetime, datetime]]:
        """The host's active bookings overlapping [start, end), as (start, end) pairs."""
        return [(b.start, b.end) for b in self._busy.overlapping(host_id, start, end) if b.uid != ignore_uid]

    def slots(
        self,
        event_type: EventType,
        first: datetime,
        last: datetime,
        length: int | None = None,
        ignore_uid: str | None = None,
        viewer_reservation: str | None = None,
    ) -> list[datetime]:
        """Free slot starts; `ignore_uid` is a booking being rescheduled (its time counts as free).

        A slot another caller holds a reservation for is not free; the holder's own
        (`viewer_reservation`) is."""

        def busy(host_id: int, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
            return self.busy_intervals(host_id, start, end, ignore_uid)

        now = self.clock.now()
        starts = free_slots(event_type, self.calendar, first, last, now, busy, length)
        held = [r for r in self.reservations.holding(event_type.id, now) if r.uid != viewer_reservation]
        if not held or not starts:
            return starts
        step = timedelta(minutes=length or event_type.length)
        return [s for s in starts if not any(r.start < s + step and s < r.end for r in held)]

    # ------------------------------------------------------------------ indexes

    def _index(self, booking: Booking) -> None:
        self.bookings[booking.uid] = booking
        self.bookings_by_id[booking.id] = booking
        self._by_start[booking.start].append(booking)
        if booking.active:
            self._index_busy(booking)

    def _index_busy(self, booking: Booking) -> None:
        for host_id in booking.host_ids:
            self._active_count[host_id] += 1
            self._slot_keys[(host_id, booking.start, booking.end)] += 1
            self._busy.add(host_id, booking)

    def _unindex_busy(self, booking: Booking) -> None:
        for host_id in booking.host_ids:
            self._active_count[host_id] -= 1
            key = (host_id, booking.start, booking.end)
            self._slot_keys[key] -= 1
            if not self._slot_keys[key]:
                del self._slot_keys[key]
            self._busy.remove(host_id, booking)

    def active_at(self, start: datetime) -> list[Booking]:
        """Active bookings starting exactly at `start` (dedupe, stale replay)."""
        return [b for b in self._by_start.get(start, ()) if b.active]

    # ------------------------------------------------------------------ create

    def _event_type_or_404(self, event_type_id: int) -> EventType:
        event_type = self.data.event_types.get(event_type_id)
        if event_type is None:
            raise NotFound(f"Event type with id {event_type_id} not found.")
        return event_type

    def find_dedupe(self, event_type: EventType, start: datetime, attendee: Attendee) -> Booking | None:
        """Cal.com's "return the original booking" path (requires confirmation / round robin)."""
        if event_type.requires_confirmation:
            wanted = "pending"
        elif event_type.scheduling_type == "round_robin":
            wanted = "accepted"
        else:
            return None
        email = attendee.email.lower() if attendee.email else None
        phone = attendee.phone_number
        for booking in self._by_start.get(start, ()):
            if booking.event_type_id != event_type.id or booking.status != wanted:
                continue
            for other in booking.attendees:
                if (email and other.email.lower() == email) or (phone and other.phone_number == phone):
                    return booking
        return None

    def prepare_create(
        self,
        request: CreateRequest,
        *,
        overbook: bool = False,
        check_time: bool = True,
        ignore_uid: str | None = None,
        dedupe: bool = True,
    ) -> CreatePlan:
        """Validate a create against the current state; raises the Cal.com error it would get."""
        event_type = self._event_type_or_404(request.event_type_id)
        length = request.length or event_type.length
        start = request.start
        end = start + timedelta(minutes=length)
        if check_time:
            now = self.clock.now()
            if start < now:
                raise BadRequest(PAST_MESSAGE)
            if start < now + timedelta(minutes=event_type.minimum_notice):
                raise BadRequest(OUT_OF_BOUNDS_MESSAGE, reason="booking_time_out_of_bounds_error")
        status = "pending" if event_type.requires_confirmation else "accepted"
        if dedupe:
            existing = self.find_dedupe(event_type, start, request.attendee)
            if existing is not None:
                return CreatePlan(request, event_type, existing.host_ids, start, end, status, existing)
        host_ids = self._choose_hosts(event_type, start, end, overbook=overbook, ignore_uid=ignore_uid)
        return CreatePlan(request, event_type, host_ids, start, end, status)

    def _choose_hosts(
        self,
        event_type: EventType,
        start: datetime,
        end: datetime,
        *,
        overbook: bool,
        ignore_uid: str | None,
    ) -> tuple[int, ...]:
        calendar = self.calendar
        busy = self._busy

        def available(host: Host) -> bool:
            if not calendar.within_working_hours(host, start, end):
                return False
            return overbook or not busy.any_overlapping(host.id, start, end, ignore_uid)

        if len(event_type.host_ids) == 1:  # the common event type: no list, no closure call chain
            host = self.data.hosts[event_type.host_ids[0]]
            if available(host):
                return event_type.host_ids
            raise _unavailable(event_type)
        hosts = [self.data.hosts[h] for h in event_type.host_ids]
        if event_type.scheduling_type == "collective":
            if not all(available(h) for h in hosts):
                raise _unavailable(event_type)
            return tuple(h.id for h in hosts)
        candidates = [h for h in hosts if available(h)]
        if not candidates:
            raise _unavailable(event_type)
        if event_type.scheduling_type == "round_robin":
            chosen = min(candidates, key=lambda h: (self._active_count[h.id], h.id))
            return (chosen.id,)
        return (candidates[0].id,)

    def collides(self, plan: CreatePlan, mode: KeyMode = "host_slot") -> bool:
        """Would committing `plan` hit the unique idempotency key of an active booking?"""
        if mode == "attendee":
            email = plan.request.attendee.email
            return any(
                b.event_type_id == plan.event_type.id
                and b.end == plan.end
                and b.key_mode == "attendee"
                and b.attendees[0].email == email
                for b in self.active_at(plan.start)
            )
        keys = self._slot_keys
        return any((host_id, plan.start, plan.end) in keys for host_id in plan.host_ids)

    def commit(
        self,
        plan: CreatePlan,
        *,
        origin: dict[str, Any],
        key_mode: KeyMode = "host_slot",
        check_key: bool = True,
        created_at: datetime | None = None,
        status: str | None = None,
        rescheduled_from: Booking | None = None,
        webhooks: bool = True,
        respect_reservations: bool = True,
    ) -> CreateResult:
        """Insert the booking of `plan` (or hand back the dedupe path's existing one).

        The booking takes ownership of the request's attendee, metadata and responses: callers
        pass objects nobody else holds (a parsed request body, or copies).
        """
        if plan.existing is not None:
            return CreateResult(plan.existing, created=False)
        now = self.clock.now()
        request = plan.request
        slot = (plan.event_type.id, plan.start, plan.end)
        if respect_reservations:
            # One dict lookup when nobody holds this slot (Cal.com: the earliest active
            # reservation of the slot must be the caller's own).
            first = self.reservations.first_in_line(slot, now)
            if first is not None and first.uid != request.reserved_slot_uid:
                raise CalcomError(409, NOT_FIRST_IN_LINE.format(seconds=seconds_until(first, now)))
        if check_key and self.collides(plan, key_mode):
            raise BookingConflict()
        stamp = created_at or now
        attendee = request.attendee
        attendee.id = self.ids.attendee_id()
        host = self.data.hosts[plan.host_ids[0]]
        booking = Booking(
            id=self.ids.booking_id(),
            uid=self.ids.uid(),
            event_type_id=plan.event_type.id,
            host_ids=plan.host_ids,
            status=status or plan.status,  # type: ignore[arg-type]
            start=plan.start,
            end=plan.end,
            attendees=[attendee],
            metadata=request.metadata,
            created_at=stamp,
            updated_at=stamp,
            title=f"{plan.event_type.title} between {host.name} and {attendee.name}",
            description=plan.event_type.description,
            location=request.location if request.location is not None else plan.event_type.location,
            guests=tuple(request.guests),
            responses=request.responses,
            origin=self._shared_origin(origin),
        )
        if rescheduled_from is not None:
            booking.rescheduled_from_uid = rescheduled_from.uid
        booking.key_mode = key_mode
        self._index(booking)
        self.bookings_created += 1
        reserved = self.reservations.get(request.reserved_slot_uid) if request.reserved_slot_uid else None
        if reserved is not None and reserved.key == slot:
            self.reservations.remove(reserved.uid)  # the booking consumes the caller's reservation
        if webhooks:
            if rescheduled_from is not None:
                trigger = "BOOKING_RESCHEDULED"
            else:
                trigger = "BOOKING_REQUESTED" if booking.status == "pending" else "BOOKING_CREATED"
            self.emit(trigger, booking, rescheduled_from=rescheduled_from)
        return CreateResult(booking, created=True)

    def _shared_origin(self, origin: dict[str, Any]) -> dict[str, Any]:
        """One dict per distinct origin (a handful: per API key owner), never one per booking:
        nothing changes a booking's origin, and it is copied whenever it is shown."""
        try:
            key = tuple(origin.items())
            shared = self._origins.get(key)
        except TypeError:  # an unhashable value: this one gets its own
            return dict(origin)
        if shared is None:
            shared = self._origins[key] = dict(origin)
        return shared

    def create_booking(
        self,
        request: CreateRequest,
        *,
        overbook: bool = False,
        origin: dict[str, Any] | None = None,
    ) -> CreateResult:
        """POST /v2/bookings: validate, dedupe, check availability and commit, atomically."""
        plan = self.prepare_create(request, overbook=overbook)
        origin = origin or {"kind": "api", "api_key_owner": request.api_key_owner}
        return self.commit(plan, origin=origin, check_key=not overbook)

    def take_slot(
        self,
        request: CreateRequest,
        *,
        created_at: datetime | None = None,
        status: str | None = None,
        webhooks: bool = True,
    ) -> Booking:
        """An outside booker books this slot (control plane, slot_steal): availability and
        working hours apply, "in the past"/notice do not (the booking may be back-dated)."""
        plan = self.prepare_create(request, check_time=False, dedupe=False)
        result = self.commit(
            plan,
            origin={"kind": "outside"},
            created_at=created_at,
            status=status,
            webhooks=webhooks,
            respect_reservations=False,  # the control plane's outside booker forces its way in
        )
        return result.booking

    # ------------------------------------------------------------------ cancel / reschedule

    def _set_status(self, booking: Booking, status: str) -> None:
        was_active = booking.active
        booking.status = status  # type: ignore[assignment]
        if was_active and not booking.active:
            self._unindex_busy(booking)  # frees the slot, as Cal.com's key extension does
        elif booking.active and not was_active:
            self._index_busy(booking)

    def cancel(
        self,
        uid: str,
        *,
        reason: str | None = None,
        caller: Host | None = None,
    ) -> Booking:
        booking = self.get_booking(uid)
        if booking.status in ("cancelled", "rejected"):
            raise BadRequest(
                f"Can't cancel booking with uid={uid} because it has been cancelled already. "
                "Please provide uid of a booking that is not cancelled."
            )
        if caller is not None and caller.id in booking.host_ids and not reason:
            raise BadRequest("Cancellation reason is required when you are the host")
        self._set_status(booking, "cancelled")
        booking.cancellation_reason = reason
        if caller is not None:
            booking.cancelled_by_email = caller.email
        booking.updated_at = self.clock.now()
        self.emit("BOOKING_CANCELLED", booking)
        return booking

    def reschedule(
        self,
        uid: str,
        new_start: datetime,
        *,
        rescheduled_by: str | None = None,
        reason: str | None = None,
        overbook: bool = False,
        api_key_owner: int | None = None,
        reserved_slot_uid: str | None = None,
    ) -> Booking:
        """A new booking at `new_start` (rescheduledFromUid = uid); the old one is cancelled."""
        old = self.get_booking(uid)
        if old.status in ("cancelled", "rejected"):
            if old.rescheduled_to_uid:
                raise BadRequest(
                    f"Can't reschedule booking with uid={uid} because it has been cancelled and "
                    f"rescheduled already to booking with uid={old.rescheduled_to_uid}. You can "
                    f"reschedule the new booking with uid={old.rescheduled_to_uid}."
                )
            raise BadRequest(
                f"Can't reschedule booking with uid={uid} because it has been cancelled. Please "
                "provide uid of a booking that is not cancelled."
            )
        request = CreateRequest(
            event_type_id=old.event_type_id,
            start=new_start,
            attendee=copy.copy(old.attendees[0]),
            length=old.duration_minutes,
            metadata=copy.deepcopy(old.metadata),
            guests=list(old.guests),
            responses=copy.deepcopy(old.responses),
            api_key_owner=api_key_owner,
            location=old.location,
            reserved_slot_uid=reserved_slot_uid,
        )
        plan = self.prepare_create(request, overbook=overbook, ignore_uid=old.uid, dedupe=False)
        # The old booking stops holding the slot in the same step, so rescheduling onto an
        # overlapping time of one's own booking works as in Cal.com.
        previous_status = old.status
        self._set_status(old, "cancelled")
        try:
            result = self.commit(
                plan,
                origin={"kind": "api", "api_key_owner": api_key_owner},
                check_key=not overbook,
                rescheduled_from=old,
            )
        except Exception:
            self._set_status(old, previous_status)
            raise
        new = result.booking
        new.rescheduled_by_email = rescheduled_by
        new.rescheduling_reason = reason
        old.rescheduled_to_uid = new.uid
        old.rescheduled_by_email = rescheduled_by
        old.rescheduling_reason = reason
        old.updated_at = self.clock.now()
        return new

    # ------------------------------------------------------------------ confirm / decline

    def _confirmable(self, uid: str, caller: Host) -> Booking:
        """Cal.com's confirm handler: the host (or a host of its event type) only; an accepted
        booking is "already confirmed" (also for a decline: the check comes first)."""
        booking = self.get_booking(uid)
        event_type = self.data.event_types.get(booking.event_type_id)
        hosts = set(booking.host_ids) | set(event_type.host_ids if event_type else ())
        if caller.id not in hosts:
            raise Unauthorized(CONFIRM_UNAUTHORIZED)
        if booking.status == "accepted":
            raise BadRequest("Booking already confirmed")
        return booking

    def confirm(self, uid: str, caller: Host) -> Booking:
        """POST …/confirm: the booking becomes accepted (BOOKING_CREATED).

        Cal.com checks nothing but "already accepted": a cancelled or rejected booking is
        accepted again, and only its unique key (another active booking of the host at that
        exact slot) can refuse it — Prisma's P2002, a 409."""
        booking = self._confirmable(uid, caller)
        if not booking.active and any(
            (host_id, booking.start, booking.end) in self._slot_keys for host_id in booking.host_ids
        ):
            raise CalcomError(409, PRISMA_CONFLICT, code="CONFLICT")
        self._set_status(booking, "accepted")
        booking.updated_at = self.clock.now()
        self.emit("BOOKING_CREATED", booking)
        return booking

    def decline(self, uid: str, caller: Host, reason: str | None = None) -> Booking:
        """POST …/decline: the booking becomes rejected (BOOKING_REJECTED), its slot freed."""
        booking = self._confirmable(uid, caller)
        self._set_status(booking, "rejected")
        booking.rejection_reason = reason
        booking.updated_at = self.clock.now()
        self.emit("BOOKING_REJECTED", booking)
        return booking

    # ------------------------------------------------------------------ slot reservations

    def is_booked(self, event_type: EventType, start: datetime, end: datetime) -> bool:
        """An active booking of this event type overlaps [start, end) (Cal.com's
        `findActiveOverlappingBooking`)."""
        return any(
            b.event_type_id == event_type.id
            for host_id in event_type.host_ids
            for b in self._busy.overlapping(host_id, start, end)
        )

    def may_set_reservation_duration(self, owner_id: int, event_type: EventType) -> bool:
        """The owner, or someone sharing a team with a host (or the event type's team)."""
        if owner_id in event_type.host_ids:
            return True
        for team in self.data.teams.values():
            if owner_id in team.member_ids and (
                team.id == event_type.team_id or set(team.member_ids) & set(event_type.host_ids)
            ):
                return True
        return False

    def _reservation_window(
        self, event_type: EventType, start: datetime, slot_duration: int | None
    ) -> datetime:
        if slot_duration is not None:
            raise BadRequest("You passed 'slotDuration' but this event type is not a variable length event type.")
        try:
            return start + timedelta(minutes=event_type.length)
        except OverflowError:
            raise BadRequest("Invalid end date") from None

    def _until(self, now: datetime, minutes: int) -> datetime:
        try:
            return now + timedelta(minutes=minutes)
        except OverflowError:
            raise BadRequest("Invalid reservation duration") from None

    def reserve(
        self,
        *,
        event_type_id: int,
        start: datetime,
        slot_duration: int | None = None,
        reservation_minutes: int | None = None,
        owner_id: int | None = None,
        check_booked: bool = True,
        expire_after_s: float | None = None,
        fault: str | None = None,
    ) -> Reservation:
        """POST /v2/slots/reservations (2024-09-04): hold the slot for a few minutes.

        Refused (422) when a booking of the event type overlaps it or another reservation holds
        it. `check_booked=False` and `expire_after_s` are the reservation faults."""
        event_type = self.data.event_types.get(event_type_id)
        if event_type is None:
            raise NotFound(f"Event Type with ID={event_type_id} not found")
        if reservation_minutes and owner_id is not None and not self.may_set_reservation_duration(owner_id, event_type):
            raise Forbidden(RESERVATION_DURATION_FORBIDDEN)
        end = self._reservation_window(event_type, start, slot_duration)
        now = self.clock.now()
        if check_booked and self.is_booked(event_type, start, end):
            raise CalcomError(422, RESERVE_BOOKED_MESSAGE)
        minutes = DEFAULT_RESERVATION_MIN if reservation_minutes is None else reservation_minutes
        if self.reservations.overlapping(event_type_id, start, end, now):
            raise CalcomError(422, RESERVED_MESSAGE)
        until = self._until(now, minutes)
        reservation = Reservation(
            uid=self.ids.reservation_uid(),
            seq=self.reservations.next_seq(),
            event_type_id=event_type_id,
            host_ids=event_type.host_ids[:1],
            start=start,
            end=end,
            created_at=now,
            release_at=until,
            announced_until=until,
            duration_min=minutes,
            api="2024-09-04",
            owner_id=owner_id,
        )
        self._apply_reservation_faults(reservation, now, expire_after_s, fault)
        self.reservations.add(reservation)
        return reservation

    @staticmethod
    def _apply_reservation_faults(
        reservation: Reservation, now: datetime, expire_after_s: float | None, fault: str | None
    ) -> None:
        if expire_after_s is not None:
            reservation.release_at = min(reservation.release_at, now + timedelta(seconds=expire_after_s))
        if fault:
            reservation.faults.append(fault)

    def update_reservation(
        self,
        uid: str,
        *,
        event_type_id: int,
        start: datetime,
        slot_duration: int | None = None,
        reservation_minutes: int | None = None,
        check_booked: bool = True,
        expire_after_s: float | None = None,
        fault: str | None = None,
    ) -> Reservation:
        """PATCH /v2/slots/reservations/{uid}: move it and hold it anew from now."""
        current = self.reservations.get(uid)
        if current is None:
            raise NotFound(f"Slot with uid={uid} not found")
        event_type = self.data.event_types.get(event_type_id)
        if event_type is None:
            raise NotFound(f"Event Type with ID={event_type_id} not found")
        end = self._reservation_window(event_type, start, slot_duration)
        now = self.clock.now()
        if check_booked and self.is_booked(event_type, start, end):
            raise CalcomError(422, RESERVE_BOOKED_MESSAGE)
        minutes = DEFAULT_RESERVATION_MIN if reservation_minutes is None else reservation_minutes
        if self.reservations.overlapping(event_type_id, start, end, now, ignore_uid=uid):
            raise CalcomError(422, RESERVED_MESSAGE)
        until = self._until(now, minutes)
        self.reservations.remove(uid)
        current.event_type_id = event_type_id
        current.host_ids = event_type.host_ids[:1]
        current.start, current.end = start, end
        current.release_at = current.announced_until = until
        current.duration_min = minutes
        self._apply_reservation_faults(current, now, expire_after_s, fault)
        self.reservations.add(current)
        return current

    def reserve_legacy(
        self,
        *,
        event_type_id: int,
        start: datetime,
        end: datetime,
        uid: str | None = None,
        expire_after_s: float | None = None,
        fault: str | None = None,
    ) -> Reservation:
        """POST /v2/slots/reserve (2024-04-15): upsert the caller's reservation (the `uid`
        cookie, else a new uid) for 5 minutes. This version checks neither bookings nor other
        reservations (Cal.com's `upsertSelectedSlot`); a create by anyone else is still refused."""
        event_type = self.data.event_types.get(event_type_id)
        if event_type is None:
            raise NotFound("Event Type not found")
        now = self.clock.now()
        until = self._until(now, LEGACY_RESERVATION_MIN)
        existing = self.reservations.get(uid) if uid else None
        if existing is not None:
            self.reservations.remove(existing.uid)
        reservation = Reservation(
            uid=uid or self.ids.reservation_uid(),
            seq=existing.seq if existing is not None else self.reservations.next_seq(),
            event_type_id=event_type_id,
            host_ids=event_type.host_ids,
            start=start,
            end=end,
            created_at=existing.created_at if existing is not None else now,
            release_at=until,
            announced_until=until,
            duration_min=LEGACY_RESERVATION_MIN,
            api="2024-04-15",
        )
        self._apply_reservation_faults(reservation, now, expire_after_s, fault)
        self.reservations.add(reservation)
        return reservation

    def release_reservation(self, uid: str) -> bool:
        """DELETE a reservation (Cal.com's `deleteMany`: no error when there is none)."""
        return self.reservations.remove(uid) is not None

    # ------------------------------------------------------------------ profile (PATCH /v2/me)

    def update_profile(self, host_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        self.profile_updates.setdefault(host_id, {}).update(copy.deepcopy(changes))
        return self.profile(host_id)

    def profile(self, host_id: int) -> dict[str, Any]:
        """What PATCH /v2/me changed of this user (empty when nothing)."""
        return copy.deepcopy(self.profile_updates.get(host_id, {}))

    # ------------------------------------------------------------------ listing

    def list_bookings(self, owner_id: int | None) -> list[Booking]:
        """Bookings the API key owner hosts (all bookings when owner_id is None), by id."""
        bookings = self.bookings_by_id.values()
        if owner_id is None:
            return sorted(bookings, key=lambda b: b.id)
        return sorted((b for b in bookings if owner_id in b.host_ids), key=lambda b: b.id)

    # ------------------------------------------------------------------ webhooks

    def add_subscription(
        self,
        *,
        subscriber_url: str,
        triggers: list[str] | None = None,
        secret: str | None = None,
        active: bool = True,
        owner_id: int | None = None,
        payload_template: str | None = None,
    ) -> WebhookSubscription:
        from fake_calcom.backend.webhooks import TRIGGERS

        subscription = WebhookSubscription(
            id=self.ids.webhook_id(),
            subscriber_url=subscriber_url,
            triggers=tuple(triggers) if triggers else TRIGGERS,
            active=active,
            secret=secret,
            payload_template=payload_template,
            owner_id=owner_id,
        )
        self.subscriptions[subscription.id] = subscription
        return subscription

    def emit(self, trigger: str, booking: Booking, *, rescheduled_from: Booking | None = None) -> None:
        """Queue one delivery per active subscription that wants `trigger` for this booking."""
        targets = [
            s
            for s in self.subscriptions.values()
            if s.active
            and trigger in s.triggers
            and (s.owner_id is None or s.owner_id in booking.host_ids)
        ]
        if not targets:
            return
        payload = booking_payload(
            booking,
            self.data.event_types.get(booking.event_type_id),
            self.hosts_of(booking),
            rescheduled_from=rescheduled_from,
        )
        document = webhook_body(trigger, self.clock.now(), payload)
        body = js_json(document)
        for subscription in sorted(targets, key=lambda s: s.id):
            self.webhooks.enqueue(
                {
                    "subscription_id": subscription.id,
                    "subscriber_url": subscription.subscriber_url,
                    "trigger": trigger,
                    "booking_uid": booking.uid,
                    "body": body,
                    "secret": subscription.secret,
                    "document": document,
                }
            )

    # ------------------------------------------------------------------ ground truth

    def ground_truth(self) -> dict[str, Any]:
        return {
            "now": iso_ms(self.clock.now()),
            "bookings": [self.booking_truth(b) for b in self.list_bookings(None)],
            "webhook_deliveries": [d.ground_truth() for d in self.webhooks.records],
            "reservations": [self.reservation_truth(r) for r in self.reservations.all()],
            "profileUpdates": {str(k): copy.deepcopy(v) for k, v in sorted(self.profile_updates.items())},
        }

    def reservation_truth(self, reservation: Reservation) -> dict[str, Any]:
        return {
            "uid": reservation.uid,
            "eventTypeId": reservation.event_type_id,
            "hostIds": list(reservation.host_ids),
            "start": iso_ms(reservation.start),
            "end": iso_ms(reservation.end),
            "createdAt": iso_ms(reservation.created_at),
            "releaseAt": iso_ms(reservation.release_at),
            "announcedUntil": iso_ms(reservation.announced_until),
            "holding": reservation.holds(self.clock.now()),
            "api": reservation.api,
            "ownerId": reservation.owner_id,
            "faults": list(reservation.faults),
        }

    @staticmethod
    def booking_truth(booking: Booking) -> dict[str, Any]:
        return {
            "id": booking.id,
            "uid": booking.uid,
            "status": booking.status,
            "start": iso_ms(booking.start),
            "end": iso_ms(booking.end),
            "eventTypeId": booking.event_type_id,
            "hostIds": list(booking.host_ids),
            "attendees": [
                {"name": a.name, "email": a.email, "phoneNumber": a.phone_number}
                for a in booking.attendees
            ],
            "metadata": copy.deepcopy(booking.metadata),
            "createdAt": iso_ms(booking.created_at),
            "updatedAt": iso_ms(booking.updated_at),
            "rescheduledFromUid": booking.rescheduled_from_uid,
            "rescheduledToUid": booking.rescheduled_to_uid,
            "cancellationReason": booking.cancellation_reason,
            "rejectionReason": booking.rejection_reason,
            "origin": dict(booking.origin),
        }

