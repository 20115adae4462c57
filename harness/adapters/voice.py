"""The reference's API shape: Retell-style voice-agent functions (docs/contracts.md §2.3).

The harness vocabulary was taken from this API, so answers pass through as they are. Calls are
attributed by ``metadata.call_id``, which the reference writes into every booking it makes.
Any service speaking the same voice API (a Retell agent's functions) can use this adapter.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from harness.adapters import AdapterContext, Attribution, Request
from harness.clients.service import Answer, ServiceClient
from harness.target import TargetCompany


class VoiceAdapter:
    capabilities = frozenset({"check", "book", "cancel", "reschedule", "appointments",
                              "voice_api", "tenant_reads", "webhooks", "reconcile"})
    attribution = Attribution("metadata", "call_id")

    def __init__(self, context: AdapterContext) -> None:
        settings = dict(context.settings)
        unknown = sorted(set(settings) - {"timeout_s"})
        if unknown:
            raise ValueError(f"voice adapter: unknown setting(s) {unknown}; known: timeout_s")
        self.client = ServiceClient(context.target.service_url, session=context.http,
                                    timeout_s=float(settings.get("timeout_s", 30.0)))

    async def check(self, request: Request) -> Answer:
        return await self.client.check_availability(request.record(),
                                                    to_number=request.to_number)

    async def book(self, request: Request) -> Answer:
        return await self.client.collect_appointment(request.record(), to_number=request.to_number,
                                                     timeout_s=request.timeout_s)

    async def cancel(self, request: Request) -> Answer:
        return await self.client.cancel_appointment(request.record(), to_number=request.to_number)

    async def reschedule(self, request: Request) -> Answer:
        return await self.client.reschedule_appointment(request.record(),
                                                        to_number=request.to_number)

    async def appointments(self, company: TargetCompany, day: date) -> list[dict[str, Any]]:
        answer = await self.client.list_appointments(company.api_key, date=day.isoformat(),
                                                     limit="1000")
        if answer.http_status != 200 or not isinstance(answer.body, dict):
            raise RuntimeError(f"GET /api/appointments for {company.role} answered "
                               f"{answer.http_status}: {answer.body or answer.error}")
        return list(answer.body.get("appointments", []))

    async def close(self) -> None:
        await self.client.close()
