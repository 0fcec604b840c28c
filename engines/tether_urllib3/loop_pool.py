"""Kept-alive plain-HTTP connections the event loop owns between its requests (the Urllib3 engine's
loop path).

A connection the loop has used stays registered with the loop while it is idle, so a request on it
costs no epoll registration: a read event resolves the request waiting on that socket, and on an idle
connection means the server closed it (or sent bytes nobody asked for), which closes it at once. A
connection leaves the loop's custody -- unregistered first -- when a worker thread must read its
response, and when it is closed (`_StrictHTTPConnection.close` calls back here).

Everything here runs on the loop's thread.
"""

from __future__ import annotations

import asyncio
import select
import socket
from typing import Any

from urllib3.connection import HTTPConnection

__all__ = ["LoopConnections", "idle_and_open"]

Origin = tuple[str | None, int | None]


def idle_and_open(sock: socket.socket) -> bool:
    """Nothing to read and no error (a zero-timeout poll; no exception in the common case). For an
    idle kept-alive socket this is urllib3's `is_connection_dropped` inverted: EOF or stray bytes mean
    the server dropped it."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return not poller.poll(0)


class LoopConnections:
    def __init__(self, loop: asyncio.AbstractEventLoop, idle_limit: int) -> None:
        self.loop = loop
        self._idle_limit = idle_limit
        self._idle: dict[Origin, list[HTTPConnection]] = {}
        self._owned: dict[int, tuple[Origin, HTTPConnection]] = {}  # fd -> (origin, connection)
        self._pollers: dict[int, select.poll] = {}  # fd -> a poll object watching only that socket
        self._waiting: dict[int, asyncio.Future[bool]] = {}
        #: Sockets with unread body bytes nobody waits for yet: unwatched until their reader waits
        #: (readiness is level-triggered: a watched one would wake the loop on every iteration).
        self._paused: set[int] = set()

    def take(self, origin: Origin) -> HTTPConnection | None:
        """An idle connection to `origin` the loop already owns, or None."""
        idle = self._idle.get(origin)
        while idle:
            conn = idle.pop()
            if conn.sock is not None and self._quiet(conn):
                return conn
            conn.close()  # unregisters through the connection's close hook
        return None

    def adopt(self, conn: HTTPConnection, origin: Origin) -> None:
        """Take custody of a connected `conn` (from urllib3's pool): watch its socket from now on."""
        assert conn.sock is not None
        fd = conn.sock.fileno()
        self.loop.add_reader(fd, self._readable, fd)
        self._owned[fd] = (origin, conn)
        poller = self._pollers[fd] = select.poll()
        poller.register(fd, select.POLLIN)
        conn._tether_fd = fd  # type: ignore[attr-defined]
        conn._tether_on_close = self._forget  # type: ignore[attr-defined]

    async def wait(self, conn: HTTPConnection, timeout: float | None) -> bool:
        """Until the response starts to arrive: False, or True if `timeout` passed first."""
        fd: int = conn._tether_fd  # type: ignore[attr-defined]
        if fd in self._paused:
            self._paused.discard(fd)
            self.loop.add_reader(fd, self._readable, fd)
        waiter: asyncio.Future[bool] = self.loop.create_future()
        self._waiting[fd] = waiter
        timer = self.loop.call_later(timeout, _expire, waiter) if timeout is not None else None
        try:
            return await waiter
        finally:
            if self._waiting.get(fd) is waiter:
                del self._waiting[fd]
            if timer is not None:
                timer.cancel()

    def hand_over(self, conn: HTTPConnection) -> None:
        """A worker reads this response: stop watching the socket (the worker's pool gets it back)."""
        self._forget(conn)

    def _quiet(self, conn: HTTPConnection) -> bool:
        """Nothing to read on an owned connection (its own poll object: one system call)."""
        return not self._pollers[conn._tether_fd].poll(0)  # type: ignore[attr-defined]

    def _put_conn(self, conn: HTTPConnection | None) -> None:
        """Where urllib3's `response.release_conn()` returns a connection the loop read from."""
        if conn is None:
            return
        entry = self._owned.get(getattr(conn, "_tether_fd", -1))
        if entry is None or entry[1] is not conn or conn.sock is None:
            conn.close()
            return
        idle = self._idle.setdefault(entry[0], [])
        if len(idle) >= self._idle_limit:
            conn.close()
            return
        fd = entry[1]._tether_fd  # type: ignore[attr-defined]
        if fd in self._paused:  # idle again: watched again (a read event now means the server closed it)
            self._paused.discard(fd)
            self.loop.add_reader(fd, self._readable, fd)
        idle.append(conn)

    def _readable(self, fd: int) -> None:
        entry = self._owned.get(fd)
        if entry is None:  # not ours any more
            self.loop.remove_reader(fd)
            return
        origin, conn = entry
        if conn.sock is not None and self._quiet(conn):
            # A read event the loop queued before the last response was consumed: stale, ignore it
            # (waking the next request for nothing, or dropping a healthy idle connection, would cost).
            return
        waiter = self._waiting.pop(fd, None)
        if waiter is not None:
            if not waiter.done():
                waiter.set_result(False)
            return
        idle = self._idle.get(origin, [])
        if conn in idle:
            # Readable while idle: the server closed it (or wrote out of turn). Never reuse it.
            idle.remove(conn)
            conn.close()
        else:
            # A body being read on the loop, its reader not waiting (it reads what is here when it
            # next asks): stop watching until it waits again.
            self.loop.remove_reader(fd)
            self._paused.add(fd)

    def _forget(self, conn: HTTPConnection) -> None:
        conn._tether_on_close = None  # type: ignore[attr-defined]
        fd: int = conn._tether_fd  # type: ignore[attr-defined]
        entry = self._owned.get(fd)
        if entry is None or entry[1] is not conn:
            return
        del self._owned[fd]
        del self._pollers[fd]
        self._paused.discard(fd)
        self.loop.remove_reader(fd)
        waiter = self._waiting.pop(fd, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(False)  # its reader finds the socket closed
        idle = self._idle.get(entry[0])
        if idle and conn in idle:
            idle.remove(conn)

    def close(self) -> None:
        for _origin, conn in list(self._owned.values()):
            conn.close()
        self._idle.clear()


def _expire(waiter: asyncio.Future[Any]) -> None:
    if not waiter.done():
        waiter.set_result(True)
