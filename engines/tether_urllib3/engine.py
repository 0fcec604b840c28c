"""tether over `urllib3.PoolManager`, run on worker threads.

Every blocking call (sending, and each read of the body) runs on the configured executor, or on a
pool of `threads_count` threads the engine owns, so the event loop never blocks. urllib3's retries,
redirects and decoding are off; total connections are bounded by `max_connections` (urllib3 itself
only bounds connections per host).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import enum
import errno
import functools
import http.client
import importlib.util
import re
import socket
import ssl
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import urllib3
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProxyError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.util.response import assert_header_parsing

from tether.channel import ByteReadChannel
from tether.content import StreamContent
from tether.engine import (
    DEFAULT_CAPABILITIES,
    EngineFactory,
    HttpClientEngineBase,
    HttpClientEngineCapability,
    HttpClientEngineConfig,
    ProxyCapability,
    ProxyType,
    SocksProxyCapability,
    SSECapability,
    WebSocketCapability,
)
from tether.engine.support import (
    READ_CHUNK_SIZE,
    HeadersMemo,
    chunks_of,
    create_ssl_context,
    expected_body_length,
    header_block,
    protocol_version,
    replayable,
    request_body_bytes,
    response_status,
)
from tether.engine.upgrade import Upgrade
from tether.exceptions import (
    ConnectError,
    ConnectTimeoutException,
    InvalidUrlError,
    ProtocolError,
    SocketTimeoutException,
    TetherError,
    TlsError,
)
from tether.http import Headers, HttpStatusCode
from tether.request import HttpRequestData
from tether.response import HttpResponseData
from tether_urllib3 import websocket
from tether_urllib3.abort import AbortableSSLSocket, WorkerCall, shut_down, wait_on_loop
from tether_urllib3.loop_pool import LoopConnections
from tether_urllib3.strict import STATUS_LINE, STRICT_POOL_CLASSES, TAKEN

__all__ = ["Urllib3", "Urllib3Config", "Urllib3Engine"]

_SOCKS_AVAILABLE = importlib.util.find_spec("socks") is not None
#: Bodies up to this size (by Content-Length) are read together with the head, in one worker hop.
INLINE_BODY_LIMIT = 64 * 1024
#: Requests up to this many body bytes may be sent from the event loop on a kept-alive connection.
LOOP_SEND_LIMIT = 8 * 1024


@dataclass
class Urllib3Config(HttpClientEngineConfig):
    #: Escape hatch: change the keyword arguments given to the `PoolManager` (or proxy manager).
    customize_pool_manager: Callable[[dict[str, Any]], None] | None = None

    def configure_connection_manager(
        self, max_conn_total: int | None = None, max_conn_per_route: int | None = None
    ) -> None:
        """Ktor's Apache-style spelling of the connection limits."""
        if max_conn_total is not None:
            self.max_connections = max_conn_total
        if max_conn_per_route is not None:
            self.max_connections_per_host = max_conn_per_route


