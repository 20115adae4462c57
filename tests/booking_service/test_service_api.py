"""Tenant read API, health and metrics (with no personal data in labels or logs)."""

from __future__ import annotations

import logging

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from service_stack import BERLIN_KEY, HAMBURG_KEY, S_ISO, Stack, StackFactory

from booking_service.app import AccessLogger


async def book_two(stack: Stack) -> tuple[dict, dict]:
    first = await stack.collect("call_a", telefon="+49 170 1234567", email="hans@example.com")
    second = await stack.collect("call_b", name="Eva_100% Else", uhrzeit="15:00")
    assert first["status"] == second["status"] == "booked"
    return first, second


@pytest.mark.parametrize(
    "header", [None, "Bearer nope-nope-nope", "Basic YmVybGlu", "Bearer", "bs_demo_berlin"]
)
async def test_reads_need_a_company_key(make_stack: StackFactory, header: str | None) -> None:
    async with make_stack(webhooks=False) as stack:
        headers = {"Authorization": header} if header else {}
        for path in ("/api/appointments", "/api/appointments/1", "/api/customers"):
            async with stack.http.get(stack.url + path, headers=headers) as response:
                assert response.status == 401
                assert (await response.json())["error"] == "unauthorized"
                assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_list_and_filters(make_stack: StackFactory) -> None:
    async with make_stack(webhooks=False) as stack:
        first, second = await book_two(stack)
        status, listed = await stack.get("/api/appointments", BERLIN_KEY)
        assert status == 200
        assert [a["id"] for a in listed["appointments"]] == [
            first["appointment_id"],
            second["appointment_id"],
        ]
        one = listed["appointments"][0]
        assert set(one) == {
            "id",
            "company_id",
            "branch_id",
            "service",
            "event_type_id",
            "call_id",
            "customer",
            "start",
            "end",
            "status",
            "booking_uid",
            "host_id",
            "source",
            "created_at",
            "updated_at",
        }
        assert (one["service"], one["start"], one["status"], one["source"]) == (
            "Beratung",
            S_ISO,
            "scheduled",
            "voice",
        )
        assert one["branch_id"] == "6f1c2b0e-3d4a-4c59-9e8f-0a1b2c3d4e5f"
        assert one["customer"]["name"] == "Hans Schuster"
        _, by_call = await stack.get("/api/appointments", BERLIN_KEY, {"call_id": "call_b"})
        assert [a["id"] for a in by_call["appointments"]] == [second["appointment_id"]]
        _, by_date = await stack.get(
            "/api/appointments", BERLIN_KEY, {"date": "2026-01-07", "status": "scheduled"}
        )
        assert len(by_date["appointments"]) == 2
        _, other_day = await stack.get("/api/appointments", BERLIN_KEY, {"date": "2026-01-08"})
        assert other_day["appointments"] == []
        _, page = await stack.get("/api/appointments", BERLIN_KEY, {"limit": "1", "offset": "1"})
        assert [a["id"] for a in page["appointments"]] == [second["appointment_id"]]
        status, one_by_id = await stack.get(
            f"/api/appointments/{first['appointment_id']}", BERLIN_KEY
        )
        assert status == 200
        assert one_by_id == one


@pytest.mark.parametrize(
    "params",
    [
        {"status": "booked"},
        {"date": "07.01.2026"},
        {"call_id": "x' OR 1=1 --"},
        {"limit": "0"},
        {"limit": "abc"},
        {"offset": "-1"},
    ],
)
async def test_bad_filters_are_400(make_stack: StackFactory, params: dict[str, str]) -> None:
    async with make_stack(webhooks=False) as stack:
        status, answer = await stack.get("/api/appointments", BERLIN_KEY, params)
        assert status == 400
        assert answer["error"] == "bad_request"


@pytest.mark.parametrize("appointment_id", ["999", "abc", "1;DROP TABLE appointments"])
async def test_unknown_appointment_is_404(make_stack: StackFactory, appointment_id: str) -> None:
    async with make_stack(webhooks=False) as stack:
        status, answer = await stack.get(f"/api/appointments/{appointment_id}", BERLIN_KEY)
        assert status == 404
        assert answer["error"] == "not_found"


async def test_customer_search_is_parameterised(make_stack: StackFactory) -> None:
    async with make_stack(webhooks=False) as stack:
        await book_two(stack)
        _, hans = await stack.get("/api/customers", BERLIN_KEY, {"search": "schuster"})
        assert [(c["name"], c["phone"], c["email"]) for c in hans["customers"]] == [
            ("Hans Schuster", "+491701234567", "hans@example.com")
        ]
        _, by_phone = await stack.get("/api/customers", BERLIN_KEY, {"search": "170123"})
        assert len(by_phone["customers"]) == 1
        _, percent = await stack.get("/api/customers", BERLIN_KEY, {"search": "100%"})
        assert [c["name"] for c in percent["customers"]] == ["Eva_100% Else"]  # % and _ are literal
        _, underscore = await stack.get("/api/customers", BERLIN_KEY, {"search": "Ev_"})
        assert underscore["customers"] == []
        _, injection = await stack.get("/api/customers", BERLIN_KEY, {"search": "' OR '1'='1"})
        assert injection["customers"] == []
        _, everyone = await stack.get("/api/customers", BERLIN_KEY)
        assert len(everyone["customers"]) == 2
        _, hamburg = await stack.get("/api/customers", HAMBURG_KEY)
        assert hamburg["customers"] == []


