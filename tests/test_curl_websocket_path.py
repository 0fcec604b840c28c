"""The Curl engine's upgraded stream (`tether_curl.websocket._CurlStream`): its socket stays watched
by the loop and a readiness callback receives into a buffer, paused above `RECEIVE_HIGH_WATER`;
`try_write` sends at once and leaves what the socket did not take to a writer callback. These run the
stream against a plain loopback server that answers the upgrade and then reads or writes raw bytes."""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager

import pytest
import tether_curl.websocket
from tether_conformance import ServerEnvironment
from tether_curl import Curl
from tether_curl.websocket import _RECV_CHUNK, _CurlStream
from upgraded_streams import GUARD, Peer
from upgraded_streams import until as until_held
from upgraded_streams import upgraded as upgraded_stream
from yarl import URL

from tether import HttpClient
from tether.engine.upgrade import RECEIVE_HIGH_WATER, UpgradedStream
from tether.http import Headers
from tether.request import HttpRequestData
from tether.websockets import WebSockets
from tether.websockets.session import _client_frame


@pytest.fixture(scope="module")
def env() -> Iterator[ServerEnvironment]:
    with ServerEnvironment() as environment:
        yield environment


@asynccontextmanager
async def upgraded() -> AsyncIterator[tuple[_CurlStream, Peer]]:
    """A Curl-upgraded stream and the server's end of its connection."""
    async with upgraded_stream(Curl) as (stream, peer):
        assert isinstance(stream, _CurlStream)
        yield stream, peer


async def until(condition: Callable[[], bool]) -> None:
    await until_held(condition, step=0.001)


def guarded(awaitable: Awaitable[bytes]) -> Awaitable[bytes]:
    return asyncio.wait_for(awaitable, GUARD)


def _fill_until_partial(stream: UpgradedStream, chunk_size: int) -> bytes:
    """`try_write` distinct chunks into a peer that does not read until one is taken only in part;
    returns every byte `try_write` took responsibility for."""
    accepted = bytearray()
    for index in range(100_000):
        chunk = bytes([index % 251]) * chunk_size
        if not stream.try_write(chunk):
            break
        accepted += chunk
        assert isinstance(stream, _CurlStream)
        if stream._tail is not None:
            return bytes(accepted)
    pytest.fail("the socket never took a chunk in part")


async def test_try_write_takes_small_messages_without_a_coroutine() -> None:
    async with upgraded() as (stream, (reader, _)):
        assert stream.try_write(b"hello ")
        assert stream.try_write(b"world")
        assert await guarded(reader.readexactly(11)) == b"hello world"


async def test_what_the_socket_did_not_take_is_sent_by_the_writer_callback() -> None:
    async with upgraded() as (stream, (reader, _)):
        accepted = _fill_until_partial(stream, 65_537)
        # Nothing else is written: the rest of the last chunk must still arrive, whole and in order.
        assert await guarded(reader.readexactly(len(accepted))) == accepted
        await until(lambda: stream._tail is None)


async def test_a_write_after_a_partial_try_write_sends_the_rest_first() -> None:
    async with upgraded() as (stream, (reader, _)):
        accepted = _fill_until_partial(stream, 65_537)
        assert not stream.try_write(b"later")  # the rest is still in flight: the caller must wait
        last = os.urandom(100_000)
        writing = asyncio.ensure_future(stream.write(last))
        expected = accepted + last
        assert await guarded(reader.readexactly(len(expected))) == expected
        await asyncio.wait_for(writing, GUARD)
        assert stream.try_write(b"again")
        assert await guarded(reader.readexactly(5)) == b"again"