class Urllib3Engine(HttpClientEngineBase[Urllib3Config]):
    name = "Urllib3"

    def __init__(self, config: Urllib3Config) -> None:
        super().__init__(config)
        # http.client stops at 100 header lines (a module-wide constant): raise it to at least
        # tether's limit, which response_headers() enforces exactly.
        http.client._MAXHEADERS = max(http.client._MAXHEADERS, config.max_response_headers + 1)  # type: ignore[attr-defined]
        self._owned_executor: ThreadPoolExecutor | None = None
        self._executor: Executor = config.executor or self._own_executor()
        self._pool = self._create_pool()
        self._slots: asyncio.Semaphore | None = None
        self._heads = HeadersMemo()  # checked headers by urllib3's header lines
        #: Plain-HTTP requests on kept-alive connections are sent and awaited on the event loop.
        self._loop_sends = config.proxy is None
        self._peek = bytearray(INLINE_BODY_LIMIT + 32 * 1024)  # used on the loop thread only
        self._http_pools: dict[tuple[str | None, int | None], HTTPConnectionPool] = {}
        self._loop_conns: LoopConnections | None = None
        self._idle_limit = config.max_connections_per_host or config.max_connections
        self._calls: set[WorkerCall] = set()  # blocking calls on workers right now (aborted by close())

    @property
    def executor(self) -> Executor:
        """The workers every blocking call runs on (sends, body reads, and tether's blocking work)."""
        return self._executor

    def _own_executor(self) -> Executor:
        self._owned_executor = ThreadPoolExecutor(self.config.threads_count, thread_name_prefix="tether-urllib3")
        return self._owned_executor

    @functools.cached_property
    def capabilities(self) -> frozenset[HttpClientEngineCapability[Any]]:  # fixed once the engine exists
        extra: set[HttpClientEngineCapability[Any]] = {ProxyCapability}
        if _SOCKS_AVAILABLE:
            extra.add(SocksProxyCapability)
        return DEFAULT_CAPABILITIES | extra | {SSECapability, WebSocketCapability}

    async def upgrade(self, request: HttpRequestData, protocol: str) -> Upgrade:
        return await websocket.upgrade(self, request, protocol)  # engines/tether_urllib3/websocket.py

    def _create_pool(self) -> urllib3.PoolManager:
        config = self.config
        context: ssl.SSLContext = create_ssl_context(config)
        context.sslsocket_class = AbortableSSLSocket  # an aborted call wakes a worker in a TLS handshake
        kwargs: dict[str, Any] = {
            "num_pools": 32,
            "maxsize": config.max_connections_per_host or config.max_connections,
            "block": False,
            "retries": False,
            "ssl_context": context,
            "cert_reqs": "CERT_REQUIRED" if config.verify else "CERT_NONE",
            "assert_hostname": None if config.verify else False,
        }
        if not config.verify:
            # The caller turned verification off on purpose; urllib3 would warn on every request.
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        proxy = config.proxy
        if config.customize_pool_manager is not None:
            config.customize_pool_manager(kwargs)
        manager: urllib3.PoolManager
        if proxy is not None and proxy.type is ProxyType.SOCKS:
            from urllib3.contrib.socks import SOCKSProxyManager

            # SOCKS keeps its own connection classes (http.client's lenient head parsing applies).
            return SOCKSProxyManager(f"socks5://{proxy.url.host}:{proxy.url.port}", **kwargs)
        manager = urllib3.ProxyManager(str(proxy.url), **kwargs) if proxy is not None else urllib3.PoolManager(**kwargs)
        manager.pool_classes_by_scheme = STRICT_POOL_CLASSES
        return manager

    async def _execute(self, request: HttpRequestData) -> HttpResponseData:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.config.max_connections)
        await self._slots.acquire()
        try:
            return await self._send(request, self._slots)
        except BaseException:
            self._slots.release()
            raise

    async def _send(self, request: HttpRequestData, slots: asyncio.Semaphore) -> HttpResponseData:
        loop = asyncio.get_running_loop()
        body = request.body
        payload: Any = request_body_bytes(body)
        request_headers = request.headers
        if request_headers.multidict:
            headers = dict(_joined(request_headers))
            headers.setdefault("User-Agent", urllib3.util.SKIP_HEADER)
            headers.setdefault("Accept-Encoding", urllib3.util.SKIP_HEADER)
        else:
            headers = dict(_NO_DEFAULT_HEADERS)
        chunked = False
        if isinstance(body, StreamContent):
            payload = _blocking_chunks(chunks_of(body), loop)
            if body.content_length is not None:
                headers.setdefault("Content-Length", str(body.content_length))
            else:
                chunked = True
        elif payload == b"" and request.method in ("GET", "HEAD", "DELETE", "OPTIONS", "TRACE"):
            payload = None

        # Event streams must see their first events before the rest arrives: never read them ahead.
        inline_allowed = request.method != "HEAD" and SSECapability not in request.capabilities

        request_time = time.monotonic()
        response: urllib3.BaseHTTPResponse | None = None
        # RFC 9112 9.3.1, as libcurl does: a kept-alive connection that turns out dead before any byte
        # of the response costs an idempotent request one more try, on a new connection.
        may_send_again = replayable(request)
        if (
            inline_allowed
            and self._loop_sends
            and not chunked
            and (payload is None or (type(payload) is bytes and len(payload) <= LOOP_SEND_LIMIT))
            and request.url.scheme == "http"
        ):
            result = await self._send_on_loop(request, payload, headers, loop, request_time, slots)
            if isinstance(result, HttpResponseData):
                return result  # `slots` released, or handed to the body that reads on the loop
            if result is _SENT_ON_DEAD_CONNECTION:
                may_send_again = False  # that was the one more try; the worker sends it on a new connection
            else:
                response = result

        def send() -> urllib3.BaseHTTPResponse:
            timeouts = request.timeout
            timeout = _timeout(timeouts.connect_timeout, timeouts.socket_timeout)
            with _mapped_errors(request):

                def urlopen() -> urllib3.BaseHTTPResponse:
                    return self._pool.urlopen(
                        request.method,
                        str(request.url),
                        body=payload,
                        headers=headers,
                        redirect=False,
                        retries=False,
                        timeout=timeout,
                        preload_content=False,
                        decode_content=False,
                        chunked=chunked,
                    )

                TAKEN.reused = False
                try:
                    response = urlopen()
                except urllib3.exceptions.ProtocolError as exc:
                    if not (may_send_again and TAKEN.reused and _died_before_response(exc)):
                        raise
                    response = urlopen()  # once more, on a new connection (TAKEN: the dead one was kept alive)
                _assert_head_parsed(response)
                if inline_allowed and self._head_passes(response, request):
                    _read_inline(response)
                return response

        if response is None:
            response = await _in_worker(self._executor, loop, send, self._calls)
        try:
            raw_headers = _header_lines(response)
            headers_in = self._heads.response_headers(raw_headers, self.config, request.url)
            status = response_status(response.status, response.reason, request.url)
        except TetherError:
            response.close()
            raise
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                slots.release()
                if response.closed:  # read to the end: the connection goes back to its pool
                    response.release_conn()
                else:
                    self._abandon(response)

        inline: bytes | None = getattr(response, "_tether_inline", None)
        if inline is not None:
            release()
            channel = ByteReadChannel.from_bytes(inline)
        else:
            channel = ByteReadChannel(
                self._body(response, request),
                on_close=release,
                expected_length=expected_body_length(request.method, response.status, headers_in),
            )
        return HttpResponseData(
            status=status,
            headers=headers_in,
            version=protocol_version(_version(response), request.url),
            body=channel,
            request_time=request_time,
            response_time=time.monotonic(),
        )

    async def _send_on_loop(
        self,
        request: HttpRequestData,
        payload: bytes | None,
        headers: dict[str, str],
        loop: asyncio.AbstractEventLoop,
        request_time: float,
        slots: asyncio.Semaphore,
    ) -> HttpResponseData | urllib3.BaseHTTPResponse | _DeadConnection | None:
        """The fast path for plain HTTP on a kept-alive connection: send and wait on the event loop, no
        thread switch. The small request goes into an idle socket's empty send buffer, so the send
        cannot block; the loop waits for the socket to become readable; when the whole response
        (head and Content-Length body) is already buffered in the kernel, urllib3 parses it right
        here without blocking, and otherwise a worker reads it as usual.

        A response whose head is well-formed and whose body has arrived whole is read by `_framed`,
        without urllib3's response machinery: it comes back as the finished `HttpResponseData` (and
        `slots` is released). One whose checked head has arrived but whose Content-Length body is
        still on its way is returned at its head by `_streamed`, its body read on the loop as it
        arrives (`slots` is released when that body is done with).

        None: no idle connection was ready (nothing was sent); the caller takes the worker path.
        `_SENT_ON_DEAD_CONNECTION`: the connection died before any byte of the response, and the
        request may be sent once more (`replayable`): the caller sends it again from a worker.
        """
        url = request.url
        origin = (url.raw_host, url.port)
        pool = self._http_pools.get(origin)
        if pool is None or pool.pool is None:  # not looked up yet, or evicted (and closed) by the manager
            pool = self._http_pools[origin] = self._pool.connection_from_host(url.raw_host, url.port, scheme="http")
        owned = self._loop_conns
        if owned is None or owned.loop is not loop:
            if owned is not None:
                return None  # the engine is used from another loop too: only the first one takes this path
            owned = self._loop_conns = LoopConnections(loop, self._idle_limit)
        conn = owned.take(origin)
        if conn is None:
            ready = getattr(pool, "ready_connection", None)
            conn = ready() if ready is not None else None
            if conn is None:
                return None
            owned.adopt(conn, origin)
        read_timeout = request.timeout.socket_timeout
        finished = False
        try:
            try:
                conn.request(
                    request.method,
                    url.raw_path_qs,
                    body=payload,
                    headers=headers,
                    chunked=False,
                    preload_content=False,
                    decode_content=False,
                    enforce_content_length=True,
                )
            except OSError as exc:
                # As urlopen: the server may close (or reset) after answering; the answer is still
                # readable, and reading it reports what really happened.
                if not isinstance(exc, BrokenPipeError) and exc.errno not in _SEND_ERRNOS_READ_ANYWAY:
                    raise urllib3.exceptions.ProtocolError("Connection aborted.", exc) from exc
            sock = conn.sock
            buffered, status_end, head_end, end = _BUFFERED, 0, 0, 0
            if sock is not None:
                deadline = None if read_timeout is None else loop.time() + read_timeout
                while True:
                    left = None if deadline is None else max(0.0, deadline - loop.time())
                    if await owned.wait(conn, left):
                        raise ReadTimeoutError(pool, str(url), f"Read timed out. (read timeout={read_timeout})")
                    if conn.sock is None:  # closed while waiting: the engine is closing
                        raise urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionAbortedError())
                    buffered, status_end, head_end, end = _buffered(sock, self._peek)
                    if buffered is not _NOTHING_YET:
                        break
                    # A read event queued before the previous response was consumed: wait again.
                if buffered is _BUFFERED and not status_end and replayable(request):
                    return _SENT_ON_DEAD_CONNECTION  # closed below: it is never reused
                if buffered is _BUFFERED_CHECKED_HEAD:
                    framed = self._framed(request, conn, owned, status_end, head_end, end, request_time)
                    if framed is not None:
                        finished = True
                        slots.release()  # the body is in memory, the connection already idle again
                        return framed
                elif buffered is _CHECKED_HEAD_BODY_PENDING:
                    streamed = self._streamed(request, conn, owned, status_end, head_end, end, request_time, slots)
                    if streamed is not None:
                        finished = True
                        return streamed
                    buffered = _NOT_BUFFERED  # field lines `header_block` refuses: urllib3 reads them on a worker
            finished = True  # from here the response (or its error) owns the connection
            on_loop = buffered is not _NOT_BUFFERED
            if not on_loop:
                owned.hand_over(conn)  # a worker reads it, and gives it back to urllib3's pool

            def finish() -> urllib3.BaseHTTPResponse:
                try:
                    response = pool.response_on(conn, read_timeout, buffered is _BUFFERED_CHECKED_HEAD)  # type: ignore[attr-defined]
                    if on_loop:
                        response._pool = owned  # released back to the loop's idle list
                except BaseException as exc:
                    conn.close()
                    if not on_loop:
                        pool._put_conn(conn)
                    if isinstance(exc, TimeoutError):
                        raise ReadTimeoutError(
                            pool, str(url), f"Read timed out. (read timeout={read_timeout})"
                        ) from exc
                    if isinstance(exc, (http.client.HTTPException, OSError)):
                        raise urllib3.exceptions.ProtocolError("Connection aborted.", exc) from exc
                    raise
                try:
                    _assert_head_parsed(response)
                    if self._head_passes(response, request):
                        _read_inline(response)
                except BaseException:
                    response.close()
                    raise
                return response  # type: ignore[no-any-return]

            if on_loop:
                return finish()
            return await _in_worker(self._executor, loop, finish, self._calls)
        except Exception as exc:
            mapped = _translated(exc, request)
            if mapped is None:
                raise
            raise mapped from exc
        finally:
            if not finished:
                conn.close()  # the loop stops watching it (close hook); it is never reused

    def _framed(
        self,
        request: HttpRequestData,
        conn: Any,
        owned: LoopConnections,
        status_end: int,
        head_end: int,
        end: int,
        request_time: float,
    ) -> HttpResponseData | None:
        """The response, read whole from the bytes `_buffered` found complete: a strict status line,
        a head without bare CRs, one Content-Length (or a 204/304), the body all there. This is what
        urllib3 and http.client would make of them, with tether's own head checks (`header_block`,
        as the Curl engine's) instead of http.client's email parser, urllib3's HTTPResponse and a
        second check of their result -- about half of the time a request takes on the loop.

        None, and nothing consumed: field lines `header_block` refuses (urllib3 reads them, and
        the usual checks name the problem)."""
        peek = self._peek
        try:
            head = self._checked_head(request, status_end, head_end)
            if head is None:
                return None
            status, headers, version = head
            body = bytes(peek[head_end:end])
            if conn.sock.recv_into(peek, end) != end:  # already buffered: cannot come short
                raise ProtocolError(f"{request.method} {request.url}: the buffered response shrank")
        except BaseException:
            conn.close()
            raise
        conn.response_read_elsewhere()
        if _keeps_alive(version, headers):
            owned._put_conn(conn)
        else:
            conn.close()
        return HttpResponseData(
            status=status,
            headers=headers,
            version=protocol_version(version, request.url),
            body=ByteReadChannel.from_bytes(body),
            request_time=request_time,
            response_time=time.monotonic(),
        )

    def _checked_head(
        self, request: HttpRequestData, status_end: int, head_end: int
    ) -> tuple[HttpStatusCode, Headers, str] | None:
        """Status, headers and HTTP version of the head `_buffered` found in the peek buffer, with
        tether's head checks; None: field lines `header_block` refuses."""
        peek = self._peek
        text = peek[status_end : head_end - 2].decode("latin-1")
        headers = self._heads.get(text)
        if headers is None:
            checked = header_block(text, self.config, request.url)
            if checked is None:
                return None
            headers = self._heads.put(text, checked)
        reason = peek[13:status_end].decode("latin-1").strip()
        status = response_status(int(peek[9:12]), reason, request.url)
        return status, headers, "1.1" if peek[7] == 0x31 else "1.0"

    def _streamed(
        self,
        request: HttpRequestData,
        conn: Any,
        owned: LoopConnections,
        status_end: int,
        head_end: int,
        end: int,
        request_time: float,
        slots: asyncio.Semaphore,
    ) -> HttpResponseData | None:
        """The response at its head, its Content-Length body read on the loop as it arrives
        (`_loop_body`): no worker hop per read, as aiohttp reads a body. Bodies that have not arrived
        whole when their head has (anything much over the peek buffer) took two or more worker hops
        each before, and that made 100 KiB responses cost about twice what urllib3 alone spends.

        None, and nothing consumed: field lines `header_block` refuses."""
        peek = self._peek
        try:
            head = self._checked_head(request, status_end, head_end)
            if head is None:
                return None
            status, headers, version = head
            # The head and the body bytes already here (never past this response's end).
            taken = conn.sock.recv_into(peek, min(len(peek), end), socket.MSG_DONTWAIT)
            if taken < head_end:  # already buffered: cannot come short
                raise ProtocolError(f"{request.method} {request.url}: the buffered response shrank")
        except BaseException:
            conn.close()
            raise
        keep_alive = _keeps_alive(version, headers)
        done = False  # the body read to its end, the connection idle again (or closed)

        def finish() -> None:
            nonlocal done
            done = True
            conn.response_read_elsewhere()
            if keep_alive:
                owned._put_conn(conn)
            else:
                conn.close()

        def release() -> None:
            slots.release()
            if not done:
                conn.close()  # stopped (or failed) before the end: the rest of the body is unread

        first = bytes(peek[head_end:taken])
        if taken == end:
            finish()
        channel = ByteReadChannel(
            _loop_body(request, conn, owned, first, end - taken, finish),
            on_close=release,
            expected_length=end - head_end,
        )
        return HttpResponseData(
            status=status,
            headers=headers,
            version=protocol_version(version, request.url),
            body=channel,
            request_time=request_time,
            response_time=time.monotonic(),
        )

    def _head_passes(self, response: urllib3.BaseHTTPResponse, request: HttpRequestData) -> bool:
        """Whether tether's head checks pass (`_send` runs them again, through the memo): only then is
        the body read ahead. A body read to its end gives the connection back to urllib3's pool, and a
        connection whose head tether refuses is closed with its response instead, never reused."""
        try:
            self._heads.response_headers(_header_lines(response), self.config, request.url)
            response_status(response.status, response.reason, request.url)
        except TetherError:
            return False
        return True

    async def _body(self, response: urllib3.BaseHTTPResponse, request: HttpRequestData) -> AsyncIterator[bytes]:
        if request.method == "HEAD":
            # No body and no I/O, but read: http.client marks a HEAD response complete when it is read,
            # and only a complete response gives its connection back to the pool (`release`).
            response.read(decode_content=False)
            return
        loop = asyncio.get_running_loop()

        def read() -> bytes:
            with _mapped_errors(request):
                return response.read1(READ_CHUNK_SIZE, decode_content=False)

        while chunk := await loop.run_in_executor(self._executor, read):
            yield chunk

    def _abandon(self, response: urllib3.BaseHTTPResponse) -> None:
        """A response closed before its end (cancelled, or the caller stopped reading): returns at
        once. A worker may be blocked reading it, holding the lock `response.close()` takes: the
        socket is shut down (which wakes that worker), and the response is closed on a worker."""
        conn = getattr(response, "_connection", None)  # None: already back in a pool, not ours to stop
        sock = getattr(conn, "sock", None)
        if conn is not None and sock is None:
            # A response read until the server closes took the socket over from its connection
            # (http.client's will_close): the socket is the response's alone.
            raw = getattr(getattr(getattr(response, "_fp", None), "fp", None), "raw", None)
            sock = getattr(raw, "_sock", None)
        shut_down(sock)
        hook = getattr(conn, "_tether_on_close", None)
        if hook is not None:
            hook(conn)  # a connection the loop watches: it stops watching here, on the loop's thread
        try:
            self._executor.submit(response.close)
        except RuntimeError:  # the executor is shut down (the engine is closing): a thread of its own
            threading.Thread(target=response.close, name="tether-urllib3-close", daemon=True).start()

    async def _close(self) -> None:
        for call in list(self._calls):
            call.abort()  # workers blocked on a server that never answers are freed first
        if self._loop_conns is not None:
            self._loop_conns.close()
        executor = self._owned_executor
        # On a thread of its own: the workers may all be busy (with the caller's own work, on a given
        # executor), and close() must not wait for one of them.
        closed: concurrent.futures.Future[None] = concurrent.futures.Future()

        def close_pools() -> None:
            with contextlib.suppress(concurrent.futures.InvalidStateError):  # close() was cancelled
                try:
                    self._close_pools()
                except BaseException as exc:
                    closed.set_exception(exc)
                else:
                    closed.set_result(None)

        threading.Thread(target=close_pools, name="tether-urllib3-close", daemon=True).start()
        await asyncio.wrap_future(closed)
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def _close_pools(self) -> None:
        """Close every idle connection now. `PoolManager.clear()` only forgets its pools (urllib3 2
        closes their connections when a pool is garbage-collected), which left them open."""
        manager = self._pool
        pools = list(self._http_pools.values())
        for key in manager.pools.keys():  # noqa: SIM118 - the container refuses plain iteration
            pool = manager.pools.get(key)
            if pool is not None:
                pools.append(pool)
        manager.clear()
        self._http_pools.clear()
        for pool in pools:
            pool.close()


