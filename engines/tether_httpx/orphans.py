"""A workaround for httpcore#1093 (fixed upstream in pull requests that are not released).

httpcore's connection pool assigns a waiting request a *new* connection, which that request connects
when it runs again. A request cancelled before it used that connection is removed from the pool, but
the connection stays, owned by nobody and never used again:

- cancelled before it ran (in `wait_for_connection`): never connected, never failed;
- cancelled right after connecting, before its request started on it (a cancellation delivered when
  the connection takes its state lock): connected, its HTTP connection still `NEW`.

Neither is idle, closed or available, so nothing ever removes or uses it, and it holds a slot of the
pool for good. After a storm of cancellations a small pool is full of them, and every later request
waits for a slot forever (tether gives httpcore no pool timeout; the engine's pools are small shards).

`reclaim_orphans` makes the pool drop such connections whenever it reassigns connections (which it does
right after removing a cancelled request): one that never connected is dropped (it has no socket),
one that connected is handed to the pool's own closing step. A connection no request in the pool owns
and that never carried a request can never be used again.

A third leak of the same kind: a cancellation delivered while httpcore closes a response (its pool
stream is marked closed first, then the connection is released, then the request leaves the pool)
leaves the request in the pool holding its connection. `finish_close`, run after every close of a
response, finishes such a close: the request leaves the pool, and a connection left in an unknown
state is closed, never reused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

__all__ = ["finish_close", "reclaim_orphans"]


def _unused(connection: Any) -> str | None:
    """ "unconnected" (no socket yet, not failed), "connected" (its HTTP connection is still NEW, no
    request ever started on it), or None: in use, or used before (the pool's own rules apply)."""
    for _ in range(4):  # a proxy's connection wraps a plain one: a short chain
        inner = getattr(connection, "_connection", _MISSING)
        if inner is None:
            return None if getattr(connection, "_connect_failed", True) else "unconnected"
        if inner is _MISSING:
            state = getattr(connection, "_state", None)
            fresh = getattr(state, "name", None) == "NEW" and getattr(connection, "_request_count", 1) == 0
            return "connected" if fresh else None
        connection = inner
    return None


_MISSING = object()


def _reclaiming(pool: Any, assign: Callable[[], list[Any]]) -> Callable[[], list[Any]]:
    def assign_requests_to_connections() -> list[Any]:
        owned = {id(request.connection) for request in pool._requests if request.connection is not None}
        connections: list[Any] = pool._connections
        closing = []
        for connection in list(connections):
            if id(connection) in owned:
                continue
            kind = _unused(connection)
            if kind is not None:
                connections.remove(connection)  # an orphan of a cancelled request
                if kind == "connected":
                    closing.append(connection)  # closed by the pool, outside its lock
        return assign() + closing

    return assign_requests_to_connections


def reclaim_orphans(client: httpx.AsyncClient) -> None:
    """Install the workaround on every httpcore pool of `client` (a custom transport is left alone)."""
    transports = [client._transport, *client._mounts.values()]
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        assign = getattr(pool, "_assign_requests_to_connections", None)
        if assign is None or not hasattr(pool, "_requests") or not hasattr(pool, "_connections"):
            continue
        pool._assign_requests_to_connections = _reclaiming(pool, assign)  # type: ignore[union-attr]


async def finish_close(response: httpx.Response) -> None:
    """After `response.aclose()`: finish httpcore's close if a cancellation interrupted it."""
    stream = getattr(getattr(response.stream, "_stream", None), "_httpcore_stream", None)
    if stream is None or not getattr(stream, "_closed", False):
        return
    pool = getattr(stream, "_pool", None)
    request: Any = getattr(stream, "_pool_request", None)
    requests: list[Any] | None = getattr(pool, "_requests", None)
    if requests is None or request not in requests:
        return  # closed properly (the usual case)
    connection = request.connection
    with pool._optional_thread_lock:  # type: ignore[union-attr]
        requests.remove(request)
        closing: list[Any] = pool._assign_requests_to_connections()  # type: ignore[union-attr]
        if connection is not None and not connection.is_idle() and not connection.is_closed():
            if connection in pool._connections:  # type: ignore[union-attr]
                pool._connections.remove(connection)  # type: ignore[union-attr]
            closing.append(connection)
    await pool._close_connections(closing)  # type: ignore[union-attr]
