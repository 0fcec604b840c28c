"""Faults: nothing hangs, the loop is never blocked or poisoned, nothing is left open (issue 15, section 2).

Every case is bounded: each call that could hang runs under `bounded(...)`, a hang check of many
times the time the call needs (never a performance assertion); the scripted servers end every
scenario by themselves (`FAULT_SCRIPT_LIMIT`).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

from tether import (
    ConnectError,
    ConnectTimeoutException,
    HttpClient,
    HttpClientConfig,
    HttpRequestTimeoutException,
    ProtocolError,
    ResponseClosedError,
    SocketTimeoutException,
    SSEClientException,
    TetherError,
)
from tether.engine import HttpClientEngineConfig, SSECapability
from tether.plugins import BodyProgress, HttpTimeout
from tether.plugins.sse import SSE
from tether_conformance.registry import CaseContext, case
from tether_conformance.servers.raw import FAULT_SCRIPT_LIMIT, FaultServer, fault_server

T = TypeVar("T")

#: The hang check: a call that needs well under a second (or the timeout under test) must be done
#: within this many seconds, even on a loaded machine.
HANG = 10.0


async def bounded(action: Awaitable[T], what: str, limit: float = HANG) -> T:
    try:
        return await asyncio.wait_for(action, limit)
    except TetherError:
        raise  # tether's timeout exceptions are TimeoutErrors too: not a hang
    except asyncio.TimeoutError:
        raise AssertionError(f"{what}: still not done after {limit:g} s (hung)") from None


def refused_port() -> int:
    """A loopback port nobody listens on (bound, then closed: connecting is refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def engine_settings(**values: Any) -> Any:
    def configure(config: HttpClientConfig[Any]) -> None:
        for name, value in values.items():
            setattr(config.engine, name, value)

    return configure


async def ok(client: HttpClient, url: str, what: str) -> None:
    response = await bounded(client.get(url), what)
    body = await bounded(response.body_as_text(), f"{what} (body)")
    if (response.status, body) != (200, "ok"):
        raise AssertionError(f"{what}: expected 200 'ok', got {response.status} {body!r}")


async def connections_closed(server: FaultServer, before: int, what: str) -> None:
    """The server sees every connection the client opened closed again: within half the time after
    which the server's scripts give up and close by themselves (so a leak cannot hide behind them)."""
    for _ in range(int(FAULT_SCRIPT_LIMIT / 2 / 0.05)):
        if server.open_connections <= before:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what}: {server.open_connections - before} connection(s) still open")


