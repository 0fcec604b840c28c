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


async def test_in_memory_bodies_of_every_size_round_trip_with_a_send_buffer_that_fits(
    env: ServerEnvironment,
) -> None:
    # An in-memory body goes to libcurl whole (POSTFIELDS), into a send buffer sized to hold it (up to
    # libcurl's 2 MiB): one send() instead of one per 64 KiB. Sizes around each edge, and past the cap.
    from tether_curl.engine import _upload_buffer_size

    sizes = [0, 1, 56 * 1024, 56 * 1024 + 1, 1024 * 1024, 2 * 1024 * 1024 - 8192, 2 * 1024 * 1024, 3 * 1024 * 1024 + 7]
    async with HttpClient(Curl) as client:
        for size in sizes:
            body = bytes(range(256)) * (size // 256) + b"z" * (size % 256)
            response = await client.post(env.http("/echo/body"), content=body)
            assert await response.body_as_bytes() == body, size
            buffer = _upload_buffer_size(size)
            assert 64 * 1024 <= buffer <= 2 * 1024 * 1024
            assert buffer >= min(size + 8192, 2 * 1024 * 1024), size
        # A small request after a large one, on the handle that carried it: the buffer shrinks back.
        response = await client.get(env.http("/echo"))
        assert response.status.value == 200


async def test_an_idle_handle_gives_back_its_enlarged_send_buffer(
    env: ServerEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    # libcurl keeps an enlarged send buffer until the handle is closed: a handle left idle after a large
    # body is closed after LARGE_BUFFER_IDLE, and the next request still works (the connection stays
    # in the multi's pool); a handle reused in time keeps its buffer.
    import tether_curl.multi as multi_module

    monkeypatch.setattr(multi_module, "LARGE_BUFFER_IDLE", 0.05)
    body = b"b" * (1024 * 1024)
    async with HttpClient(Curl) as client:
        await asyncio.gather(*(client.post(env.http("/echo/body"), content=body) for _ in range(4)))
        multi = client.engine._multi  # type: ignore[attr-defined]
        assert multi is not None
        assert len(multi._large_idle) == 4
        idle = len(multi._idle_handles)
        await client.post(env.http("/echo/body"), content=body)  # reuses one: still large, still idle-tracked
        assert len(multi._large_idle) == 4
        await asyncio.sleep(0.3)
        assert multi._large_idle == {}
        assert len(multi._idle_handles) == idle - 4
        response = await client.post(env.http("/echo/body"), content=body)
        assert len(await response.body_as_bytes()) == len(body)
