"""The voice flows end to end over HTTP against the fake Cal.com, on SQLite and MariaDB."""

from __future__ import annotations

from service_stack import FALLBACK_EMAIL, S_ISO, S, StackFactory


async def test_book_a_free_slot(make_stack: StackFactory) -> None:
    async with make_stack() as stack:
        check = await stack.retell(
            "check-availability", datum="Mittwoch", uhrzeit="vierzehn Uhr", call_id="call_a"
        )
        assert check["status"] == "available"
        assert check["requested"] == {"start": S_ISO, "datum": "07.01.2026", "uhrzeit": "14:00"}

        answer = await stack.collect("call_a", datum="Mittwoch", uhrzeit="14 Uhr")
        assert answer["status"] == "booked", answer
        assert answer["success"] is True
        assert answer["start"] == S_ISO

        [appointment] = await stack.appointments()
        assert appointment.id == answer["appointment_id"]
        assert appointment.start == S
        assert appointment.call_id == "call_a"
        assert appointment.calcom_booking_uid == answer["booking_uid"]
        [booking] = await stack.upstream()
        assert booking["uid"] == answer["booking_uid"]
        assert booking["metadata"]["call_id"] == "call_a"
        assert set(booking["metadata"]) == {"call_id", "idempotency_key", "company_id", "source"}
        assert booking["attendees"][0]["email"] == FALLBACK_EMAIL  # no e-mail given: the fallback