async def test_reading_pauses_above_the_high_water_mark_and_resumes_when_drained() -> None:
    async with upgraded() as (stream, (_, writer)):
        sent = os.urandom(4 * RECEIVE_HIGH_WATER)
        writer.write(sent)
        await until(lambda: not stream._reading)
        assert RECEIVE_HIGH_WATER < stream._buffered <= RECEIVE_HIGH_WATER + _RECV_CHUNK
        received = bytearray()
        while len(received) < len(sent):
            data = await guarded(stream.read(100_000))
            assert 0 < len(data) <= 100_000
            received += data
        assert received == sent
        assert stream._reading


async def test_the_end_of_the_stream_comes_after_the_data_and_stops_the_watch() -> None:
    async with upgraded() as (stream, (_, writer)):
        writer.write(b"last words")
        writer.close()
        await until(lambda: stream._eof)
        assert not stream._reading
        assert await guarded(stream.read(4)) == b"last"
        assert await guarded(stream.read(100)) == b" words"
        assert await guarded(stream.read(100)) == b""
        assert await guarded(stream.read(100)) == b""


async def test_abort_ends_a_pending_read_and_a_pending_write() -> None:
    async with upgraded() as (stream, _):
        reading = asyncio.ensure_future(stream.read(100))
        _fill_until_partial(stream, 65_537)
        writing = asyncio.ensure_future(stream.write(b"x" * 1_000_000))
        await asyncio.sleep(0)
        assert not reading.done() and not writing.done()
        stream.abort()
        assert await guarded(reading) == b""
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(writing, GUARD)
        assert not stream.try_write(b"x")
        assert await guarded(stream.read(100)) == b""


async def test_big_messages_over_tls_arrive_whole(env: ServerEnvironment) -> None:
    # Over TLS libcurl may hold decrypted bytes the socket no longer signals: the callback reads
    # until libcurl has nothing more, and resumes the same way after a pause.
    def setup(config: object) -> None:
        config.engine.ca_bundle = env.ca_file  # type: ignore[attr-defined]
        config.install(WebSockets, compression=False, max_message_size=8 * RECEIVE_HIGH_WATER)  # type: ignore[attr-defined]

    big = os.urandom(1_000_000)  # under the echo server's 1 MiB limit
    async with HttpClient(Curl, setup) as client, client.websocket(env.ws("echo", tls=True)) as ws:
        for _ in range(4):
            await ws.send_bytes(big)
        for index in range(50):
            await ws.send_text(f"small {index}")
        for _ in range(4):
            assert await asyncio.wait_for(ws.receive_bytes(), GUARD) == big
        for index in range(50):
            assert await asyncio.wait_for(ws.receive_text(), GUARD) == f"small {index}"


async def test_reading_resumes_over_tls_with_what_libcurl_holds(
    env: ServerEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tiny reads and a tiny high-water mark: the stream pauses after each 100 bytes while the rest of
    # a TLS record sits decrypted in libcurl, which the socket does not signal -- resuming must read it.
    monkeypatch.setattr(tether_curl.websocket, "_RECV_CHUNK", 100)
    monkeypatch.setattr(tether_curl.websocket, "RECEIVE_HIGH_WATER", 50)

    def setup(config: object) -> None:
        config.engine.ca_bundle = env.ca_file  # type: ignore[attr-defined]

    key = base64.b64encode(os.urandom(16)).decode()
    headers = Headers([("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", "13")])
    async with HttpClient(Curl, setup) as client:
        request = HttpRequestData(URL(env.ws("echo", tls=True)), "GET", headers)
        upgrade = await asyncio.wait_for(client.engine.upgrade(request, "websocket"), GUARD)
        assert upgrade.response.status.value == 101
        stream = upgrade.stream
        assert stream is not None
        try:
            for size in (10, 3_000, 10_000):
                payload = os.urandom(size)
                header = bytes((0x82, size)) if size < 126 else struct.pack("!BBH", 0x82, 126, size)
                await asyncio.wait_for(stream.write(_client_frame(0x82, payload)), GUARD)
                received = bytearray()
                while len(received) < len(header) + size:
                    received += await guarded(stream.read(65_536))
                assert received == header + payload
        finally:
            stream.abort()