async def test_healthz(make_stack: StackFactory, database_url: str) -> None:
    async with make_stack(webhooks=False) as stack:
        status, health = await stack.get("/healthz")
        assert status == 200
        assert health["status"] == "ok"
        assert health["database"] == database_url.split(":")[0].split("+")[0].replace(
            "mysql", "mariadb"
        )


async def test_metrics_count_outcomes_and_layers_without_personal_data(
    make_stack: StackFactory,
) -> None:
    async with make_stack() as stack:
        first, _ = await book_two(stack)
        await stack.collect("call_c", name="Carla Dritt")  # slot taken by call_a
        await stack.flush()
        async with stack.http.get(stack.url + "/metrics") as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain")
            text = await response.text()
        assert 'booking_service_bookings_total{outcome="booked"} 2.0' in text
        assert 'booking_service_bookings_total{outcome="slot_taken"} 1.0' in text
        assert (
            'booking_service_duplicate_prevention_rejections_total{layer="availability_double_check",reason="local_appointment"} 1.0'
            in text
        )
        assert "booking_service_calcom_booking_age_seconds_count 2.0" in text
        assert (
            'booking_service_calcom_request_duration_seconds_count{endpoint="POST /v2/bookings",outcome="2xx"} 2.0'
            in text
        )
        assert "booking_service_calcom_circuit_state 0.0" in text
        assert 'booking_service_webhooks_total{event="BOOKING_CREATED"' in text
        for private in (
            "Hans",
            "Schuster",
            "hans@example.com",
            "1701234567",
            "termin@praxis",
            "call_a",
            first["booking_uid"],
        ):
            assert private not in text


async def test_two_apps_in_one_process_have_their_own_metrics(make_stack: StackFactory) -> None:
    async with make_stack(webhooks=False) as one, make_stack(webhooks=False) as two:
        await one.collect("call_a")
        assert (
            one.ctx.metrics.registry.get_sample_value(
                "booking_service_bookings_total", {"outcome": "booked"}
            )
            == 1
        )
        assert (
            two.ctx.metrics.registry.get_sample_value(
                "booking_service_bookings_total", {"outcome": "booked"}
            )
            is None
        )


async def test_logs_never_show_phone_or_email(
    make_stack: StackFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with make_stack() as stack:
        await stack.control.take_slot(
            2004,
            S_ISO,
            {"name": "Hans Schuster", "email": "termin@praxis-berlin.example"},
            age_s=3600,
            webhooks=False,
        )
        refused = await stack.collect(
            "call_a", service="Teamtermin", telefon="+49 170 1234567", email="not-an-email"
        )
        assert refused["status"] == "stale_booking_data"
        assert "STALE BOOKING" in caplog.text
        own = [r for r in caplog.records if r.name.startswith("booking_service")]
        assert own
        for (
            record
        ) in own:  # (driver DEBUG logs carry SQL parameters; `serve` keeps them at WARNING)
            for private in (
                "termin@praxis-berlin.example",
                "not-an-email",
                "1701234567",
                "170 1234567",
            ):
                assert private not in record.getMessage(), (record.name, record.getMessage())


async def test_server_timing_separates_the_service_from_calcom(make_stack: StackFactory) -> None:
    async with make_stack(webhooks=False) as stack:
        timings = []
        for call_id, uhrzeit in (("c1", "14:00"), ("c2", "15:00")):
            args = {
                "datum": "07.01.2026",
                "uhrzeit": uhrzeit,
                "name": "Hans",
                "dienstleistung": "Beratung",
                "call_id": call_id,
            }
            async with stack.http.post(
                stack.url + "/api/retell/collect-appointment", json={"args": args}
            ) as response:
                timings.append(
                    dict(
                        part.strip().split(";", 1)
                        for part in response.headers["Server-Timing"].split(",")
                    )
                )
        for parts in timings:
            total = float(parts["total"].split("=")[1])
            calcom = float(parts["calcom"].split(";")[0].split("=")[1])
            assert 0 < calcom <= total
        # The first booking also learns the event type's shape (cached); then slots, create and
        # the after-create look at the host's bookings.
        assert [p["calcom"].split("desc=")[1] for p in timings] == ['"4 calls"', '"3 calls"']


def test_the_access_log_shows_paths_not_query_strings(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    request = make_mocked_request("GET", "/api/customers?search=%2B491701234567")
    AccessLogger(logging.getLogger("aiohttp.access"), "").log(
        request, web.Response(status=200), 0.004
    )
    [line] = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert '"GET /api/customers" 200 4.0ms' in line
    assert "search" not in line
    assert "1701234567" not in line
