"""Shared by the tests of engines' upgraded streams: a stream upgraded against a plain loopback server
that answers the upgrade and then leaves the raw connection to the test, and a bounded wait."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from yarl import URL

from tether import HttpClient
from tether.engine.upgrade import UpgradedStream
from tether.http import Headers
from tether.request import HttpRequestData

#: Bound on how long a step may hang before the test fails (a guard, not a timing assertion).
GUARD = 60

Peer = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@asynccontextmanager
async def upgraded(factory: Any, *, limit: int | None = None) -> AsyncIterator[tuple[UpgradedStream, Peer]]:
    """A stream upgraded by `factory`'s engine and the server's end of its connection (`limit`: the
    server reader's buffer limit; its transport reads nothing more until the test reads)."""
    peers: asyncio.Queue[Peer] = asyncio.Queue()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
        await writer.drain()
        await peers.put((reader, writer))

    options = {} if limit is None else {"limit": limit}
    server = await asyncio.start_server(answer, "127.0.0.1", 0, **options)
    port = server.sockets[0].getsockname()[1]
    try:
        async with HttpClient(factory) as client:
            request = HttpRequestData(URL(f"http://127.0.0.1:{port}/"), "GET", Headers())
            upgrade = await asyncio.wait_for(client.engine.upgrade(request, "websocket"), GUARD)
            assert upgrade.response.status.value == 101
            stream = upgrade.stream
            assert stream is not None
            peer = await asyncio.wait_for(peers.get(), GUARD)
            try:
                yield stream, peer
            finally:
                stream.abort()
                peer[1].close()
    finally:
        server.close()
        await server.wait_closed()


async def until(condition: Callable[[], bool], step: float = 0.01) -> None:
    """Let the loop run until `condition` holds (bounded by GUARD)."""
    for _ in range(int(GUARD / step)):
        if condition():
            return
        await asyncio.sleep(step)
    pytest.fail("the condition never held")
