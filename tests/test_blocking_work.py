"""Blocking work off the loop: `read_to` into blocking sinks, progress listeners, the engine's
executor (engines and the loop itself: the conformance group `blocking-work`)."""

from __future__ import annotations

import asyncio
import io
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any

import pytest
from yarl import URL

from tether import ByteReadChannel, HttpClient
from tether.blocking import MIN_WRITE_BATCH, ProgressNotifier, is_blocking_sink
from tether.engine.base import HttpClientEngineBase
from tether.testing import MockEngine, respond


class CountingExecutor(Executor):
    """Runs work on a pool and counts it, noting the threads it ran on."""

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(2, thread_name_prefix="counted")
        self.submitted = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.submitted += 1
        return self.pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.pool.shutdown(wait, cancel_futures=cancel_futures)


async def chunks(*parts: bytes, pause: float = 0.0) -> AsyncIterator[bytes]:
    for part in parts:
        if pause:
            await asyncio.sleep(pause)
        yield part


class RecordingFile:
    """A blocking sink: notes each write's data and thread, and whether it was flushed."""

    def __init__(self, delay: float = 0.0) -> None:
        self.parts: list[bytes] = []
        self.threads: set[str] = set()
        self.flushed = False
        self.delay = delay
        self.started = threading.Event()

    def write(self, data: bytes) -> None:
        self.threads.add(threading.current_thread().name)
        self.started.set()
        if self.delay:
            time.sleep(self.delay)
        self.parts.append(bytes(data))

    def flush(self) -> None:
        self.flushed = True


def test_which_sinks_count_as_blocking() -> None:
    class AsyncSink:
        async def write(self, data: bytes) -> None: ...

    assert is_blocking_sink(RecordingFile()) and is_blocking_sink(io.BufferedWriter(io.BytesIO()))
    assert not is_blocking_sink(io.BytesIO()) and not is_blocking_sink(AsyncSink())


async def test_a_blocking_sink_gets_every_byte_in_order_on_the_executor_then_a_flush() -> None:
    executor = CountingExecutor()
    parts = [bytes([i % 256]) * 10_000 for i in range(200)]  # 2 MB in 10 kB chunks
    channel = ByteReadChannel(chunks(*parts))
    channel.executor = executor
    sink = RecordingFile()
    assert await channel.read_to(sink) == 2_000_000
    assert b"".join(sink.parts) == b"".join(parts)
    assert sink.threads == {name for name in sink.threads if name.startswith("counted")}
    assert sink.flushed
    # Batched: a trip to a worker per MIN_WRITE_BATCH bytes or more, not one per chunk.
    assert executor.submitted <= 2_000_000 // MIN_WRITE_BATCH + 2
    executor.shutdown()


async def test_limit_stops_a_blocking_copy_at_the_exact_byte() -> None:
    sink = RecordingFile()
    assert await ByteReadChannel(chunks(b"abc", b"defg", b"hij")).read_to(sink, limit=5) == 5
    assert b"".join(sink.parts) == b"abcde"


async def test_a_failing_write_closes_the_channel_and_raises_its_error() -> None:
    class Full:
        def write(self, data: bytes) -> None:
            raise OSError("disk full")

    released: list[bool] = []
    channel = ByteReadChannel(chunks(b"x" * MIN_WRITE_BATCH, b"y" * 10), on_close=lambda: released.append(True))
    with pytest.raises(OSError, match="disk full"):
        await channel.read_to(Full())
    assert channel.is_closed_for_read and released == [True]


async def test_a_cancelled_copy_returns_only_once_the_write_in_flight_is_over() -> None:
    sink = RecordingFile(delay=0.2)
    channel = ByteReadChannel(chunks(b"a" * MIN_WRITE_BATCH, b"b", pause=0.01))
    task = asyncio.create_task(channel.read_to(sink))
    assert await asyncio.to_thread(sink.started.wait, 10)  # the first write has started on a worker
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sink.parts == [b"a" * MIN_WRITE_BATCH]  # it finished before read_to gave up: no write in flight
    assert channel.is_closed_for_read


