"""The Urllib3 engine's event-loop path: plain-HTTP requests on kept-alive connections are sent and
awaited on the loop, and parsed there when the whole response is already buffered (or, with a checked
head and a Content-Length, returned at its head and its body read on the loop); everything else goes
to a worker thread. These tests script a keep-alive server byte by byte and count the worker
hops, so each branch (loop, worker fallback, timeout, stale connection, cancellation) is shown."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
from tether_urllib3 import Urllib3, Urllib3Config

from tether import HttpClient, HttpClientConfig, ProtocolError, SocketTimeoutException
from tether.engine import HttpTimeoutConfig
from tether.plugins import HttpTimeout

#: One answer: bytes are written, a float sleeps that long, None closes the connection.
Answer = list[bytes | float | None]


def ok(body: bytes, *extra: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), b"".join(extra), body)


class ScriptedServer:
    """A keep-alive HTTP/1.1 server answering the n-th request (on any connection) with answers[n]."""

    def __init__(self, answers: list[Answer]) -> None:
        self.answers = list(answers)
        self.connections = 0
        self.requests: list[bytes] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> ScriptedServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:  # no client thread is left waiting on an open connection
            writer.close()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.requests.append(head)
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        await reader.readexactly(int(line.split(b":")[1]))
                for step in self.answers.pop(0):
                    if step is None:
                        writer.close()
                        return
                    if isinstance(step, float):
                        await asyncio.sleep(step)
                    else:
                        writer.write(step)
                        await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


class CountingExecutor(ThreadPoolExecutor):
    """Counts the blocking steps handed to worker threads."""

    def __init__(self) -> None:
        super().__init__(8)
        self.hops = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.hops += 1
        return super().submit(fn, *args, **kwargs)


@contextlib.asynccontextmanager
async def client_for(answers: list[Answer]) -> AsyncIterator[tuple[HttpClient, ScriptedServer, CountingExecutor]]:
    executor = CountingExecutor()

    def configure(config: HttpClientConfig[Urllib3Config]) -> None:
        config.engine.executor = executor
        config.install(HttpTimeout)  # per-request `timeout=` needs it

    try:
        async with ScriptedServer(answers) as server, HttpClient(Urllib3, configure) as client:
            yield client, server, executor
    finally:
        executor.shutdown(wait=False)


async def test_kept_alive_requests_are_sent_and_parsed_on_the_loop() -> None:
    answers: list[Answer] = [[ok(b"one")], [ok(b"two")], [ok(b"three")], [ok(b"posted")]]
    async with client_for(answers) as (client, server, executor):
        bodies = [await (await client.get(server.url(f"/{n}"))).body_as_text() for n in range(3)]
        posted = await client.post(server.url("/post"), content=b"payload")
        assert executor.hops == 1  # only the first request (it had to connect) used a worker
    assert bodies == ["one", "two", "three"]
    assert await posted.body_as_text() == "posted"
    assert server.requests[-1].startswith(b"POST /post HTTP/1.1\r\n")
    assert b"Content-Length: 7" in server.requests[-1]
    assert server.connections == 1


async def test_a_response_still_arriving_is_returned_at_its_head_and_read_on_the_loop() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
    answers: list[Answer] = [[ok(b"first")], [head, b"01234", 0.3, b"56789"], [ok(b"third")]]
    async with client_for(answers) as (client, server, executor):
        await client.get(server.url())
        async with client.prepare_get(server.url()).execute() as response:
            # Returned at its head, not held back until the body is complete; no worker hop for it.
            channel = response.body_as_channel()
            assert channel.bytes_received < 10
            body = await channel.read(-1)
        third = await client.get(server.url())  # the same connection, idle on the loop again
        assert executor.hops == 1  # only the first request (it had to connect) used a worker
    assert body == b"0123456789"
    assert await third.body_as_text() == "third"
    assert server.connections == 1


async def test_a_body_larger_than_the_peek_buffer_is_read_on_the_loop_by_a_slow_reader() -> None:
    big = bytes(range(256)) * 1200  # 300 KiB: more than the engine looks at ahead of reading
    answers: list[Answer] = [[ok(b"first")], [ok(big)], [ok(b"third")]]
    async with client_for(answers) as (client, server, executor):
        await client.get(server.url())
        received = bytearray()
        async with client.prepare_get(server.url()).execute() as response:
            async for chunk in response.body_as_channel():
                received += chunk
                await asyncio.sleep(0.01)  # the rest arrives while nobody reads
        third = await client.get(server.url())
        assert executor.hops == 1
    assert bytes(received) == big
    assert await third.body_as_text() == "third"
    assert server.connections == 1


async def test_a_body_cut_short_on_the_loop_is_a_protocol_error() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
    answers: list[Answer] = [[ok(b"first")], [head, b"01234", 0.1, None], [ok(b"fresh")]]
    async with client_for(answers) as (client, server, _):
        await client.get(server.url())
        with pytest.raises(ProtocolError, match="shorter than its Content-Length"):
            await client.get(server.url())
        fresh = await client.get(server.url())
    assert await fresh.body_as_text() == "fresh"
    assert server.connections == 2


async def test_socket_timeout_while_a_body_is_read_on_the_loop() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
    answers: list[Answer] = [[ok(b"first")], [head, b"01234", 1.0, b"56789"], [ok(b"fresh")]]
    async with client_for(answers) as (client, server, _):
        await client.get(server.url())
        with pytest.raises(SocketTimeoutException, match="Read timed out"):
            await client.get(server.url(), timeout=HttpTimeoutConfig(socket_timeout=0.2))
        fresh = await client.get(server.url())  # the timed-out connection is not reused
    assert await fresh.body_as_text() == "fresh"
    assert server.connections == 2


async def test_a_body_left_unread_on_the_loop_closes_its_connection() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
    answers: list[Answer] = [[ok(b"first")], [head, b"01234", 0.2, b"56789"], [ok(b"fresh")]]
    async with client_for(answers) as (client, server, _):
        await client.get(server.url())
        async with client.prepare_get(server.url()).execute() as response:
            assert await response.body_as_channel().read(3) == b"012"
        fresh = await client.get(server.url())  # the rest was never read: that connection is gone
    assert await fresh.body_as_text() == "fresh"
    assert server.connections == 2


async def test_closing_the_engine_fails_a_body_read_on_the_loop_cleanly() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
    answers: list[Answer] = [[ok(b"first")], [head, b"01234", 5.0, b"56789"]]
    async with client_for(answers) as (client, server, _):
        await client.get(server.url())
        async with client.prepare_get(server.url()).execute() as response:
            channel = response.body_as_channel()
            assert await channel.read(5) == b"01234"
            reading = asyncio.ensure_future(channel.read(5))
            await asyncio.sleep(0.1)
            await client.engine.close()
            with pytest.raises(ProtocolError, match="Connection aborted"):
                await reading


async def test_a_chunked_response_on_a_kept_alive_connection() -> None:
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    async with client_for([[ok(b"first")], [chunked], [ok(b"after")]]) as (client, server, _):
        await client.get(server.url())
        chunked_body = await (await client.get(server.url())).body_as_bytes()
        after = await (await client.get(server.url())).body_as_bytes()
    assert (chunked_body, after) == (b"hello", b"after")
    assert server.connections == 1


async def test_no_content_and_not_modified_have_no_body_on_the_loop() -> None:
    answers: list[Answer] = [
        [ok(b"first")],
        [b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"],
        [b"HTTP/1.1 304 Not Modified\r\n\r\n"],
        [ok(b"last")],
    ]
    async with client_for(answers) as (client, server, executor):
        bodies = [await (await client.get(server.url())).body_as_bytes() for _ in range(4)]
        assert executor.hops == 1
    assert bodies == [b"first", b"", b"", b"last"]


async def test_socket_timeout_while_waiting_on_the_loop() -> None:
    answers: list[Answer] = [[ok(b"first")], [1.0, ok(b"late")], [ok(b"fresh")]]
    async with client_for(answers) as (client, server, _):
        await client.get(server.url())
        with pytest.raises(SocketTimeoutException, match="Read timed out"):
            await client.get(server.url(), timeout=HttpTimeoutConfig(socket_timeout=0.2))
        fresh = await client.get(server.url())  # the timed-out connection is not reused
    assert await fresh.body_as_text() == "fresh"
    assert server.connections == 2


async def test_an_idle_connection_the_server_closed_is_replaced() -> None:
    async with client_for([[ok(b"first"), None], [ok(b"second")]]) as (client, server, _):
        await client.get(server.url())
        await asyncio.sleep(0.05)  # the server's close reaches the idle connection
        second = await client.get(server.url())
    assert await second.body_as_text() == "second"
    assert server.connections == 2


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ([b"HTTP/1.1 OK\r\nContent-Length: 0\r\n\r\n"], "BadStatusLine|OK"),
        ([b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly twenty bytes!!!", None], "IncompleteRead|100"),
        ([None], "Connection aborted|RemoteDisconnected"),
        ([b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde"], "Content-Length"),
        ([b"HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 0\r\n\r\n"], "bare CR"),
        ([b"HTTP/1.01 200 OK\r\nContent-Length: 0\r\n\r\n"], "BadStatusLine"),
    ],
    ids=[
        "bad-status-line",
        "truncated-body",
        "closed-without-answer",
        "conflicting-lengths",
        "bare-cr-in-a-field",
        "status-version-typo",
    ],
)
async def test_bad_answers_on_a_kept_alive_connection_are_protocol_errors(answer: Answer, problem: str) -> None:
    async with client_for([[ok(b"first")], answer]) as (client, server, _):
        await client.get(server.url())
        with pytest.raises(ProtocolError, match=problem):
            await client.get(server.url())


async def test_a_whole_response_read_by_the_engine_keeps_its_head_as_sent() -> None:
    head = (
        b"HTTP/1.1 299 Quite  Custom \r\nSet-Cookie: a=1\r\nX-Padded:  v \r\nset-cookie: b=2\r\n"
        b"Content-Length: 4\r\n\r\nbody"
    )
    answers: list[Answer] = [[ok(b"first")], [head], [b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi"]]
    async with client_for(answers) as (client, server, executor):
        await client.get(server.url())
        custom = await client.get(server.url())
        old = await client.get(server.url())
        assert executor.hops == 1
    assert (int(custom.status), custom.status.description) == (299, "Quite  Custom")
    assert list(custom.headers.items())[:3] == [("Set-Cookie", "a=1"), ("X-Padded", "v"), ("set-cookie", "b=2")]
    assert custom.headers.get_all("set-cookie") == ["a=1", "b=2"]
    assert await custom.body_as_bytes() == b"body"
    assert (str(old.version), await old.body_as_text()) == ("HTTP/1.0", "hi")


@pytest.mark.parametrize(
    ("head", "reused"),
    [
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\n", False),
        (b"HTTP/1.1 200 OK\r\nConnection: Upgrade, Close\r\n", False),
        (b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n", True),
        (b"HTTP/1.0 200 OK\r\n", False),
        (b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n", True),
        (b"HTTP/1.0 200 OK\r\nKeep-Alive: timeout=5\r\n", True),
    ],
    ids=["close", "close-among-tokens", "keep-alive", "1.0", "1.0-keep-alive", "1.0-keep-alive-header"],
)
async def test_a_response_read_by_the_engine_decides_whether_the_connection_stays(head: bytes, reused: bool) -> None:
    # The server keeps every connection open: only the response's own words decide.
    answers: list[Answer] = [[ok(b"first")], [head + b"Content-Length: 2\r\n\r\nok"], [ok(b"next")]]
    async with client_for(answers) as (client, server, executor):
        await client.get(server.url())
        assert await (await client.get(server.url())).body_as_text() == "ok"
        assert executor.hops == 1  # read on the loop
        assert await (await client.get(server.url())).body_as_text() == "next"
    assert server.connections == (1 if reused else 2)


async def test_a_head_over_the_limits_read_on_the_loop_fails_and_drops_the_connection() -> None:
    many = b"".join(b"X-%d: v\r\n" % n for n in range(20))
    answers: list[Answer] = [[ok(b"first")], [ok(b"", many)], [ok(b"fresh")]]
    executor = CountingExecutor()

    def configure(config: HttpClientConfig[Urllib3Config]) -> None:
        config.engine.executor = executor
        config.engine.max_response_headers = 10

    try:
        async with ScriptedServer(answers) as server, HttpClient(Urllib3, configure) as client:
            await client.get(server.url())
            with pytest.raises(ProtocolError, match="21 headers, more than max_response_headers=10"):
                await client.get(server.url())
            fresh = await client.get(server.url())
            assert await fresh.body_as_text() == "fresh"
            assert server.connections == 2
    finally:
        executor.shutdown(wait=False)


async def test_field_lines_the_engine_refuses_get_urllib3s_verdict() -> None:
    # The loop leaves these to urllib3's parser. Obsolete line folding is accepted (as on every
    # engine); a line without a colon would end http.client's head early and leave the rest to be
    # read as a body until the server closes: it is refused.
    folded = b"HTTP/1.1 200 OK\r\nX-A: a\r\n  folded\r\nContent-Length: 0\r\n\r\n"
    colonless = b"HTTP/1.1 200 OK\r\nNo colon here\r\nContent-Length: 0\r\n\r\n"
    # (The server closes a little later, so a response taken for one without a length still ends.)
    answers: list[Answer] = [[ok(b"first")], [folded], [colonless, 0.5, None], [ok(b"fresh")]]
    async with client_for(answers) as (client, server, _):
        await client.get(server.url())
        assert (await client.get(server.url())).headers["X-A"] == "a folded"
        with pytest.raises(ProtocolError, match="MissingHeaderBodySeparatorDefect"):
            await (await client.get(server.url())).body_as_bytes()
        assert await (await client.get(server.url())).body_as_text() == "fresh"
    assert server.connections == 2


async def test_cancelling_a_wait_on_the_loop_closes_that_connection() -> None:
    answers: list[Answer] = [[ok(b"first")], [5.0, ok(b"never read")], [ok(b"third")]]
    async with client_for(answers) as (client, server, _):
        await client.get(server.url())
        waiting = asyncio.ensure_future(client.get(server.url()))
        await asyncio.sleep(0.1)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        third = await client.get(server.url())
    assert await third.body_as_text() == "third"
    assert server.connections == 2


async def test_a_loop_owned_idle_connection_the_server_closes_is_dropped_at_once() -> None:
    answers: list[Answer] = [[ok(b"first")], [ok(b"second"), None], [ok(b"third")]]
    async with client_for(answers) as (client, server, _):
        await client.get(server.url())
        await client.get(server.url())  # read on the loop; the loop keeps watching the idle socket
        await asyncio.sleep(0.05)
        third = await client.get(server.url())
    assert await third.body_as_text() == "third"
    assert server.connections == 2


async def test_stray_bytes_on_an_idle_connection_are_never_read_as_the_next_response() -> None:
    stray = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstray"
    answers: list[Answer] = [[ok(b"first")], [ok(b"second"), 0.02, stray], [ok(b"third")]]
    async with client_for(answers) as (client, server, _):
        await client.get(server.url())
        second = await client.get(server.url())
        await asyncio.sleep(0.05)
        third = await client.get(server.url())
    assert (await second.body_as_text(), await third.body_as_text()) == ("second", "third")
    assert server.connections == 2


async def test_concurrent_requests_share_the_loop_owned_connections() -> None:
    answers: list[Answer] = [[ok(b"%d" % n)] for n in range(208)]
    async with client_for(answers) as (client, server, executor):

        async def get() -> bytes:
            return await (await client.get(server.url())).body_as_bytes()

        warm = await asyncio.gather(*(get() for _ in range(8)))  # eight connections, made on workers
        connected = executor.hops

        async def worker() -> list[bytes]:
            return [await get() for _ in range(25)]

        results = await asyncio.gather(*(worker() for _ in range(8)))
        assert executor.hops == connected  # every later request was sent and read on the loop
    received = warm + [body for bodies in results for body in bodies]
    assert sorted(received, key=int) == [b"%d" % n for n in range(208)]
    assert server.connections == 8


async def test_closing_the_engine_fails_a_request_waiting_on_the_loop_cleanly() -> None:
    answers: list[Answer] = [[ok(b"first")], [5.0, ok(b"never read")]]
    async with client_for(answers) as (client, server, _):
        await client.get(server.url())
        waiting = asyncio.ensure_future(client.get(server.url()))
        await asyncio.sleep(0.1)
        await client.engine.close()
        with pytest.raises(ProtocolError, match="Connection aborted"):
            await waiting
