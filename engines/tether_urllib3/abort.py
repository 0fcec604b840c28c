"""Waking a worker thread blocked on a socket, from the event loop, without blocking the loop.

urllib3 and http.client block a worker in `recv` (or `send`, or `connect`) until the peer moves; a
cancelled request, a closed stream or a closing engine must not wait for that, nor leave the worker
stuck (a few stuck workers starve the engine). Closing the response on the loop thread is no way out:
it takes the lock of the socket's buffered reader, which the blocked worker holds.

The way out is `shutdown(SHUT_RDWR)` on the socket: a system call that takes no Python lock, after
which the blocked call returns at once (end of file, or an error the worker's code maps as usual).
The worker then finishes its call and closes the connection itself; the file descriptor is closed by
the thread that uses it, never from under it.

A worker may also wait on the event loop rather than on a socket: a streamed upload pulls its next
chunk from the loop (`wait_on_loop`). `abort()` cancels that wait as well, so whatever the worker is
blocked on -- connecting, sending, reading, or waiting for the next chunk of a body -- it is free again
at once.

`WorkerCall` is one blocking call on a worker: the connection classes attach their socket to the call
of the thread they run on (`Abortable`), before connecting already; `abort()`, from any thread, shuts
that socket down and cancels the call's wait on the loop. (Shutting down a socket that is still
connecting ends its `connect` at once on Linux, as a connected socket's `recv`.)
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import socket
import ssl
import sys
import threading
from typing import Any, TypeVar

from urllib3.exceptions import ConnectTimeoutError, LocationParseError, NameResolutionError, NewConnectionError
from urllib3.util.connection import _set_socket_options, allowed_gai_family
from urllib3.util.timeout import _DEFAULT_TIMEOUT

__all__ = ["Abortable", "AbortableSSLSocket", "ReleasesToPool", "WorkerCall", "shut_down", "wait_on_loop"]

T = TypeVar("T")

_current = threading.local()


def shut_down(sock: Any) -> None:
    """Wake every thread blocked on `sock` (the plain socket's shutdown: no TLS state, no lock)."""
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError, ValueError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


class WorkerCall:
    """One blocking call on a worker thread (use it as a context manager on that thread)."""

    __slots__ = ("_lock", "_sock", "_waiting", "aborted")

    def __init__(self) -> None:
        self._lock = threading.Lock()  # held for a few bytecodes, never across I/O
        self._sock: socket.socket | None = None
        self._waiting: concurrent.futures.Future[Any] | None = None  # work the worker awaits from the loop
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
        """Stop the call: its socket is shut down now, or as soon as it has one, and a wait for the
        event loop (`wait`) ends now, or as soon as it begins. Any thread."""
        with self._lock:
            self.aborted = True
            if self._sock is not None:
                shut_down(self._sock)
            if self._waiting is not None:
                self._waiting.cancel()  # wakes the worker; the coroutine on the loop is cancelled too

    def wait(self, future: concurrent.futures.Future[T]) -> T:
        """The result of `future` (work the event loop does for this call, as `run_coroutine_threadsafe`
        gives it), on the call's worker; an aborted call stops waiting at once, with
        ConnectionAbortedError (an OSError: urllib3 reports it as the connection aborted)."""
        with self._lock:
            if self.aborted:
                future.cancel()
                raise ConnectionAbortedError("the call was aborted")
            self._waiting = future
        try:
            return future.result()
        except concurrent.futures.CancelledError:
            if self.aborted:
                raise ConnectionAbortedError("the call was aborted") from None
            raise
        finally:
            with self._lock:
                self._waiting = None

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


def wait_on_loop(future: concurrent.futures.Future[T]) -> T:
    """The result of `future`, which the event loop settles; within a worker's call (`WorkerCall`),
    aborting the call ends the wait at once."""
    call: WorkerCall | None = getattr(_current, "call", None)
    if call is None:
        return future.result()
    return call.wait(future)


class ReleasesToPool:
    """Mixin for urllib3's pool classes: a connection put back into the pool (urllib3 does that as
    soon as a response was read whole, still inside the worker's call) leaves the thread's call."""

    def _put_conn(self, conn: Any) -> None:
        call: WorkerCall | None = getattr(_current, "call", None)
        if call is not None and conn is not None:
            call.release(getattr(conn, "sock", None))
        super()._put_conn(conn)  # type: ignore[misc]


class AbortableSSLSocket(ssl.SSLSocket):
    """The TLS socket an engine's `SSLContext` makes (its `sslsocket_class`): it joins the thread's call
    before its handshake, so an abort during the handshake wakes the worker too. (The plain socket
    attached while connecting is detached by then: it no longer owns the file descriptor.)"""

    def do_handshake(self, block: bool = False) -> None:
        _attach(self)
        super().do_handshake(block)


class Abortable:
    """Mixin for urllib3's connection classes: the socket of each step joins the thread's call, from
    before its `connect` on."""

    sock: socket.socket | None
    host: str
    port: int
    timeout: Any
    source_address: tuple[str, int] | None
    socket_options: Any
    _dns_host: str

    def _new_conn(self) -> socket.socket:
        """urllib3's `HTTPConnection._new_conn`, with urllib3's `create_connection`, but each socket
        tried joins the thread's call before it connects: an abort wakes a worker stuck connecting
        (a server whose accept queue is full never answers; only the connect timeout would end it)."""
        try:
            sock = _create_connection(
                (self._dns_host, self.port), self.timeout, self.source_address, self.socket_options
            )
        except socket.gaierror as e:
            raise NameResolutionError(self.host, self, e) from e  # type: ignore[arg-type]
        except TimeoutError as e:
            raise ConnectTimeoutError(
                self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
            ) from e
        except OSError as e:
            raise NewConnectionError(self, f"Failed to establish a new connection: {e}") from e  # type: ignore[arg-type]
        sys.audit("http.client.connect", self, self.host, self.port)
        return sock

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        _attach(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _attach(self.sock)
        super().request(*args, **kwargs)  # type: ignore[misc]

    def getresponse(self) -> Any:
        _attach(self.sock)
        return super().getresponse()  # type: ignore[misc]


def _create_connection(
    address: tuple[str, int], timeout: Any, source_address: tuple[str, int] | None, socket_options: Any
) -> socket.socket:
    """`urllib3.util.connection.create_connection`, each socket attached to the thread's call (if any)
    before it connects; an aborted call tries no further address."""
    host, port = address
    if host.startswith("["):
        host = host.strip("[]")
    try:
        host.encode("idna")
    except UnicodeError:
        raise LocationParseError(f"'{host}', label empty or too long") from None
    call: WorkerCall | None = getattr(_current, "call", None)
    err: OSError | None = None
    for af, socktype, proto, _canonname, sa in socket.getaddrinfo(host, port, allowed_gai_family(), socket.SOCK_STREAM):
        sock = None
        try:
            sock = socket.socket(af, socktype, proto)
            _set_socket_options(sock, socket_options)
            if timeout is not _DEFAULT_TIMEOUT:
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            if call is not None:
                call.attach(sock)  # shut down at once if the call is aborted already
            sock.connect(sa)
            return sock
        except OSError as exc:
            err = exc
            if sock is not None:
                sock.close()
            if call is not None and call.aborted:
                break
    if err is not None:
        try:
            raise err
        finally:
            err = None
    raise OSError("getaddrinfo returns an empty list")
