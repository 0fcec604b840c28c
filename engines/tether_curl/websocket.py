"""The upgrade route for Curl: libcurl connects (`CONNECT_ONLY=1`: TCP, TLS with the engine's
certificates, the HTTP/SOCKS proxy tunnel) on a CurlMulti driven by the event loop -- no blocking
perform, no thread -- and then carries bytes with `curl_easy_send`/`curl_easy_recv`, waiting on the
socket through the loop. tether writes the upgrade request and reads its answer itself
(`tether.engine.upgrade.handshake_over`).

Why not `CONNECT_ONLY=2` with `WS_RAW_MODE` (libcurl sending the upgrade itself): libcurl then fails
a refused upgrade with error 22 before reading its body, so a 401 page would be lost -- tether gives
the body of a refusal on every engine. libcurl's frame API (`curl_ws_send`/`recv`) is never used: it
has no permessage-deflate and answers pings on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import TYPE_CHECKING, Any

import pycurl

from tether.engine.config import ProxyType
from tether.engine.upgrade import RECEIVE_HIGH_WATER, Upgrade, UpgradedStream, handshake_over
from tether.exceptions import InvalidUrlError
from tether.request import HttpRequestData
from tether_curl.multi import CurlError

if TYPE_CHECKING:
    from tether_curl.engine import CurlEngine

__all__ = ["upgrade"]

#: Bytes handed to one `curl_easy_send`.
_SEND_CHUNK = 1024 * 1024
#: Bytes asked of one `curl_easy_recv` (as much as an asyncio socket transport reads at once).
_RECV_CHUNK = 256 * 1024


async def upgrade(engine: CurlEngine, request: HttpRequestData, protocol: str) -> Upgrade:
    from tether_curl.engine import _translate

    loop = asyncio.get_running_loop()
    handle = pycurl.Curl()
    connector = _Connector(loop, handle)
    try:
        engine._configure_handle(handle, None)  # type: ignore[arg-type]
        handle.setopt(pycurl.URL, str(request.url))
        handle.setopt(pycurl.CONNECT_ONLY, 1)
        handle.setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1)  # ALPN http/1.1 on TLS
        connect = request.timeout.connect_timeout
        handle.setopt(pycurl.CONNECTTIMEOUT_MS, 0 if connect is None else max(1, int(connect * 1000)))
        proxy = engine.config.proxy
        if proxy is not None and proxy.type is ProxyType.HTTP:
            handle.setopt(pycurl.HTTPPROXYTUNNEL, 1)
    except pycurl.error as exc:
        handle.close()
        raise InvalidUrlError(f"Cannot send {request.method} {request.url}: {exc}") from exc
    try:
        await connector.connect()
    except CurlError as exc:
        connector.close()
        raise _translate(exc, request) from exc
    except BaseException:
        connector.close()
        raise
    stream = _CurlStream(loop, connector)
    return await handshake_over(stream, request, protocol, engine.config.max_response_head_size)


class _Connector:
    """A private CurlMulti for one connection, driven by the loop's readiness callbacks and timer.

    Private, not the engine's shared multi: a connect-only handle must stay in its multi for as long
    as the connection is used, and its socket then belongs to the session, not to libcurl's watch."""

    def __init__(self, loop: asyncio.AbstractEventLoop, handle: pycurl.Curl) -> None:
        self.loop = loop
        self.handle = handle
        self.multi = pycurl.CurlMulti()
        self.multi.setopt(pycurl.M_SOCKETFUNCTION, self._on_socket)
        self.multi.setopt(pycurl.M_TIMERFUNCTION, self._on_timer)
        self._watched: dict[int, int] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._done: asyncio.Future[None] = loop.create_future()
        self._closed = False
        self.fd = -1

    async def connect(self) -> None:
        self.multi.add_handle(self.handle)
        self.loop.call_soon(self._action, pycurl.SOCKET_TIMEOUT, 0)
        await self._done
        self._unwatch()
        self.fd = int(self.handle.getinfo(pycurl.ACTIVESOCKET))
        if self.fd < 0:
            raise CurlError(7, "libcurl gave no connected socket")

    def _on_socket(self, event: int, fd: int, multi: Any, data: Any) -> None:
        if self._done.done():
            return
        self._unwatch(fd)
        if event == pycurl.POLL_REMOVE:
            return
        if event & pycurl.POLL_IN:
            self.loop.add_reader(fd, self._action, fd, pycurl.CSELECT_IN)
        if event & pycurl.POLL_OUT:
            self.loop.add_writer(fd, self._action, fd, pycurl.CSELECT_OUT)
        self._watched[fd] = event

    def _unwatch(self, only: int | None = None) -> None:
        for fd in [only] if only is not None else list(self._watched):
            event = self._watched.pop(fd, 0)
            if event & pycurl.POLL_IN:
                self.loop.remove_reader(fd)
            if event & pycurl.POLL_OUT:
                self.loop.remove_writer(fd)

    def _on_timer(self, timeout_ms: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if timeout_ms >= 0 and not self._done.done():
            self._timer = self.loop.call_later(timeout_ms / 1000, self._action, pycurl.SOCKET_TIMEOUT, 0)

    def _action(self, fd: int, events: int) -> None:
        if self._closed or self._done.done():
            return
        while True:
            result, _ = self.multi.socket_action(fd, events)
            if result != pycurl.E_CALL_MULTI_PERFORM:
                break
        _, succeeded, failed = self.multi.info_read()
        if succeeded:
            self._done.set_result(None)
        elif failed:
            _, code, message = failed[0]
            self._done.set_exception(CurlError(code, message, connected=False))
        if self._done.done() and self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._unwatch()
        if self._timer is not None:
            self._timer.cancel()
        if not self._done.done():
            self._done.cancel()
        with contextlib.suppress(pycurl.error):
            self.multi.remove_handle(self.handle)
        self.handle.close()
        self.multi.close()


class _CurlStream(UpgradedStream):
    """Bytes through `curl_easy_recv`/`curl_easy_send` (TLS is libcurl's), readiness from the loop.

    Reading is pushed, as an asyncio socket transport reads: the socket stays registered with the
    loop while the session runs, and its readiness callback receives into a buffer (until the socket
    has nothing more, so bytes libcurl's TLS layer holds are not left behind) that `read` takes from.
    Above `RECEIVE_HIGH_WATER` buffered bytes it stops reading until `read` drained half. A read that
    finds no data waits on one future: no add/remove of the reader, no failed recv, per read.

    Writing: `try_write` sends at once when nothing else is in flight; bytes the socket did not take
    (the tail) are sent by a writer callback, and `try_write` refuses while there is a tail. `write`
    waits for the tail, sends, leaves what the socket did not take to the same callback and waits for
    it: bytes the stream took are always sent whole and in order, so a cancelled `write` never leaves
    half a frame on the wire (its rest is sent before anything written later)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, connector: _Connector) -> None:
        self._loop = loop
        self._connector = connector
        self._handle = connector.handle
        self._fd = connector.fd
        self._closed = False
        self._waiters: set[asyncio.Future[None]] = set()
        # Receiving.
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._eof = False
        self._error: BaseException | None = None
        self._read_waiter: asyncio.Future[None] | None = None
        self._reading = True
        # Sending.
        self._tail: memoryview | None = None  # bytes taken but not yet sent (a writer callback sends them)
        self._tails_started = 0  # tails begun, and tails the writer callback finished: `write` waits
        self._tails_done = 0  # for its own, not for one begun after it
        self._tail_waiters: list[asyncio.Future[None]] = []
        self._send_error: BaseException | None = None
        loop.add_reader(self._fd, self._on_readable)

    # -- receiving ---------------------------------------------------------------------------------
    def _on_readable(self) -> None:
        handle = self._handle
        while not self._closed:
            try:
                data: bytes = handle.recv(_RECV_CHUNK)
            except BlockingIOError:
                return
            except pycurl.error as exc:
                if exc.args and exc.args[0] == 81:  # CURLE_AGAIN (TLS wants more)
                    return
                self._end_of_input(ConnectionResetError(f"recv failed: {exc}"))
                return
            if not data:
                self._end_of_input(None)
                return
            self._chunks.append(data)
            self._buffered += len(data)
            waiter = self._read_waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
            if self._buffered > RECEIVE_HIGH_WATER:
                self._stop_reading()
                return

    def _end_of_input(self, error: BaseException | None) -> None:
        self._eof = True
        self._error = error
        self._stop_reading()
        waiter = self._read_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _stop_reading(self) -> None:
        if self._reading:
            self._reading = False
            self._loop.remove_reader(self._fd)

    async def read(self, max_bytes: int) -> bytes:
        chunks = self._chunks
        while not chunks:
            if self._closed:
                return b""
            if self._eof:
                if self._error is not None:
                    raise self._error
                return b""
            waiter = self._read_waiter = self._loop.create_future()
            self._waiters.add(waiter)
            try:
                await waiter
            finally:
                self._read_waiter = None
                self._waiters.discard(waiter)
        if self._closed:
            return b""
        first = chunks[0]
        if len(first) <= max_bytes and len(chunks) == 1:
            chunks.clear()
            data = first
        else:
            parts = []
            wanted = max_bytes
            while chunks and wanted:
                chunk = chunks.popleft()
                if len(chunk) > wanted:
                    chunks.appendleft(chunk[wanted:])
                    chunk = chunk[:wanted]
                parts.append(chunk)
                wanted -= len(chunk)
            data = b"".join(parts)
        self._buffered -= len(data)
        if not self._reading and not self._eof and self._buffered <= RECEIVE_HIGH_WATER // 2:
            self._reading = True
            self._loop.add_reader(self._fd, self._on_readable)
            self._on_readable()  # what libcurl's TLS layer may hold does not make the socket readable
        return data

    # -- sending -----------------------------------------------------------------------------------
    def try_write(self, data: bytes) -> bool:
        if self._closed or self._tail is not None or self._send_error is not None:
            return False
        try:
            sent: int = self._handle.send(data)
        except BlockingIOError:
            return False
        except pycurl.error as exc:
            if not (exc.args and exc.args[0] == 81):
                self._send_error = ConnectionResetError(f"send failed: {exc}")
            return False  # `write` waits (or raises the error)
        if sent < len(data):
            self._start_tail(memoryview(data)[sent:])
        return True

    def _start_tail(self, tail: memoryview) -> int:
        """Leave `tail` (the stream has taken it: it is sent before anything later) to the writer
        callback; returns its number for `write` to wait on."""
        self._tail = tail
        self._tails_started += 1
        self._loop.add_writer(self._fd, self._flush_tail)
        return self._tails_started

    def _flush_tail(self) -> None:
        """The writer callback: sends the tail until the socket takes no more or all of it is sent."""
        tail = self._tail
        if tail is None or self._closed:
            return
        handle = self._handle
        try:
            while tail:  # bounded: every turn sends at least one byte, else it stops
                sent: int = handle.send(tail[:_SEND_CHUNK])
                if sent <= 0:
                    break
                tail = tail[sent:]
        except BlockingIOError:
            pass
        except pycurl.error as exc:
            if not (exc.args and exc.args[0] == 81):  # not CURLE_AGAIN: the connection is broken
                self._send_error = ConnectionResetError(f"send failed: {exc}")
                tail = tail[len(tail) :]  # cannot be sent: every write from now on raises the error
        if tail:
            self._tail = tail
            return
        self._tail = None
        self._tails_done = self._tails_started
        self._loop.remove_writer(self._fd)
        self._wake_writers()

    def _wake_writers(self) -> None:
        waiters, self._tail_waiters = self._tail_waiters, []
        for waiter in waiters:
            _settle(waiter)

    async def _tail_sent(self) -> None:
        """Wait for the writer callback to finish the tail (or for the stream to fail or close). One
        future per waiter: a cancelled wait cancels nothing that another writer waits on."""
        waiter: asyncio.Future[None] = self._loop.create_future()
        self._tail_waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            with contextlib.suppress(ValueError):
                self._tail_waiters.remove(waiter)
            raise

    def _check_sendable(self) -> None:
        if self._closed:
            raise ConnectionResetError("the connection is closed")
        if self._send_error is not None:
            raise self._send_error

    async def write(self, data: bytes) -> None:
        """Send `data` after what is still in flight, and wait until the socket took all of it.

        Safe to cancel, the frame stream stays whole: cancelled while earlier bytes are still going,
        nothing of `data` was sent; cancelled later, the writer callback sends the rest of `data`
        before anything written after it (the cancellation only ends the caller's wait)."""
        while self._tail is not None:  # the rest of a `try_write` (or of a cancelled write) first
            self._check_sendable()
            await self._tail_sent()
        self._check_sendable()
        if self.try_write(data):
            if self._tail is None:
                return
            mine = self._tails_started
        else:
            self._check_sendable()  # the send failed
            mine = self._start_tail(memoryview(data))  # the socket takes nothing now
        while self._tails_done < mine:
            self._check_sendable()
            await self._tail_sent()
        self._check_sendable()

    def abort(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._reading = False
        self._tail = None
        self._chunks.clear()
        self._buffered = 0
        with contextlib.suppress(ValueError, OSError):
            self._loop.remove_reader(self._fd)
            self._loop.remove_writer(self._fd)
        for waiter in self._waiters:
            _settle(waiter)  # a pending read returns b""
        self._wake_writers()  # a pending write raises
        self._connector.close()


def _settle(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