def _keeps_alive(version: str, headers: Headers) -> bool:
    """Whether the server keeps the connection open after this response (as http.client decides)."""
    fields = headers.multidict
    lines = fields.getall("Connection", None)
    if lines is None:
        return version == "1.1" or "Keep-Alive" in fields
    tokens = {token.strip().lower() for line in lines for token in line.split(",")}
    if version == "1.1":
        return "close" not in tokens
    return "keep-alive" in tokens or "Keep-Alive" in fields


def _header_lines(response: urllib3.BaseHTTPResponse) -> tuple[tuple[str, str], ...]:
    """The head's field lines in wire order (http.client's parsed list, which urllib3 keeps in sync);
    urllib3's own view groups repeated names together."""
    message = getattr(getattr(response, "_original_response", None), "msg", None)
    lines = getattr(message, "_headers", None)
    return tuple(lines) if lines is not None else tuple(response.headers.items())


def _assert_head_parsed(response: urllib3.BaseHTTPResponse) -> None:
    """urllib3 only logs a head http.client could not parse (a line without a colon ends its
    headers early, and the rest would be read as body); tether rejects it."""
    original = getattr(response, "_original_response", None)
    if original is not None:
        try:
            assert_header_parsing(original.msg)
        except HTTPError:
            response.close()
            raise


