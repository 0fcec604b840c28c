"""A body closed before it was read to the end says so on every later read; it never looks empty."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tether import ByteReadChannel, HttpClient, ProtocolError, ResponseClosedError
from tether.testing import MockEngine, respond


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


@pytest.mark.parametrize("read", ["read", "read_all", "read_exactly", "iterate", "discard"])
async def test_every_read_after_an_early_close_raises(read: str) -> None:
    channel = ByteReadChannel(chunks(b"abc", b"def"))
    assert await channel.read(2) == b"ab"
    await channel.aclose()
    with pytest.raises(ResponseClosedError, match="closed after 3 bytes"):
        if read == "read":
            await channel.read(1)
        elif read == "read_all":
            await channel.read_all()
        elif read == "read_exactly":
            await channel.read_exactly(1)
        elif read == "iterate":
            [chunk async for chunk in channel]
        else:
            await channel.discard()


async def test_a_body_in_memory_closed_unread_raises_too() -> None:
    channel = ByteReadChannel.from_bytes(b"in memory")
    await channel.aclose()
    with pytest.raises(ResponseClosedError):
        await channel.read_all()


async def test_a_body_read_to_its_end_and_closed_stays_at_its_end() -> None:
    channel = ByteReadChannel(chunks(b"abc"))
    assert await channel.read_all() == b"abc"
    await channel.aclose()
    assert await channel.read(1) == b""


async def test_an_empty_body_closed_unread_reads_empty() -> None:
    channel = ByteReadChannel.from_bytes(b"")
    await channel.aclose()
    assert await channel.read_all() == b""


async def test_a_streamed_response_read_after_its_block_raises() -> None:
    engine = MockEngine(lambda request: respond(chunks(b"x" * 1000, b"y" * 1000)))
    async with HttpClient(engine) as client:
        async with client.prepare_get("http://api.test/").execute() as response:
            pass
        with pytest.raises(ResponseClosedError):
            await response.body_as_bytes()


async def test_a_read_after_a_body_shorter_than_its_length_raises_again() -> None:
    channel = ByteReadChannel(chunks(b"abc"), expected_length=10)
    with pytest.raises(ProtocolError, match="shorter than its Content-Length"):
        await channel.read_all()
    with pytest.raises(ResponseClosedError):
        await channel.read(1)
