"""The webhook delivery worker: POSTs queued deliveries in order and applies webhook faults.

One POST per subscriber and event, no retries (Cal.com's default path, API-FACTS §5). Faults:
`webhook_duplicate` (copies), `webhook_delay` (later, still awaited by flush),
`webhook_reorder` (held until the next delivery to the same subscriber has gone),
`webhook_drop` (never sent), `webhook_bad_signature` (wrong `X-Cal-Signature-256`).

With `hold` on, deliveries wait in the queue until a flush sends them: a test decides when the
webhooks arrive (a state machine makes "deliver the webhooks" a step of its own) instead of
racing the requests that caused them.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

import aiohttp

from fake_calcom.backend.webhooks import Delivery

if TYPE_CHECKING:
    from fake_calcom.wire.state import FakeState


class DeliveryWorker:
    def __init__(self, state: FakeState) -> None:
        self.state = state
        self.queue = state.backend.webhooks
        self._wakeup = asyncio.Event()
        self._progress = asyncio.Event()
        self._held: dict[str, tuple[Delivery, int]] = {}  # subscriber -> (delivery, copies)
        self._delayed: set[asyncio.Task[None]] = set()
        self._sending = 0
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self.hold = False  # deliveries wait for a flush
        self._flushing = 0

    async def start(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.state.config.webhook_timeout_s)
        self._session = aiohttp.ClientSession(timeout=timeout)
        self.queue.notify = self._wakeup.set
        self._task = asyncio.create_task(self._run(), name="fake-calcom-webhooks")
        if self.queue.pending:
            self._wakeup.set()

    async def stop(self) -> None:
        self.queue.notify = None
        for task in [self._task, *self._delayed]:
            if task is not None:
                task.cancel()
        for task in [self._task, *self._delayed]:
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._session is not None:
            await self._session.close()

    def reset(self) -> None:
        """Forget held and delayed deliveries (the queue itself is cleared by the backend);
        deliveries go out as they come again."""
        self.hold = False
        self._held.clear()
        for task in self._delayed:
            task.cancel()
        self._delayed.clear()
        self._progress.set()

    # ------------------------------------------------------------------ the loop

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self.queue.pending and (not self.hold or self._flushing):
                delivery = self.queue.pending.popleft()
                self._sending += 1
                try:
                    await self._dispatch(delivery)
                finally:
                    self._sending -= 1
                    self._progress.set()

    async def _dispatch(self, delivery: Delivery) -> None:
        reorder = delay = False
        copies = 1
        delay_ms = 0.0
        for fault in self.state.faults.select_webhook(delivery.trigger, delivery.document):
            kind = fault.kind
            fault.fired += 1
            delivery.faults.append(fault.name)
            if kind == "webhook_drop":
                delivery.outcome = "dropped"
                delivery.settle()
                return
            if kind == "webhook_bad_signature":
                delivery.signature_valid = False
            elif kind == "webhook_duplicate":
                copies = max(copies, int(fault.action.get("copies", 2)))
            elif kind == "webhook_delay":
                delay = True
                delay_ms = max(delay_ms, float(fault.action["ms"]))
            elif kind == "webhook_reorder":
                reorder = True
        if reorder and delivery.subscriber_url not in self._held:
            self._held[delivery.subscriber_url] = (delivery, copies)
            return
        if delay:
            task = asyncio.create_task(self._later(delivery, copies, delay_ms / 1000))
            self._delayed.add(task)
            task.add_done_callback(self._delayed.discard)
            return
        await self._send_all(delivery, copies)
        await self._release_held(delivery.subscriber_url, except_for=delivery)

    async def _later(self, delivery: Delivery, copies: int, seconds: float) -> None:
        try:
            await asyncio.sleep(seconds)
            await self._send_all(delivery, copies)
        finally:
            self._progress.set()

    async def _release_held(self, url: str, *, except_for: Delivery | None = None) -> None:
        entry = self._held.get(url)
        if entry is None or entry[0] is except_for:
            return
        del self._held[url]
        await self._send_all(*entry)

    async def _send_all(self, delivery: Delivery, copies: int) -> None:
        await self._post(delivery)
        sent = [delivery]
        for copy in range(2, copies + 1):
            duplicate = self.queue.add_copy(delivery, copy)
            await self._post(duplicate)
            sent.append(duplicate)
        for record in sent:
            record.settle()

    async def _post(self, delivery: Delivery) -> None:
        assert self._session is not None
        try:
            async with self._session.post(
                delivery.subscriber_url, data=delivery.body, headers=delivery.headers(), allow_redirects=False
            ) as response:
                await response.read()
                delivery.http_status = response.status
                delivery.outcome = "sent" if 200 <= response.status < 300 else "failed"
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as error:
            delivery.outcome = "failed"
            delivery.error = f"{type(error).__name__}: {error}"

    def wake(self) -> None:
        """Look at the queue again (after `hold` was switched off)."""
        self._wakeup.set()

    # ------------------------------------------------------------------ flush

    def busy(self) -> bool:
        return bool(self.queue.pending or self._sending or self._delayed or self._held)

    async def flush(self, timeout_s: float) -> bool:
        """Wait until every queued, delayed and held delivery has been attempted."""
        self._flushing += 1
        try:
            return await self._flush(timeout_s)
        finally:
            self._flushing -= 1

    async def _flush(self, timeout_s: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        self._wakeup.set()
        while True:
            if not self.queue.pending and not self._sending:
                # Nothing will come after a held delivery any more: send it now.
                for url in list(self._held):
                    self._sending += 1
                    try:
                        await self._release_held(url)
                    finally:
                        self._sending -= 1
            if not self.busy():
                return True
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            self._progress.clear()
            if self.queue.pending:
                self._wakeup.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), timeout=min(remaining, 0.5))
