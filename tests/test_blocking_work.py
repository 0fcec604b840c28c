"""Blocking work off the loop: `read_to` into blocking sinks, progress listeners, the engine's
executor (engines and the loop itself: the conformance group `blocking-work`)."""

from __future__ import annotations

import asyncio
import io
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any

import httpcore
import pytest
from yarl import URL

from tether import ByteReadChannel, HttpClient, MultiPartFormDataContent
from tether.blocking import MIN_WRITE_BATCH, ProgressNotifier, is_blocking_sink
from tether.content import PendingMultiPartContent
from tether.engine.base import HttpClientEngineBase
from tether.testing import MockEngine, request_body, respond


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


class SlowUpload:
    """A file object for `files=`: its read sleeps and notes its thread."""

    name = "/tmp/report.csv"

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.threads: list[str] = []

    def read(self) -> bytes:
        self.threads.append(threading.current_thread().name)
        time.sleep(0.05)
        data, self.data = self.data, b""
        return data


async def test_file_objects_in_files_are_read_once_on_the_executor_and_every_send_reuses_the_bytes() -> None:
    executor = CountingExecutor()
    bodies: list[bytes] = []

    def handler(request: Any) -> Any:
        bodies.append(request_body(request))
        return respond("ok")

    engine = MockEngine(handler)
    engine.config.executor = executor
    upload = SlowUpload(b"a,b\n1,2\n")
    async with HttpClient(engine) as client:
        statement = client.prepare_post("http://h/upload", data={"kind": "csv"}, files={"report": upload})
        assert isinstance(statement.builder.body, PendingMultiPartContent)  # nothing read yet
        assert upload.threads == []
        await asyncio.gather(statement.execute(), statement.execute())  # two sends at once: one read
        await statement.execute()
    assert len(upload.threads) == 1 and upload.threads[0].startswith("counted")
    assert len(bodies) == 3 and bodies[0] == bodies[1] == bodies[2]
    assert b'filename="report.csv"\r\nContent-Type: application/octet-stream\r\n\r\na,b\n1,2\n\r\n' in bodies[0]
    assert b'name="kind"\r\n\r\ncsv\r\n' in bodies[0]
    executor.shutdown()


async def test_files_given_as_bytes_or_text_build_the_body_at_once() -> None:
    async with HttpClient(MockEngine(lambda r: respond("ok"))) as client:
        builder = client.build_request("POST", "http://h/", files={"a": b"1", "b": ("b.txt", "2", "text/plain")})
    assert isinstance(builder.body, MultiPartFormDataContent)


async def test_a_file_that_cannot_be_read_fails_the_call() -> None:
    class Closed:
        def read(self) -> bytes:
            raise ValueError("I/O operation on closed file")

    async with HttpClient(MockEngine(lambda r: respond("ok"))) as client:
        with pytest.raises(ValueError, match="closed file"):
            await client.post("http://h/", files={"f": Closed()})


class FakeBackend(httpcore.AsyncNetworkBackend):
    """Connections to addresses: each address fails, hangs, or connects, as told."""

    def __init__(self, behaviour: dict[str, str]) -> None:
        self.behaviour = behaviour
        self.started: list[str] = []
        self.closed: list[str] = []

    async def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        self.started.append(host)
        what = self.behaviour[host]
        if what == "fail":
            raise httpcore.ConnectError(f"refused by {host}")
        if what == "hang":
            await asyncio.sleep(10)
        if what == "slow":
            await asyncio.sleep(0.05)
        backend = self

        class Stream(httpcore.AsyncNetworkStream):
            name = host

            async def aclose(self) -> None:
                backend.closed.append(host)

        return Stream()


def resolving(monkeypatch: pytest.MonkeyPatch, backend: FakeBackend, addresses: list[tuple[int, str]]) -> Any:
    from tether_httpx.resolver import ExecutorResolvingBackend

    def fake_getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        return [(family, socket.SOCK_STREAM, 6, "", (address, port)) for family, address in addresses]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    executor = CountingExecutor()
    return ExecutorResolvingBackend(backend, lambda: executor), executor


