"""`fake_calcom.loop_thread.LoopThread`: one event loop on a thread, for synchronous callers."""

from __future__ import annotations

import asyncio
import inspect
import threading

import pytest

from fake_calcom.loop_thread import LoopThread


async def where() -> tuple[str, bool]:
    return threading.current_thread().name, asyncio.get_running_loop().is_running()


async def fails() -> None:
    raise KeyError("inside the loop")


def test_run_waits_for_the_result_on_the_loops_thread() -> None:
    with LoopThread(name="calharness-test-loop") as loop:
        assert loop.running
        assert loop.run(where()) == ("calharness-test-loop", True)
        assert loop.run(asyncio.sleep(0, result=42)) == 42
    assert not loop.running
    assert loop.loop.is_closed()


def test_run_raises_what_the_coroutine_raises() -> None:
    with LoopThread() as loop:
        with pytest.raises(KeyError, match="inside the loop"):
            loop.run(fails())
        assert loop.run(asyncio.sleep(0, result="still serving")) == "still serving"


def test_run_from_the_loops_own_thread_is_refused_and_closes_the_coroutine() -> None:
    inner = asyncio.sleep(0, result="never")

    async def nested() -> None:
        loop.run(inner)

    with LoopThread() as loop, pytest.raises(RuntimeError, match="await instead"):
        loop.run(nested())
    assert inspect.getcoroutinestate(inner) == inspect.CORO_CLOSED


def test_many_threads_share_one_loop() -> None:
    results: list[str] = []
    with LoopThread(name="shared") as loop:
        threads = [threading.Thread(target=lambda: results.append(loop.run(where())[0]))
                   for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
    assert results == ["shared"] * 8


def test_close_twice_is_harmless() -> None:
    loop = LoopThread()
    loop.close()
    loop.close()
    assert not loop.running
    assert loop.loop.is_closed()