def _read_inline(response: urllib3.BaseHTTPResponse) -> None:
    """A small body that has already arrived is read in the same step as the head (one worker hop
    per request, or none). One still on its way is left to the stream: the response is returned
    at its head, as on every engine, not when its body is complete."""
    remaining = response.length_remaining  # by Content-Length; 0 for 204 and 304; None: unknown
    if remaining is not None and remaining <= INLINE_BODY_LIMIT and (not remaining or _arrived(response, remaining)):
        response._tether_inline = response.read(decode_content=False)  # type: ignore[attr-defined]


def _arrived(response: urllib3.BaseHTTPResponse, size: int) -> bool:
    """Whether the next `size` body bytes are in the response's read buffer, or can be put there
    without waiting (one non-blocking read)."""
    reader = getattr(getattr(response, "_fp", None), "fp", None)  # http.client's buffered socket file
    sock = getattr(getattr(response, "_connection", None), "sock", None)
    if reader is None or sock is None:
        return False
    timeout = sock.gettimeout()
    sock.settimeout(0)
    try:
        return len(reader.peek(size)) >= size
    except (OSError, ValueError):  # a TLS socket wanting more bytes; a closed file
        return False
    finally:
        sock.settimeout(timeout)


_NOTHING_YET, _NOT_BUFFERED, _BUFFERED, _BUFFERED_CHECKED_HEAD = "nothing yet", "not buffered", "buffered", "checked"
_CHECKED_HEAD_BODY_PENDING = "checked head, body on its way"


