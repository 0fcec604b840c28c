"""Waking a worker thread blocked on a socket, from the event loop, without blocking the loop.

urllib3 and http.client block a worker in `recv` (or `send`, or `connect`) until the peer moves; a
cancelled request, a closed stream or a closing engine must not wait for that, nor leave the worker
stuck (a few stuck workers starve the engine). Closing the response on the loop thread is no way out:
it takes the lock of the socket's buffered reader, which the blocked worker holds.

The way out is `shutdown(SHUT_RDWR)` on the socket: a system call that takes no Python lock, after
which the blocked call returns at once (end of file, or an error the worker's code maps as usual).
The worker then finishes its call and closes the connection itself; the file descriptor is closed by
the thread that uses it, never from under it.

`WorkerCall` is one blocking call on a worker: the connection classes attach their socket to the call
of the thread they run on (`Abortable`), and `abort()`, from any thread, shuts that socket down.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any

__all__ = ["Abortable", "ReleasesToPool", "WorkerCall", "shut_down"]

_current = threading.local()


def shut_down(sock: Any) -> None:
    """Wake every thread blocked on `sock` (the plain socket's shutdown: no TLS state, no lock)."""
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError, ValueError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


class WorkerCall:
    """One blocking call on a worker thread (use it as a context manager on that thread)."""

    __slots__ = ("_lock", "_sock", "aborted")

    def __init__(self) -> None:
        self._lock = threading.Lock()  # held for a few bytecodes, never across I/O
        self._sock: socket.socket | None = None
        self.aborted = False

    # The socket is shut down while the lock is held (a system call that never blocks): once `release`
    # or `__exit__` returned, the socket may serve another request, and must never be shut down by
    # this call any more.
    def attach(self, sock: socket.socket) -> None:
        with self._lock:
            self._sock = sock
            if self.aborted:  # aborted before the socket existed (while connecting): stop at once
                shut_down(sock)

    def release(self, sock: socket.socket | None) -> None:
        """`sock` went back to a pool (its response was read whole): no longer this call's."""
        with self._lock:
            if self._sock is sock:
                self._sock = None

    def abort(self) -> None:
        """Stop the call: its socket is shut down now, or as soon as it has one. Any thread."""
        with self._lock:
            self.aborted = True
            if self._sock is not None:
                shut_down(self._sock)

    def __enter__(self) -> WorkerCall:
        _current.call = self
        return self

    def __exit__(self, *exc: object) -> None:
        _current.call = None
        with self._lock:
            self._sock = None  # the socket may serve another request now: never shut it down later


def _attach(sock: socket.socket | None) -> None:
    call: WorkerCall | None = getattr(_current, "call", None)
    if call is not None and sock is not None:
        call.attach(sock)


class ReleasesToPool:
    """Mixin for urllib3's pool classes: a connection put back into the pool (urllib3 does that as
    soon as a response was read whole, still inside the worker's call) leaves the thread's call."""

    def _put_conn(self, conn: Any) -> None:
        call: WorkerCall | None = getattr(_current, "call", None)
        if call is not None and conn is not None:
            call.release(getattr(conn, "sock", None))
        super()._put_conn(conn)  # type: ignore[misc]


class Abortable:
    """Mixin for urllib3's connection classes: the socket of each step joins the thread's call."""

    sock: socket.socket | None

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        _attach(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _attach(self.sock)
        super().request(*args, **kwargs)  # type: ignore[misc]

    def getresponse(self) -> Any:
        _attach(self.sock)
        return super().getresponse()  # type: ignore[misc]
