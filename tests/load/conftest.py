"""Fixtures of the load tests.

The caller flow and the judge run here in-process against the embedded stack, over real HTTP —
but Locust itself is never imported into pytest (gevent and asyncio do not mix): the tests of
whole load runs start `calharness load` as subprocesses.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from load_exchange import HttpExchange

from harness.stack import EmbeddedStack, StackOptions


@pytest.fixture(scope="session")
def load_stack() -> Iterator[EmbeddedStack]:
    options = StackOptions(journal=False, label="load-tests", allow_docker=False)
    with EmbeddedStack(options) as stack:
        yield stack


@pytest.fixture
def stack(load_stack: EmbeddedStack) -> EmbeddedStack:
    """The session's stack, clean, every defense on (a test may switch some off)."""
    load_stack.reset(())
    return load_stack


@pytest.fixture
def exchange(stack: EmbeddedStack) -> HttpExchange:
    return HttpExchange(stack.service_url)