async def test_in_memory_and_async_sinks_are_written_on_the_loop() -> None:
    loop_thread = threading.current_thread().name
    seen: list[str] = []

    class AsyncSink:
        async def write(self, data: bytes) -> None:
            seen.append(threading.current_thread().name)

    buffer = io.BytesIO()
    assert await ByteReadChannel(chunks(b"ab", b"c")).read_to(buffer) == 3
    assert buffer.getvalue() == b"abc"
    await ByteReadChannel(chunks(b"ab", b"c")).read_to(AsyncSink())
    assert seen == [loop_thread, loop_thread]


async def test_a_plain_write_returning_an_awaitable_asks_for_blocking_false() -> None:
    class Odd:
        def write(self, data: bytes) -> Any:
            return asyncio.sleep(0)

    with pytest.raises(TypeError, match="blocking=False"):
        await ByteReadChannel(chunks(b"x")).read_to(Odd(), blocking=True)
    assert await ByteReadChannel(chunks(b"x")).read_to(Odd(), blocking=False) == 1


async def test_a_response_body_is_written_on_the_engine_executor() -> None:
    executor = CountingExecutor()
    engine = MockEngine(lambda r: respond(chunks(b"1" * 1000, b"2" * 1000)))
    engine.config.executor = executor
    sink = RecordingFile()
    async with HttpClient(engine) as client, client.prepare_get("http://h/x").execute() as response:
        assert await response.body_as_channel().read_to(sink) == 2000
    assert executor.submitted >= 1 and all(name.startswith("counted") for name in sink.threads)
    executor.shutdown()


async def test_an_engine_without_an_executor_owns_a_pool_of_threads_count_and_shuts_it_down() -> None:
    engine = MockEngine(lambda r: respond("ok"))
    engine.config.threads_count = 3
    pool = engine.executor
    assert isinstance(pool, ThreadPoolExecutor) and pool._max_workers == 3
    assert engine.executor is pool
    await engine.close()
    assert isinstance(engine, HttpClientEngineBase) and pool._shutdown


async def test_a_plain_progress_listener_is_coalesced_off_the_loop_and_always_gets_the_last_value() -> None:
    loop_thread = threading.current_thread().name
    reports: list[int] = []
    threads: set[str] = set()

    def slow(done: int, total: int | None) -> None:
        threads.add(threading.current_thread().name)
        time.sleep(0.02)
        reports.append(done)

    notifier = ProgressNotifier(slow, None)
    for done in range(1, 101):
        await notifier.notify(done, 100)
        await asyncio.sleep(0.001)
    await notifier.finish()
    assert reports[0] == 1 and reports[-1] == 100 and reports == sorted(reports)
    assert len(reports) < 100  # coalesced while a call was running
    assert loop_thread not in threads


async def test_a_failing_progress_listener_fails_the_transfer() -> None:
    def broken(done: int, total: int | None) -> None:
        raise RuntimeError("listener bug")

    notifier = ProgressNotifier(broken, None)
    await notifier.notify(1, 2)
    with pytest.raises(RuntimeError, match="listener bug"):
        await notifier.finish()


async def test_aiohttp_resolves_names_on_the_configured_executor() -> None:
    from tether_aiohttp import Aiohttp
    from tether_conformance import ServerEnvironment

    executor = CountingExecutor()
    with ServerEnvironment() as env:
        url = URL(env.http("/bytes?size=10")).with_host("localhost")

        def configure(config: Any) -> None:
            config.engine.executor = executor

        async with HttpClient(Aiohttp, configure) as client:
            response = await client.get(url)
            assert len(await response.body_as_bytes()) == 10
    assert executor.submitted >= 1  # getaddrinfo("localhost"): nothing else here blocks
    executor.shutdown()
