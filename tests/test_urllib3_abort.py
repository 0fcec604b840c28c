"""The Urllib3 engine frees a worker whose call ends (cancelled, timed out, or the engine closing),
whatever the worker is blocked on: connecting, or waiting on the event loop for the next chunk of a
streamed upload. A few such workers must never starve the engine, and close() must never wait for a
free worker. Every wait here is bounded: a liveness check of seconds, never a speed assertion."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from tether_urllib3 import Urllib3, Urllib3Config
from tether_urllib3.abort import WorkerCall, _create_connection, wait_on_loop

from tether import HttpClient, HttpClientConfig
from tether.plugins import HttpTimeout

#: A liveness bound: what needs well under a second must be done within this many seconds.
LIVE = 5.0


@contextlib.contextmanager
def blackhole() -> Iterator[int]:
    """A loopback listener whose accept queue is full: a connect to it hangs (SYNs are dropped)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    try:
        for _ in range(4):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            fillers.append(filler)
            with contextlib.suppress(BlockingIOError, OSError):
                filler.connect(listener.getsockname())
        yield listener.getsockname()[1]
    finally:
        for sock in fillers:
            sock.close()
        listener.close()


def in_thread(call: WorkerCall, target: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    """Run `target()` on a thread of its own, inside `call` (as a worker runs a request)."""
    outcome: list[object] = []

    def run() -> None:
        with call:
            try:
                outcome.append(target())
            except BaseException as exc:
                outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def test_an_abort_ends_a_wait_on_the_loop() -> None:
    pending: concurrent.futures.Future[bytes] = concurrent.futures.Future()
    call = WorkerCall()
    thread, outcome = in_thread(call, lambda: wait_on_loop(pending))
    time.sleep(0.1)
    assert thread.is_alive()  # waiting for a chunk that does not come
    call.abort()
    thread.join(LIVE)
    assert not thread.is_alive()
    assert isinstance(outcome[0], ConnectionAbortedError)
    assert pending.cancelled()  # the producer's side is cancelled too


def test_a_call_aborted_before_it_waits_does_not_wait() -> None:
    pending: concurrent.futures.Future[bytes] = concurrent.futures.Future()
    call = WorkerCall()
    call.abort()
    with call, pytest.raises(ConnectionAbortedError):
        call.wait(pending)
    assert pending.cancelled()


def test_a_wait_that_is_not_aborted_returns_the_result() -> None:
    ready: concurrent.futures.Future[bytes] = concurrent.futures.Future()
    ready.set_result(b"chunk")
    assert wait_on_loop(ready) == b"chunk"  # outside any call
    with WorkerCall() as call:
        assert call.wait(ready) == b"chunk"


def test_an_abort_ends_a_connect_that_hangs() -> None:
    with blackhole() as port:
        call = WorkerCall()
        thread, outcome = in_thread(call, lambda: _create_connection(("127.0.0.1", port), 30.0, None, None))
        time.sleep(0.2)
        assert thread.is_alive()  # connecting (the 30 s connect timeout is far away)
        call.abort()
        thread.join(LIVE)
        assert not thread.is_alive()
        assert isinstance(outcome[0], OSError)


class DrainingServer:
    """Loopback HTTP/1.1: reads (and drops) whatever a connection sends; GET /ok answers `ok`."""

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> DrainingServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError, asyncio.TimeoutError):
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            if head.startswith(b"GET /ok "):
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                await writer.drain()
            else:
                for _ in range(10_000):  # a stalled upload: read until the client goes away
                    if not await asyncio.wait_for(reader.read(65536), 30):
                        break
        writer.close()


async def stalled() -> AsyncIterator[bytes]:
    yield b"x" * 1000
    await asyncio.sleep(60)  # the producer has nothing more (longer than the test waits for anything)
    yield b"late"


def engine_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("tether-urllib3")]


async def no_engine_threads_left() -> bool:
    for _ in range(int(LIVE / 0.05)):
        if not engine_threads():
            return True
        await asyncio.sleep(0.05)
    return False


def with_timeouts(config: HttpClientConfig[Urllib3Config]) -> None:
    config.install(HttpTimeout)  # per-request `timeout=` needs it


@pytest.mark.parametrize("ended_by", ["cancel", "timeout"])
async def test_stalled_uploads_that_end_free_their_workers(ended_by: str) -> None:
    assert await no_engine_threads_left(), engine_threads()  # from earlier tests
    async with DrainingServer() as server:
        client = HttpClient(Urllib3, with_timeouts)
        workers = client.engine.config.threads_count
        for _ in range(workers + 2):
            if ended_by == "timeout":
                with contextlib.suppress(asyncio.TimeoutError):  # HttpRequestTimeoutException is one
                    await asyncio.wait_for(client.post(server.url("/upload"), content=stalled(), timeout=0.2), LIVE)
                continue
            task = asyncio.ensure_future(client.post(server.url("/upload"), content=stalled()))
            await asyncio.sleep(0.2)
            task.cancel()
            await asyncio.wait_for(asyncio.wait([task]), LIVE)
            assert task.cancelled()
        response = await asyncio.wait_for(client.get(server.url("/ok")), LIVE)
        assert await response.body_as_text() == "ok"
        await asyncio.wait_for(client.close(), LIVE)
    assert await no_engine_threads_left(), engine_threads()


async def test_requests_cancelled_while_connecting_free_their_workers() -> None:
    assert await no_engine_threads_left(), engine_threads()  # from earlier tests
    async with DrainingServer() as server:
        client = HttpClient(Urllib3, lambda config: setattr(config.engine, "connect_timeout", 60))
        with blackhole() as port:
            for _ in range(client.engine.config.threads_count + 2):
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(client.get(f"http://127.0.0.1:{port}/"), 0.2)
            response = await asyncio.wait_for(client.get(server.url("/ok")), LIVE)
            assert await response.body_as_text() == "ok"
        await asyncio.wait_for(client.close(), LIVE)
    assert await no_engine_threads_left(), engine_threads()


async def test_close_does_not_wait_for_a_free_worker() -> None:
    # The caller's own executor, its one thread busy with the caller's work: close() returns anyway.
    executor = concurrent.futures.ThreadPoolExecutor(1)
    release = threading.Event()
    busy = executor.submit(release.wait, 30)
    try:
        client = HttpClient(Urllib3, lambda config: setattr(config.engine, "executor", executor))
        await asyncio.wait_for(client.close(), LIVE)
        assert not busy.done()
    finally:
        release.set()
        executor.shutdown(wait=False)