async def test_httpx_resolver_tries_the_next_address_at_once_when_one_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = FakeBackend({"::1": "fail", "127.0.0.1": "connect"})
    resolver, executor = resolving(monkeypatch, backend, [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")])
    stream = await resolver.connect_tcp("example.test", 80, timeout=5)
    assert stream.name == "127.0.0.1" and backend.started == ["::1", "127.0.0.1"]  # IPv6 first, as anyio
    assert executor.submitted == 1
    executor.shutdown()


async def test_httpx_resolver_races_a_hanging_address_and_keeps_the_first_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backend = FakeBackend({"10.0.0.1": "hang", "10.0.0.2": "connect", "10.0.0.3": "connect"})
    addresses = [(socket.AF_INET, "10.0.0.1"), (socket.AF_INET, "10.0.0.2"), (socket.AF_INET, "10.0.0.3")]
    resolver, executor = resolving(monkeypatch, backend, addresses)
    stream = await resolver.connect_tcp("example.test", 80)
    assert stream.name == "10.0.0.2" and backend.started == ["10.0.0.1", "10.0.0.2"]  # the hang was cancelled
    executor.shutdown()


async def test_httpx_resolver_reports_every_failed_address(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = FakeBackend({"10.0.0.1": "fail", "10.0.0.2": "fail"})
    resolver, executor = resolving(monkeypatch, backend, [(socket.AF_INET, "10.0.0.1"), (socket.AF_INET, "10.0.0.2")])
    with pytest.raises(httpcore.ConnectError, match="refused by 10.0.0.1; refused by 10.0.0.2"):
        await resolver.connect_tcp("example.test", 80)
    executor.shutdown()


async def test_httpx_resolver_passes_addresses_through_without_resolving() -> None:
    from tether_httpx.resolver import ExecutorResolvingBackend

    backend = FakeBackend({"127.0.0.1": "connect"})

    def no_executor() -> None:
        raise AssertionError("an address needs no resolving")

    stream = await ExecutorResolvingBackend(backend, no_executor).connect_tcp("127.0.0.1", 80)
    assert stream.name == "127.0.0.1"


async def test_a_file_is_written_through_its_descriptor_and_its_own_state_stays_right(tmp_path: Any) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(b"0123456789")
    parts = [bytes([65 + i]) * 100_000 for i in range(5)]
    with path.open("r+b") as file:
        file.seek(2)
        file.write(b"xy")  # still in the file's buffer when read_to starts
        channel = ByteReadChannel(chunks(*parts))
        assert await channel.read_to(file) == 500_000
        assert file.tell() == 4 + 500_000
        file.write(b"end")  # the file object goes on where the body ended
        file.seek(0)
        assert file.read(6) == b"01xyAA"
    assert path.read_bytes() == b"01xy" + b"".join(parts) + b"end"


async def test_a_partial_vectored_write_goes_on_with_the_rest(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    import tether.blocking

    calls: list[int] = []

    def stingy_writev(descriptor: int, buffers: list[Any]) -> int:
        calls.append(len(buffers))
        return os.write(descriptor, bytes(buffers[0])[:70_001])  # at most part of the first buffer

    monkeypatch.setattr(tether.blocking, "_writev", stingy_writev)
    parts = [bytes([65 + i]) * 100_000 for i in range(4)]
    with (tmp_path / "out.bin").open("wb") as file:
        assert await ByteReadChannel(chunks(*parts)).read_to(file) == 400_000
    assert (tmp_path / "out.bin").read_bytes() == b"".join(parts) and len(calls) > 4


@pytest.mark.parametrize("sink_kind", ["memory", "file"])
async def test_read_to_with_a_limit_leaves_the_rest_of_the_chunk(sink_kind: str, tmp_path: Any) -> None:
    async def source() -> AsyncIterator[bytes]:
        yield b"0123456789"
        yield b"abcdef"

    channel = ByteReadChannel(source(), expected_length=16)
    if sink_kind == "memory":
        sink: Any = io.BytesIO()
        assert await channel.read_to(sink, limit=4) == 4
        assert sink.getvalue() == b"0123"
    else:
        with (tmp_path / "part").open("wb") as sink:
            assert await channel.read_to(sink, limit=4) == 4
        assert (tmp_path / "part").read_bytes() == b"0123"
    assert await channel.read_all() == b"456789abcdef"
