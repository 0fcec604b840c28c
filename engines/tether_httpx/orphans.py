"""A workaround for httpcore#1093 (fixed upstream in pull requests that are not released).

httpcore's connection pool assigns a waiting request a *new* connection, which that request connects
when it runs again. A request cancelled in between (in `wait_for_connection`) is removed from the pool,
but its connection stays: never connected, never failed, owned by nobody. It is neither idle, nor
closed, nor available, so nothing ever removes or uses it, and it holds a slot of the pool for good.
After a storm of cancellations a small pool is full of them, and every later request waits for a slot
forever (tether gives httpcore no pool timeout; the engine's pools are small shards).

`reclaim_orphans` makes the pool drop such connections whenever it reassigns connections (which it does
right after removing a cancelled request): a connection that never connected and that no request in
the pool owns can never be used again. It has no socket yet, so dropping it needs no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

__all__ = ["reclaim_orphans"]


def _never_connected(connection: Any) -> bool:
    """Not connected yet and not failed (the httpcore connection, or the one a proxy connection wraps)."""
    for _ in range(4):  # a proxy's connection wraps a plain one: a short chain
        inner = getattr(connection, "_connection", _MISSING)
        if inner is None:
            return not getattr(connection, "_connect_failed", True)
        if inner is _MISSING:
            return False
        connection = inner
    return False


_MISSING = object()


def _reclaiming(pool: Any, assign: Callable[[], list[Any]]) -> Callable[[], list[Any]]:
    def assign_requests_to_connections() -> list[Any]:
        owned = {id(request.connection) for request in pool._requests if request.connection is not None}
        connections: list[Any] = pool._connections
        for connection in list(connections):
            if id(connection) not in owned and _never_connected(connection):
                connections.remove(connection)  # an orphan of a cancelled request: no socket to close
        return assign()

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