class LoopWatch:
    """The longest the event loop went without running a 10 ms ticker: a blocked loop shows here."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        for _ in range(100_000):
            await asyncio.sleep(0.01)
            now = loop.time()
            self.longest = max(self.longest, now - last)
            last = now

    def __enter__(self) -> LoopWatch:
        self._task = asyncio.get_running_loop().create_task(self._tick())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


# -- a connection failure must not break later requests ----------------------------------------------
@case("faults", "refused-connections-then-healthy-requests", timeout=120)
async def refused_then_healthy(t: CaseContext) -> None:
    server = fault_server()
    async with t.client() as client:
        for index in range(6):
            await bounded(t.raises(ConnectError, client.get(f"http://127.0.0.1:{refused_port()}/")), "refused")
            await ok(client, server.url("ok"), f"healthy request {index} after a refused one")


@case("faults", "connect-timeout-then-healthy-requests", timeout=120)
async def connect_timeout_then_healthy(t: CaseContext) -> None:
    server = fault_server()
    async with t.client(lambda config: config.install(HttpTimeout, connect_timeout=0.2)) as client:
        for index in range(3):
            url = f"http://127.0.0.1:{t.env.blackhole_port}/"
            await bounded(t.raises(ConnectTimeoutException, client.get(url)), "connect timeout")
            await ok(client, server.url("ok"), f"healthy request {index} after a connect timeout")


@case("faults", "the-engine-connect-timeout-bounds-connecting-unless-the-request-sets-one", timeout=120)
async def engine_connect_timeout(t: CaseContext) -> None:
    # The engine's default applies to a request without HttpTimeout, and to one whose HttpTimeout sets
    # other limits but no connect timeout; a request's own connect timeout wins. Each names its value.
    url = f"http://127.0.0.1:{t.env.blackhole_port}/"
    async with t.client(engine_settings(connect_timeout=0.3)) as client:
        exc = await bounded(t.raises(ConnectTimeoutException, client.get(url)), "engine connect timeout")
        t.equal(exc.timeout, 0.3, "the engine's connect timeout")

    def with_socket_timeout(config: HttpClientConfig[Any]) -> None:
        engine_settings(connect_timeout=0.3)(config)
        config.install(HttpTimeout, socket_timeout=30)

    async with t.client(with_socket_timeout) as client:
        exc = await bounded(t.raises(ConnectTimeoutException, client.get(url)), "engine connect timeout")
        t.equal(exc.timeout, 0.3, "the engine's connect timeout beside a socket timeout")

    def with_own_connect_timeout(config: HttpClientConfig[Any]) -> None:
        engine_settings(connect_timeout=30)(config)
        config.install(HttpTimeout, connect_timeout=0.2)

    async with t.client(with_own_connect_timeout) as client:
        exc = await bounded(t.raises(ConnectTimeoutException, client.get(url)), "request connect timeout")
        t.equal(exc.timeout, 0.2, "the request's own connect timeout")


@case("faults", "cut-responses-then-healthy-requests", timeout=120)
async def cut_then_healthy(t: CaseContext) -> None:
    server = fault_server()
    async with t.client() as client:
        for index in range(12):
            cut = server.url("cut") if index % 2 else t.env.raw_url("truncated-content-length")
            await bounded(t.raises(ProtocolError, client.get(cut)), "cut response")
            await ok(client, server.url("ok"), f"healthy request {index} after a cut one")
            response = await bounded(client.get(t.env.http("/delay?seconds=0")), f"request {index} to another server")
            t.equal(response.status, 200, "status")


@case("faults", "connection-close-churn", timeout=120)
async def close_churn(t: CaseContext) -> None:
    server = fault_server()
    async with t.client() as client:
        for index in range(150):
            await ok(client, server.url("ok-close"), f"Connection: close request {index}")


@case("faults", "other-sockets-on-the-same-loop-are-left-alone", timeout=120)
async def foreign_sockets(t: CaseContext) -> None:
    # Code outside tether opens its own connections on the loop while the client churns through
    # connections: the engine must never touch a selector registration it does not own.
    server = fault_server()

    async def plain(index: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            writer.write(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
            await writer.drain()
            answer = await reader.readexactly(40)
            if not answer.endswith(b"ok"):
                raise AssertionError(f"plain connection {index}: got {answer!r}")
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def churn(client: HttpClient) -> None:
        for index in range(60):
            await ok(client, server.url("ok-close"), f"churn request {index}")
            with contextlib.suppress(ConnectError):
                await client.get(f"http://127.0.0.1:{refused_port()}/")

    async with t.client() as client:
        churning = asyncio.ensure_future(churn(client))
        try:
            for index in range(120):
                await bounded(plain(index), f"plain asyncio connection {index}")
        finally:
            await bounded(churning, "the client's own requests")


# -- cancel and close return at once, never block the loop -----------------------------------------
@case("faults", "cancelling-a-streamed-read-does-not-block-the-loop", timeout=120)
async def cancel_streamed_read(t: CaseContext) -> None:
    server = fault_server()
    before = server.open_connections
    async with t.client() as client:
        for _ in range(2):
            started = asyncio.Event()

            async def read_forever(started: asyncio.Event = started) -> None:
                async with client.prepare_get(server.url("stall-body")).execute() as response:
                    channel = response.body_as_channel()
                    await channel.read(100)
                    started.set()
                    for _ in range(1_000_000):  # until cancelled (or the server gives up)
                        if not await channel.read(65536):
                            break

            with LoopWatch() as watch:
                task = asyncio.ensure_future(read_forever())
                await bounded(started.wait(), "the first body bytes")
                await asyncio.sleep(0.2)  # the engine is now waiting for bytes that never come
                task.cancel()
                await bounded(asyncio.wait([task]), "the cancelled read")
                await asyncio.sleep(0.05)
            t.check(task.cancelled(), f"the read ended with {task}")
            # A blocked loop waits for the server's give-up (FAULT_SCRIPT_LIMIT seconds).
            t.check(watch.longest < 2.0, f"the event loop was blocked for {watch.longest:.1f} s")
        await ok(client, server.url("ok"), "a request after the cancelled reads")
    await connections_closed(server, before, "after close()")


@case("faults", "cancelling-an-sse-session-does-not-block-the-loop", requires=[SSECapability], timeout=120)
async def cancel_sse(t: CaseContext) -> None:
    server = fault_server()
    before = server.open_connections
    async with t.client(lambda config: config.install(SSE)) as client:
        started = asyncio.Event()

        async def listen() -> None:
            async with client.sse(server.url("stall-sse")) as session:
                async for _event in session.incoming:
                    started.set()

        with LoopWatch() as watch:
            task = asyncio.ensure_future(listen())
            waiting = asyncio.ensure_future(started.wait())
            await bounded(asyncio.wait([task, waiting], return_when=asyncio.FIRST_COMPLETED), "the first event")
            waiting.cancel()
            if task.done():  # it failed before the first event (UnsupportedCapabilityError): say so
                task.result()
                raise AssertionError("the session ended before its first event")
            await asyncio.sleep(0.2)
            task.cancel()
            await bounded(asyncio.wait([task]), "the cancelled session")
            await asyncio.sleep(0.05)
        t.check(watch.longest < 2.0, f"the event loop was blocked for {watch.longest:.1f} s")
    await connections_closed(server, before, "after close()")


@case("faults", "cancelled-requests-to-a-silent-server-do-not-starve-the-engine", timeout=120)
async def cancelled_silent(t: CaseContext) -> None:
    server = fault_server()
    before = server.open_connections
    client = t.client()
    async with client:
        for _ in range(12):
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(client.get(server.url("silent")), 0.1)
        await ok(client, server.url("ok"), "a request after 12 cancelled ones")
        with LoopWatch() as watch:
            await bounded(client.close(), "close()")
        t.check(watch.longest < 2.0, f"close() blocked the event loop for {watch.longest:.1f} s")
    await connections_closed(server, before, "after close()")


@case("faults", "cancellation-storm-leaves-the-client-usable", timeout=180)
async def cancellation_storm(t: CaseContext) -> None:
    # Few connections, many requests competing for them, cancelled at every stage (waiting for a
    # connection, connecting, waiting for the head, reading the body).
    server = fault_server()
    before = server.open_connections
    randomness = random.Random(15)
    client = t.client(engine_settings(max_connections=4))
    async with client:

        async def one(delay: float) -> None:
            with contextlib.suppress(asyncio.TimeoutError):
                response = await asyncio.wait_for(client.get(t.env.http("/delay?seconds=0.002")), delay)
                await response.body_as_bytes()

        for _ in range(10):
            batch = [one(randomness.uniform(0.0, 0.02)) for _ in range(40)]
            await bounded(asyncio.gather(*batch), "a batch of cancelled requests")
        for index in range(0, 200, 20):
            await bounded(
                asyncio.gather(*(ok(client, server.url("ok"), f"request {index + n}") for n in range(20))),
                f"requests {index}..{index + 19} after the storm",
            )
        await bounded(client.close(), "close()")
    await connections_closed(server, before, "after close()")


def more_than_the_engine_holds(client: HttpClient) -> int:
    """More calls than the engine has workers (Urllib3's threads) or connections: a call the engine
    fails to free would leave nothing for the next request."""
    config: HttpClientEngineConfig = client.engine.config
    return max(config.threads_count, config.max_connections) + 2


#: How long a stall that the engine must not wait for lasts: well past the hang check, so an engine
#: that does wait for it fails the check (and the case still ends by itself).
STALL = HANG * 3


async def stalled_upload(asked_again: asyncio.Event) -> AsyncIterator[bytes]:
    """A streamed body whose producer has nothing more after its first chunk (a live feed)."""
    yield b"x" * 1000
    asked_again.set()  # the engine wants the next chunk: the first one is on its way
    await asyncio.sleep(STALL)
    yield b"too late"


@case("faults", "cancelled-or-timed-out-stalled-uploads-do-not-starve-the-engine", timeout=180)
async def stalled_uploads(t: CaseContext) -> None:
    # The engine is waiting on the caller's own body (not on the server) when the call ends: the
    # connection (and the worker thread that sends it) must be freed all the same.
    server = fault_server()
    before = server.open_connections
    client = t.client(engine_settings(max_connections=2))
    async with client:
        for index in range(more_than_the_engine_holds(client)):
            asked_again = asyncio.Event()
            if index % 2:
                upload = client.post(server.url("silent"), content=stalled_upload(asked_again), timeout=0.3)
                await bounded(t.raises(HttpRequestTimeoutException, upload), f"timed-out upload {index}")
                continue
            task = asyncio.ensure_future(client.post(server.url("silent"), content=stalled_upload(asked_again)))
            await bounded(asked_again.wait(), f"upload {index}: the first chunk taken")
            await asyncio.sleep(0.05)
            task.cancel()
            await bounded(asyncio.wait([task]), f"cancelled upload {index}")
            t.check(task.cancelled(), f"cancelled upload {index} ended with {task}")
        await ok(client, server.url("ok"), "a request after the stalled uploads")
        await bounded(client.close(), "close()")
    await connections_closed(server, before, "after close()")


async def cancel_while_connecting(t: CaseContext, client: HttpClient, url: str) -> None:
    """Requests to `url` (which never completes a connection) cancelled while connecting: a batch at
    once, then one after the other, each more times than the engine has workers or connections."""
    count = more_than_the_engine_holds(client)
    for size in [count] + [1] * count:
        tasks = [asyncio.ensure_future(client.get(url)) for _ in range(size)]
        await asyncio.sleep(0.2)
        for task in tasks:
            task.cancel()
        await bounded(asyncio.wait(tasks), "requests cancelled while connecting")
        for task in tasks:
            t.check(task.cancelled(), f"a request cancelled while connecting ended with {task}")


@case("faults", "requests-cancelled-while-connecting-do-not-starve-the-engine", timeout=180)
async def cancelled_connecting(t: CaseContext) -> None:
    # The blackhole never completes a connection; its connect timeout is far away: only cancelling
    # the connect attempt frees what it holds.
    server = fault_server()
    async with t.client(engine_settings(max_connections=2, connect_timeout=STALL)) as client:
        await cancel_while_connecting(t, client, f"http://127.0.0.1:{t.env.blackhole_port}/")
        await ok(client, server.url("ok"), "a request after the cancelled connects")
        await bounded(client.close(), "close()")


@case("faults", "requests-cancelled-in-the-tls-handshake-do-not-starve-the-engine", timeout=180)
async def cancelled_handshake(t: CaseContext) -> None:
    # A plain-TCP server that never answers the ClientHello: the TLS handshake waits, and its timeout
    # (the connect timeout) is far away.
    server = fault_server()
    before = server.open_connections
    async with t.client(engine_settings(max_connections=2, connect_timeout=STALL)) as client:
        await cancel_while_connecting(t, client, f"https://127.0.0.1:{server.port}/silent")
        await ok(client, server.url("ok"), "a request after the cancelled handshakes")
        await bounded(client.close(), "close()")
    # Httpx (httpcore's anyio stream) left each interrupted handshake's TCP connection open until the
    # event loop closed.
    await connections_closed(server, before, "after close()")


# -- defaults that never hang; a socket timeout that counts bytes ------------------------------------
@case("faults", "a-slow-but-moving-head-is-not-a-socket-timeout", timeout=120)
async def slow_head_moves(t: CaseContext) -> None:
    # One byte every 0.1 s: no read waits 1 s, though no complete header line arrives for 1.7 s.
    server = fault_server()
    async with t.client(lambda config: config.install(HttpTimeout, socket_timeout=1.0)) as client:
        await ok(client, server.url("drip-head"), "a head dripping one byte per 0.1 s")


@case("faults", "the-response-head-timeout-stops-a-dripping-head", timeout=120)
async def dripping_head(t: CaseContext) -> None:
    server = fault_server()
    async with t.client(engine_settings(response_head_timeout=0.5)) as client:
        exc = await bounded(t.raises(SocketTimeoutException, client.get(server.url("drip-endless-head"))), "head")
    t.equal(exc.timeout, 0.5, "timeout")


@case("faults", "the-response-head-timeout-stops-endless-100-continue", timeout=120)
async def endless_continue(t: CaseContext) -> None:
    server = fault_server()
    async with t.client(engine_settings(response_head_timeout=0.5)) as client:
        await bounded(t.raises(SocketTimeoutException, client.get(server.url("endless-continue"))), "head")


@case("faults", "defaults-bound-connecting-and-the-head-but-not-the-body")
async def default_limits(t: CaseContext) -> None:
    async with t.client() as client:
        config: HttpClientEngineConfig = client.engine.config
        t.check(config.connect_timeout is not None, "a default connect timeout")
        t.check(config.response_head_timeout is not None, "a default response head timeout")
    async with t.client(engine_settings(response_head_timeout=0.5)) as client:
        # A body that takes longer than the head timeout is still read whole.
        response = await bounded(client.get(t.env.http("/chunked?size=2000&chunk=200&delay=0.1")), "slow body")
        t.equal(len(await bounded(response.body_as_bytes(), "slow body")), 2000)


@case("faults", "a-per-call-timeout-bounds-reaching-an-sse-session", requires=[SSECapability], timeout=120)
async def sse_call_timeout(t: CaseContext) -> None:
    # No default head bound: only the call's own timeout= can end the wait for a silent server.
    server = fault_server()

    def configure(config: HttpClientConfig[Any]) -> None:
        engine_settings(response_head_timeout=None)(config)
        config.install(SSE)

    async with t.client(configure) as client:
        exc = await bounded(t.raises(SSEClientException, client.sse_session(server.url("silent"), timeout=0.5)), "sse")
    t.check(isinstance(exc.__cause__, HttpRequestTimeoutException), f"caused by the request timeout: {exc.__cause__!r}")


@case("faults", "upload-progress-keeps-the-default-head-timeout", timeout=120)
async def progress_head_timeout(t: CaseContext) -> None:
    # BodyProgress streams an in-memory body to report on it; the body is still in memory, so the
    # engine's response-head bound still applies (it is lifted only for bodies produced while sent).
    server = fault_server()

    def configure(config: HttpClientConfig[Any]) -> None:
        engine_settings(response_head_timeout=0.5)(config)
        config.install(BodyProgress)

    async with t.client(configure) as client:
        request = client.post(server.url("silent"), content=b"x" * 1000, on_upload=lambda done, total: None)
        await bounded(t.raises(SocketTimeoutException, request), "head")


@case("faults", "closing-an-sse-session-from-another-task-ends-its-iteration", requires=[SSECapability], timeout=120)
async def sse_closed_elsewhere(t: CaseContext) -> None:
    server = fault_server()
    async with t.client(lambda config: config.install(SSE)) as client:
        session = await bounded(client.sse_session(server.url("stall-sse")), "connect")
        seen: list[str | None] = []
        first = asyncio.Event()

        async def consume() -> None:
            async for event in session.incoming:
                seen.append(event.data)
                first.set()

        consumer = asyncio.ensure_future(consume())
        await bounded(first.wait(), "first event")
        await bounded(session.close(), "close from another task")  # raised RuntimeError before
        await bounded(consumer, "the consumer ends")  # a bare CancelledError on Curl before
        t.equal(seen, ["one"], "events")


@case("faults", "a-body-closed-from-another-task-fails-the-waiting-read", timeout=120)
async def body_closed_elsewhere(t: CaseContext) -> None:
    server = fault_server()
    async with t.client() as client, client.prepare_get(server.url("stall-body")).execute() as response:
        channel = response.body_as_channel()
        t.equal(len(await bounded(channel.read(1000), "the first bytes")), 1000, "first bytes")
        waiting = asyncio.ensure_future(channel.read(1000))
        await asyncio.sleep(0.1)  # the read waits on the stalled server
        await bounded(response.aclose(), "close from another task")
        await bounded(t.raises(ResponseClosedError, waiting), "the waiting read")
