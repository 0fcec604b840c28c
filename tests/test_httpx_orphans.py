"""The Httpx engine's workaround for httpcore#1093: a request cancelled after the pool gave it a new
connection (before it connected) leaves no connection behind that holds a slot for good.

Deterministic: the only connection of a one-connection pool closes (`Connection: close`) while a second
request waits for it; the pool gives the waiting request a new connection and wakes it; it is
cancelled before it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
from tether_httpx.orphans import reclaim_orphans


@contextlib.asynccontextmanager
async def closing_server() -> AsyncIterator[str]:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    finally:
        server.close()


async def test_a_cancelled_request_leaves_no_never_connected_connection() -> None:
    async with closing_server() as url:
        client = httpx.AsyncClient(limits=httpx.Limits(max_connections=1), timeout=httpx.Timeout(5.0, pool=None))
        reclaim_orphans(client)
        pool = client._transport._pool  # type: ignore[attr-defined]
        try:
            first = await client.send(client.build_request("GET", url), stream=True)
            waiting = asyncio.ensure_future(client.get(url))
            for _ in range(10):  # until the second request waits for the only connection (bounded)
                if len(pool._requests) == 2:
                    break
                await asyncio.sleep(0.01)
            assert len(pool._requests) == 2
            await first.aread()
            await first.aclose()  # the connection closes; the waiting request gets a new one ...
            waiting.cancel()  # ... and is cancelled before it runs
            await asyncio.wait([waiting], timeout=5)
            assert waiting.cancelled()
            assert all(getattr(connection, "_connection", True) is not None for connection in pool.connections), (
                pool.connections
            )
            response = await asyncio.wait_for(client.get(url), 5)  # a slot is free: no hang
            assert response.text == "ok"
        finally:
            await client.aclose()


class _Fake:
    def __init__(self, **fields: object) -> None:
        self.__dict__.update(fields)


class _State:
    def __init__(self, name: str) -> None:
        self.name = name


def test_which_connections_count_as_orphans() -> None:
    from tether_httpx.orphans import _reclaiming, _unused

    unconnected = _Fake(_connection=None, _connect_failed=False)
    failed = _Fake(_connection=None, _connect_failed=True)
    fresh = _Fake(_connection=_Fake(_state=_State("NEW"), _request_count=0))
    used = _Fake(_connection=_Fake(_state=_State("IDLE"), _request_count=3))
    proxied_fresh = _Fake(_connection=_Fake(_connection=_Fake(_state=_State("NEW"), _request_count=0)))
    assert [_unused(c) for c in (unconnected, failed, fresh, used, proxied_fresh)] == [
        "unconnected",
        None,
        "connected",
        None,
        "connected",
    ]
    owned_fresh = _Fake(_connection=_Fake(_state=_State("NEW"), _request_count=0))
    pool = _Fake(
        _requests=[_Fake(connection=owned_fresh)],
        _connections=[unconnected, failed, fresh, used, owned_fresh],
    )
    closing = _reclaiming(pool, lambda: [])()
    assert pool._connections == [failed, used, owned_fresh]  # a connection a request owns is never taken
    assert closing == [fresh]  # the connected orphan is closed by the pool; the unconnected one has no socket
