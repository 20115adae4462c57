"""A loopback endpoint serving the embedded service's view to the Locust master.

The master decides the verdict (Locust's exit code carries it), but the embedded service's
database lives in the `calharness load` process. This endpoint hands the master the same view the
scenarios judge with — appointments, audit log, processed webhooks — read straight from the
service's database on the stack's event loop. It binds 127.0.0.1 only.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from harness.stack import EmbeddedStack
from harness.world import _service_view  # the scenarios' view of the service (DB, not API)

VIEW_PATH = "/service-view"


def _view_json(view: Any) -> dict[str, Any]:
    return {"appointments": [a.to_json() for a in view.appointments],
            "audit_log": None if view.audit_log is None
            else [e.to_json() for e in view.audit_log],
            "processed_webhooks": None if view.processed_webhooks is None
            else [w.to_json() for w in view.processed_webhooks]}


class ViewServer:
    """``start()`` on the stack's loop; ``url`` is what the master fetches."""

    def __init__(self, stack: EmbeddedStack) -> None:
        self.stack = stack
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _handle(self, _request: web.Request) -> web.Response:
        view = await _service_view(self.stack)
        return web.json_response(_view_json(view), dumps=_dumps)

    async def _astart(self) -> None:
        app = web.Application()
        app.router.add_get(VIEW_PATH, self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}{VIEW_PATH}"

    async def _astop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def start(self) -> ViewServer:
        self.stack.run(self._astart())
        return self

    def stop(self) -> None:
        self.stack.run(self._astop())


def _dumps(value: Any) -> str:
    import json

    return json.dumps(value, default=str)
