"""The service's log lines, kept for the harness to read (`GET /_test/logs`).

A bounded ring buffer on the service's own loggers, behind the same redaction filter the service
puts on every handler (`booking_service.pii`), so what the harness reads is what an operator's
log would show — the evidence for "no caller's phone number or e-mail in the logs".
"""

from __future__ import annotations

import collections
import logging
import threading
from typing import Any

from booking_service.pii import RedactingFilter

#: The loggers whose lines an operator sees from this service.
SERVICE_LOGGERS = ("booking_service", "aiohttp.access", "aiohttp.server", "aiohttp.web")


class LogBuffer(logging.Handler):
    def __init__(self, capacity: int = 5000) -> None:
        super().__init__(level=logging.DEBUG)
        self.addFilter(RedactingFilter())
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self._lines: collections.deque[dict[str, Any]] = collections.deque(maxlen=capacity)
        self._seq = 0
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:  # a broken record must not break the service
            return
        with self._guard:
            self._seq += 1
            self._lines.append({"seq": self._seq, "logger": record.name,
                                "level": record.levelname, "line": text})

    def since(self, seq: int) -> dict[str, Any]:
        with self._guard:
            lines = [line for line in self._lines if line["seq"] > seq]
            return {"lines": lines, "last": self._seq}

    def attach(self) -> None:
        for name in SERVICE_LOGGERS:
            logger = logging.getLogger(name)
            logger.addHandler(self)
            if logger.getEffectiveLevel() > logging.INFO:
                logger.setLevel(logging.INFO)

    def detach(self) -> None:
        for name in SERVICE_LOGGERS:
            logging.getLogger(name).removeHandler(self)