async def _loop_body(
    request: HttpRequestData,
    conn: Any,
    owned: LoopConnections,
    first: bytes,
    remaining: int,
    finish: Callable[[], None],
) -> AsyncIterator[bytes]:
    """A Content-Length body read on the loop: non-blocking reads of what has arrived, waiting on
    the loop (LoopConnections) when nothing has. Each read is bounded by the socket timeout, as a
    worker's blocking read is; `finish` runs once the last byte is in. A peer that closes early ends
    the stream short, and the channel reports it (its expected length)."""
    if first:
        yield first
    sock = conn.sock
    timeout = request.timeout.socket_timeout
    while remaining > 0:
        try:
            chunk = sock.recv(min(remaining, READ_CHUNK_SIZE), socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            if await owned.wait(conn, timeout):
                raise SocketTimeoutException(
                    request.url, timeout, f"Read timed out. (read timeout={timeout})"
                ) from None
            if conn.sock is None:  # closed while waiting: the engine is closing
                raise ProtocolError(f"{request.method} {request.url}: Connection aborted.") from None
            continue
        except OSError as exc:
            raise ProtocolError(f"{request.method} {request.url}: {exc}") from exc
        if not chunk:
            return  # closed by the peer before the end
        remaining -= len(chunk)
        if remaining <= 0:
            finish()
        yield chunk


def _buffered(sock: socket.socket, buffer: bytearray) -> tuple[str, int, int, int]:
    """Whether every byte http.client will read for this response is already in the kernel's buffer
    (or the peer has closed), so parsing it cannot block. Looks without consuming (MSG_PEEK): the
    bytes looked at are in `buffer`.

    Conservative: a 1xx interim head, a head without exactly one well-formed Content-Length, a
    Transfer-Encoding, or a body not yet fully arrived are `_NOT_BUFFERED` (a worker reads those);
    `_NOTHING_YET`: no byte has arrived.
    `_BUFFERED_CHECKED_HEAD`: the head also passed the strict status-line and bare-CR checks here,
    so http.client need not run them line by line; then the other three numbers say where the
    status line ends, where the head ends, and where the response ends (its body included).
    `_CHECKED_HEAD_BODY_PENDING`: the same, for an HTTP/1.1 head with one Content-Length whose body
    has not all arrived yet (only the head is certain to be here)."""
    try:
        size = sock.recv_into(buffer, len(buffer), socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except (BlockingIOError, InterruptedError):
        return _NOTHING_YET, 0, 0, 0
    except OSError:
        return _BUFFERED, 0, 0, 0  # the socket failed: reading it fails at once, on any thread
    if size == 0:
        return _BUFFERED, 0, 0, 0  # closed by the peer: reading returns at once
    end = buffer.find(b"\r\n\r\n", 0, size)
    if end < 0 or size < 12 or buffer[9] == 0x31:  # no complete head yet, or a 1xx interim response
        return _NOT_BUFFERED, 0, 0, 0
    head_end = end + 4
    status_end = buffer.find(b"\n", 0, head_end) + 1
    checked = STATUS_LINE.match(buffer, 0, status_end) is not None and _BARE_CR.search(buffer, 0, end) is None
    state = _BUFFERED_CHECKED_HEAD if checked else _BUFFERED
    if buffer.startswith((b"204", b"304"), 9):
        return state, status_end, head_end, head_end  # no body whatever the head says
    if len(_FRAMING_FIELD.findall(buffer, 0, head_end)) != 1:
        return _NOT_BUFFERED, 0, 0, 0
    length = _CONTENT_LENGTH.search(buffer, 0, head_end)
    if length is None:
        return _NOT_BUFFERED, 0, 0, 0
    end = head_end + int(length.group(1))
    if size < end:
        if checked:
            return _CHECKED_HEAD_BODY_PENDING, status_end, head_end, end
        return _NOT_BUFFERED, 0, 0, 0
    return state, status_end, head_end, end


class _DeadConnection(enum.Enum):
    SENT = "sent on a dead connection"


_SENT_ON_DEAD_CONNECTION = _DeadConnection.SENT


def _died_before_response(exc: urllib3.exceptions.ProtocolError) -> bool:
    """Whether urllib3's "Connection aborted." means no byte of the response arrived: http.client's
    RemoteDisconnected (closed before the status line), a reset, a broken pipe."""
    cause = exc.args[1] if len(exc.args) > 1 else exc.__cause__
    return isinstance(cause, (ConnectionResetError, BrokenPipeError))  # RemoteDisconnected is one


_BARE_CR = re.compile(rb"\r(?!\n)")
#: Any line that frames the body (matched loosely: odd spellings send the response to a worker).
_FRAMING_FIELD = re.compile(rb"\n[ \t]*(?:content-length|transfer-encoding)[ \t]*:", re.IGNORECASE)
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*([0-9]{1,15})[ \t]*\r\n", re.IGNORECASE)
#: Send errors after which the response may still be read (as urlopen treats them).
_SEND_ERRNOS_READ_ANYWAY = frozenset({errno.EPROTOTYPE, errno.ECONNRESET})


@functools.lru_cache(maxsize=64)
def _timeout(connect: float | None, read: float | None) -> urllib3.Timeout:
    return urllib3.Timeout(connect=connect, read=read)


#: Without these, urllib3 adds its own User-Agent and Accept-Encoding: tether sends only what it is given.
_NO_DEFAULT_HEADERS = {"User-Agent": urllib3.util.SKIP_HEADER, "Accept-Encoding": urllib3.util.SKIP_HEADER}


def _joined(headers: Headers) -> Iterator[tuple[str, str]]:
    # urllib3 takes a plain dict: repeated header lines are joined as RFC 9110 5.3 allows.
    seen: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    for name, value in headers.items():
        seen.setdefault(name.lower(), []).append(value)
        names.setdefault(name.lower(), name)
    for key, values in seen.items():
        yield names[key], ("; " if key == "cookie" else ", ").join(values)


def _version(response: urllib3.BaseHTTPResponse) -> str:
    return _VERSIONS.get(response.version) or f"HTTP/{response.version}"


_VERSIONS = {10: "1.0", 11: "1.1", 20: "2"}


def _blocking_chunks(source: AsyncIterator[bytes], loop: asyncio.AbstractEventLoop) -> Iterator[bytes]:
    """Pull an async stream from a worker thread (the loop stays free to produce it). The wait for each
    chunk is part of the worker's call: aborting the call ends it (and cancels the pull on the loop),
    however long the source takes to produce its next chunk."""
    while True:
        try:
            yield wait_on_loop(asyncio.run_coroutine_threadsafe(source.__anext__(), loop))  # type: ignore[arg-type]
        except StopAsyncIteration:
            return


class _Closeable(Protocol):
    def close(self) -> None: ...


_R = TypeVar("_R", bound=_Closeable)


def _in_worker(
    executor: Executor,
    loop: asyncio.AbstractEventLoop,
    send: Callable[[], _R],
    calls: set[WorkerCall],
) -> asyncio.Future[_R]:
    """Run `send` on a worker; the future settles on the loop. Lighter than run_in_executor + shield
    (no chained futures): the worker hands its outcome straight to the loop. Cancelling the future
    aborts the worker's call (its socket is shut down, even while connecting, and a wait for the next
    chunk of an upload ends: the worker is free again at once, never stuck on a server that does not
    answer nor on a body that does not come); a response (or socket) it returns after that is closed,
    never leaked. `calls` holds the calls in flight, for the engine's close()."""
    future: asyncio.Future[_R] = loop.create_future()
    call = WorkerCall()
    calls.add(call)

    def done(settled: asyncio.Future[_R]) -> None:
        calls.discard(call)
        if settled.cancelled():
            call.abort()

    future.add_done_callback(done)

    def run() -> None:
        response: _R | None = None
        error: BaseException | None = None
        try:
            with call:
                if call.aborted:
                    raise asyncio.CancelledError()
                response = send()
        except BaseException as exc:
            error = exc
        try:
            loop.call_soon_threadsafe(_settle, future, response, error)
        except RuntimeError:  # the loop is closed: nobody waits any more
            if response is not None:
                response.close()

    executor.submit(run)
    return future


def _settle(future: asyncio.Future[_R], response: _R | None, error: BaseException | None) -> None:
    if future.cancelled():
        if response is not None:
            response.close()  # the caller went away: the late response is released, not leaked
    elif error is not None:
        future.set_exception(error)
    else:
        future.set_result(response)  # type: ignore[arg-type]


@contextlib.contextmanager
def _mapped_errors(request: HttpRequestData) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        mapped = _translated(exc, request)
        if mapped is None:
            raise
        raise mapped from exc


def _translated(exc: Exception, request: HttpRequestData) -> TetherError | None:
    """The one place urllib3's exceptions become tether's (None: not urllib3's; let it through)."""
    url = request.url
    if isinstance(exc, TetherError):
        return None
    if isinstance(exc, ReadTimeoutError):
        return SocketTimeoutException(url, request.timeout.socket_timeout, str(exc))
    if isinstance(exc, SSLError):
        return TlsError(f"TLS handshake with {url.host} failed: {exc}")
    if isinstance(exc, ProxyError):
        return ConnectError(f"Proxy failed for {url}: {exc}")
    if isinstance(exc, NewConnectionError):  # a subclass of ConnectTimeoutError in urllib3 2: test it first
        return ConnectError(f"Cannot connect to {url.host}:{url.port}: {exc}")
    if isinstance(exc, ConnectTimeoutError):
        return ConnectTimeoutException(url, request.timeout.connect_timeout, str(exc))
    if isinstance(exc, urllib3.exceptions.LocationValueError):
        return InvalidUrlError(f"Cannot send to {url}: {exc}")
    if isinstance(exc, (HTTPError, http.client.HTTPException)):
        return ProtocolError(f"{request.method} {url}: {exc}")
    if isinstance(exc, ssl.SSLError):
        return TlsError(f"TLS failure with {url.host}: {exc}")
    if isinstance(exc, OSError):
        return ProtocolError(f"{request.method} {url}: {exc}")
    return None


Urllib3: EngineFactory[Urllib3Config, Urllib3Engine] = EngineFactory("Urllib3", Urllib3Engine, Urllib3Config)
