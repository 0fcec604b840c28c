"""Request bodies on the Curl engine: what happens around the bytes libcurl sends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from tether_conformance import ServerEnvironment
from tether_curl import Curl

from tether import HttpClient
from tether.content import StreamContent


@pytest.fixture(scope="module")
def env() -> Iterator[ServerEnvironment]:
    with ServerEnvironment() as environment:
        yield environment


async def test_a_streamed_body_sent_whole_runs_to_its_own_end(env: ServerEnvironment) -> None:
    # The server answers as soon as it has the declared bytes; what the source does after its last
    # chunk (BodyProgress reports the last figure there) must still run, not be cancelled.
    ended = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        yield b"x" * 100_000
        await asyncio.sleep(0.2)
        ended.set()

    async with HttpClient(Curl) as client:
        response = await client.post(env.http("/echo"), content=StreamContent(body(), content_length=100_000))
        await response.body_as_bytes()
        await asyncio.wait_for(ended.wait(), 5)
    assert ended.is_set()
