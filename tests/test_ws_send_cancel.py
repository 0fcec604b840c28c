"""A cancelled WebSocket send never cuts a frame: an engine's upgraded stream either sends none of
the bytes of a cancelled `write` or all of them, before anything written later, and later writes
still work (no stray CancelledError). A write that fails fails the session. The streams run against
a plain loopback server that answers the upgrade and then reads raw bytes (or, first, nothing)."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
from tether_aiohttp import Aiohttp
from tether_curl import Curl
from tether_curl.websocket import _CurlStream
from upgraded_streams import GUARD, upgraded

from tether.engine.upgrade import UpgradedStream
from tether.http import Headers
from tether.websockets import WebSocketConnectionLostException, WebSocketsConfig, WebSocketSession

#: More than the socket buffers of a peer that does not read hold: a write of it must wait.
BIG = 8 * 1024 * 1024


async def blocked_write(stream: UpgradedStream, data: bytes) -> asyncio.Future[None]:
    """`stream.write(data)` as a task, once it waits on backpressure."""
    writing = asyncio.ensure_future(stream.write(data))
    for _ in range(20):  # a few turns of the loop: the socket buffers fill, the write must wait
        await asyncio.sleep(0.01)
    assert not writing.done(), "the write never waited: the test tests nothing"
    return writing


async def cancelled(writing: asyncio.Future[None]) -> None:
    writing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(writing, GUARD)


@pytest.mark.parametrize("factory", [Curl, Aiohttp], ids=["curl", "aiohttp"])
async def test_a_write_cancelled_while_it_waits_is_still_sent_whole_before_a_later_one(factory: Any) -> None:
    async with upgraded(factory, limit=64 * 1024) as (stream, (reader, _)):
        big = os.urandom(BIG)
        await cancelled(await blocked_write(stream, big))
        later = asyncio.ensure_future(stream.write(b"later"))
        await asyncio.sleep(0.05)
        # Without the fix Aiohttp raised a CancelledError here: the cancel had cancelled the shared
        # drain future every later write waits on.
        assert not later.done() or later.exception() is None
        received = await asyncio.wait_for(reader.readexactly(len(big) + 5), GUARD)
        assert same(received, big + b"later")  # begun, so finished: whole, and first
        await asyncio.wait_for(later, GUARD)
        third = asyncio.ensure_future(stream.write(b"third"))
        assert await asyncio.wait_for(reader.readexactly(5), GUARD) == b"third"
        await asyncio.wait_for(third, GUARD)


@pytest.mark.parametrize("factory", [Curl, Aiohttp], ids=["curl", "aiohttp"])
async def test_every_cancelled_write_leaves_the_stream_whole(factory: Any) -> None:
    async with upgraded(factory, limit=64 * 1024) as (stream, (reader, _)):
        first = os.urandom(BIG)
        writing = await blocked_write(stream, first)
        for index in range(3):  # more writes, each cancelled while waiting (behind the first or not)
            data = bytes([index]) * 100_000
            more = asyncio.ensure_future(stream.write(data))
            await asyncio.sleep(0.02)
            await cancelled(more)
        await cancelled(writing)
        last = asyncio.ensure_future(stream.write(b"last"))
        received = bytearray()
        for _ in range(10_000):  # read until the marker (bounded)
            received += await asyncio.wait_for(reader.read(1 << 20), GUARD)
            if received.endswith(b"last"):
                break
        await asyncio.wait_for(last, GUARD)
        assert same(received[: len(first)], first)
        rest = bytes(received[len(first) : -4])
        # Each cancelled write is there whole, or not at all; in order.
        pieces = [bytes([index]) * 100_000 for index in range(3)]
        options = [b"".join(p for p, keep in zip(pieces, mask, strict=True) if keep) for mask in _masks(3)]
        assert any(same(rest, option) for option in options), f"{len(rest)} bytes, not whole writes in order"


def same(received: bytes | bytearray, expected: bytes) -> bool:
    """Byte-equal (a bool for the assertion: pytest's diff of megabytes is of no use)."""
    return bytes(received) == expected


def _masks(count: int) -> list[tuple[bool, ...]]:
    return [tuple(bool(bits >> i & 1) for i in range(count)) for bits in range(1 << count)]


async def test_on_curl_a_write_cancelled_behind_the_rest_of_another_sends_nothing() -> None:
    async with upgraded(Curl, limit=64 * 1024) as (stream, (reader, _)):
        assert isinstance(stream, _CurlStream)
        first = os.urandom(BIG)
        assert stream.try_write(first)  # taken; what the socket did not take is the stream's tail
        assert stream._tail is not None
        await cancelled(await blocked_write(stream, b"x" * 1000))
        later = asyncio.ensure_future(stream.write(b"later"))
        assert same(await asyncio.wait_for(reader.readexactly(len(first) + 5), GUARD), first + b"later")
        await asyncio.wait_for(later, GUARD)


class _FailingStream(UpgradedStream):
    """Reads wait until `abort`; every write fails as a broken connection does."""

    def __init__(self) -> None:
        self.aborted = asyncio.Event()
        self.writes = 0

    async def read(self, max_bytes: int) -> bytes:
        await self.aborted.wait()
        return b""

    async def write(self, data: bytes) -> None:
        self.writes += 1
        raise ConnectionResetError("send failed")

    def abort(self) -> None:
        self.aborted.set()


class _Head:
    headers = Headers()


async def test_a_failed_write_fails_the_session_and_close_does_not_wait_for_the_peer() -> None:
    stream = _FailingStream()
    session = WebSocketSession(stream, _Head(), None, [], WebSocketsConfig())  # type: ignore[arg-type]
    with pytest.raises(WebSocketConnectionLostException):
        await asyncio.wait_for(session.send_bytes(b"x" * 10), GUARD)
    assert stream.aborted.is_set()  # dropped now: the reader ends, close() has nothing to wait for
    with pytest.raises(WebSocketConnectionLostException):
        await asyncio.wait_for(session.send_text("again"), GUARD)
    await asyncio.wait_for(session.close(), GUARD)
    assert session.close_code == 1006
    assert stream.writes == 1
