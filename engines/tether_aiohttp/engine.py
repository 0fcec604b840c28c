"""tether over `aiohttp.ClientSession`.

Switched off so every engine behaves the same: redirects, automatic decompression, the default
`User-Agent`/`Accept`/`Accept-Encoding` headers, environment proxies and aiohttp's default 5-minute
total timeout (tether imposes no hidden timeout; HttpTimeout sets explicit ones). HTTP/1.1 only.
aiohttp resolves names with `getaddrinfo` on the loop's default executor; here on the engine's.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import socket
import ssl
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, cast

import aiohttp
from aiohttp import ClientPayloadError
from aiohttp.client_proto import ResponseHandler
from aiohttp.helpers import _EXC_SENTINEL
from aiohttp.helpers import set_exception as aiohttp_set_exception
from multidict import CIMultiDict, CIMultiDictProxy

from tether.channel import ByteReadChannel
from tether.content import StreamContent, WriterChannelContent
from tether.engine import (
    DEFAULT_CAPABILITIES,
    DuplexStreamingCapability,
    EngineFactory,
    HttpClientEngineBase,
    HttpClientEngineCapability,
    HttpClientEngineConfig,
    HttpTimeoutCapability,
    HttpTimeoutConfig,
    ProxyCapability,
    SSECapability,
    WebSocketCapability,
)
from tether.engine.base import default_head_limit, head_deadline, head_timeout_error
from tether.engine.support import (
    NO_BODY_STATUSES,
    ChunkedDecoder,
    HeadersMemo,
    chunks_of,
    close_transport_without_loop,
    create_ssl_context,
    expected_body_length,
    final_head,
    is_chunked,
    prime_read_buffers,
    protocol_version,
    release_from_loop,
    request_body_bytes,
    response_end,
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
from tether.http import HttpProtocolVersion
from tether.request import HttpRequestData
from tether.response import HttpResponseData
from tether_aiohttp import websocket

__all__ = ["Aiohttp", "AiohttpConfig", "AiohttpEngine"]

_SKIPPED_DEFAULT_HEADERS = ("User-Agent", "Accept", "Accept-Encoding")
#: Bodies up to this size (by Content-Length) are read with the head instead of streamed.
INLINE_BODY_LIMIT = 64 * 1024


@dataclass
class AiohttpConfig(HttpClientEngineConfig):
    #: Escape hatch: change the keyword arguments given to `aiohttp.ClientSession(...)`; the
    #: `connector` entry holds the keyword arguments of `aiohttp.TCPConnector(...)`.
    customize_session: Callable[[dict[str, Any]], None] | None = None


class _ExecutorLoop:
    """The two loop methods aiohttp's `ThreadedResolver` calls, run on the engine's executor instead
    of the loop's default one (the resolver takes the loop it uses as a constructor argument)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, executor: Executor) -> None:
        self._loop = loop
        self._executor = executor

    async def getaddrinfo(
        self, host: str, port: int, *, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> list[Any]:
        resolve = functools.partial(socket.getaddrinfo, host, port, family, type, proto, flags)
        return await self._loop.run_in_executor(self._executor, resolve)

    async def getnameinfo(self, sockaddr: Any, flags: int = 0) -> tuple[str, str]:
        return await self._loop.run_in_executor(self._executor, socket.getnameinfo, sockaddr, flags)


class AiohttpEngine(HttpClientEngineBase[AiohttpConfig]):
    name = "Aiohttp"

    def __init__(self, config: AiohttpConfig) -> None:
        super().__init__(config)
        self._ssl: ssl.SSLContext | bool = create_ssl_context(config) if config.verify else False
        self._session: aiohttp.ClientSession | None = None
        #: The event loop the session was made on (aiohttp binds a session to it).
        self._session_loop: asyncio.AbstractEventLoop | None = None
        #: The session's connect timeout: what a request without a connect timeout of its own gets.
        self._default_connect: float | None = config.connect_timeout
        self._heads = HeadersMemo()  # checked headers by aiohttp's raw header lines
        prime_read_buffers()  # aiohttp reads through asyncio's socket transports

    @functools.cached_property
    def capabilities(self) -> frozenset[HttpClientEngineCapability[Any]]:  # fixed once the engine exists
        return DEFAULT_CAPABILITIES | {ProxyCapability, DuplexStreamingCapability, SSECapability, WebSocketCapability}

    async def upgrade(self, request: HttpRequestData, protocol: str) -> Upgrade:
        return await websocket.upgrade(self, request, protocol)  # engines/tether_aiohttp/websocket.py

    def _get_session(self) -> aiohttp.ClientSession:
        # aiohttp binds a session to the running loop, so it is made on first use -- and again on
        # another loop (one client used by two `asyncio.run()` calls, as on every engine): the other
        # loop's session is let go (`_let_go`).
        loop = asyncio.get_running_loop()
        if self._session is not None and self._session_loop is not loop:
            old, self._session = self._session, None
            _let_go(old, self._session_loop)
        if self._session is None or self._session.closed:
            config = self.config
            connect = config.connect_timeout  # the default; a request's own HttpTimeout overrides it
            connector_kwargs: dict[str, Any] = {
                "limit": config.max_connections,
                "limit_per_host": config.max_connections_per_host,
                "keepalive_timeout": config.keep_alive_timeout,
                "ssl": self._ssl,
                "resolver": aiohttp.ThreadedResolver(_ExecutorLoop(asyncio.get_running_loop(), self.executor)),  # type: ignore[arg-type]
            }
            kwargs: dict[str, Any] = {
                "connector": connector_kwargs,
                "auto_decompress": False,
                "trust_env": False,
                "timeout": aiohttp.ClientTimeout(total=None, connect=connect, sock_connect=connect),
                "skip_auto_headers": _SKIPPED_DEFAULT_HEADERS,
                "cookie_jar": aiohttp.DummyCookieJar(),
                "requote_redirect_url": False,
                # At least tether's own limits; response_headers() enforces the exact ones.
                "max_headers": config.max_response_headers + 1,
                "max_field_size": config.max_response_head_size,
                "max_line_size": config.max_response_head_size,
            }
            if config.customize_session is not None:
                config.customize_session(kwargs)
                timeout = kwargs.get("timeout")
                if (
                    connect is not None
                    and isinstance(timeout, aiohttp.ClientTimeout)
                    and timeout.connect is None
                    and timeout.sock_connect is None
                ):
                    # The hook's own timeout (a sock_read, say) keeps the engine's connect timeout.
                    kwargs["timeout"] = aiohttp.ClientTimeout(
                        total=timeout.total,
                        connect=connect,
                        sock_read=timeout.sock_read,
                        sock_connect=connect,
                        ceil_threshold=timeout.ceil_threshold,
                    )
            timeout = kwargs.get("timeout")
            if isinstance(timeout, aiohttp.ClientTimeout):
                limits = [value for value in (timeout.connect, timeout.sock_connect) if value is not None]
                self._default_connect = min(limits) if limits else None
            kwargs["connector"] = _Connector(**kwargs["connector"])
            self._session = aiohttp.ClientSession(**kwargs)
            self._session_loop = loop
        return self._session

    def execute(self, request: HttpRequestData) -> Coroutine[Any, Any, HttpResponseData]:
        # The engine's default limits (`with_engine_defaults`) are applied here, not around the call:
        # the default connect timeout is the session's, and the response-head bound a deadline taken
        # inside `_execute`. A copy of the request and a coroutine wrapping each call cost a fifth of
        # the engine's own instructions per request. The same limits, the same exceptions (the
        # conformance suite's `faults` cases).
        if self._closed:
            return super().execute(request)  # raises ClientClosedError
        return self._execute(request)

    async def _execute(self, request: HttpRequestData) -> HttpResponseData:
        limit = default_head_limit(self.config, request)
        deadline = head_deadline(limit) if limit is not None else None
        try:
            session = self._session
            if session is None or self._session_loop is not asyncio.get_running_loop() or session.closed:
                session = self._get_session()
            # No timeouts set: the session's (the default connect timeout, no total timeout) apply.
            default_connect = self._default_connect
            timeout = None
            if HttpTimeoutCapability in request.capabilities:
                timeout = _client_timeout(request.timeout, default_connect)
            body = request.body
            data: bytes | AsyncIterator[bytes] | None = request_body_bytes(body)
            headers: Any = request.headers.multidict
            if isinstance(body, WriterChannelContent):
                data = body.chunks()  # duplex: aiohttp writes the body in its own task while reading
            elif isinstance(body, StreamContent):
                data = chunks_of(body)
                if body.content_length is not None and "Content-Length" not in request.headers:
                    headers = [*request.headers.items(), ("Content-Length", str(body.content_length))]
            options: dict[str, Any] = {"allow_redirects": False}
            if self.config.proxy is not None:
                options["proxy"] = str(self.config.proxy.url)
            if timeout is not None:
                options["timeout"] = timeout
            if headers:
                options["headers"] = headers
            if data:
                options["data"] = data
            request_time = time.monotonic()
            try:
                # `_request`, not `request`: the awaitable wrapper around it is for `async with`.
                response = await session._request(request.method, request.url, **options)
            except Exception as exc:
                mapped = _translate(exc, request, default_connect)
                if mapped is None:
                    raise
                raise mapped from exc
            try:
                # The raw lines: names keep their case, non-ASCII bytes decode as ISO-8859-1 (as on
                # every engine).
                raw_headers = response.raw_headers
                headers_in = self._heads.response_headers(raw_headers, self.config, request.url)
                reason = response.reason
                if reason is not None and not reason.isascii():
                    # llhttp's bytes as UTF-8 (lone surrogates for the rest): back to them, as ISO-8859-1
                    # (as header values are, and as every engine gives a reason phrase).
                    reason = reason.encode("utf-8", "surrogateescape").decode("latin-1")
                status = response_status(response.status, reason, request.url)
            except TetherError:
                # aiohttp gave the connection back to its pool when a short body ended with the head:
                # closing the protocol makes the pool drop it instead of reusing a refused connection.
                protocol = getattr(response, "_protocol", None)
                response.close()
                if protocol is not None:
                    protocol.close()
                raise

            expected = expected_body_length(request.method, response.status, headers_in)
            if (
                expected is not None
                and expected <= INLINE_BODY_LIMIT
                and (not expected or response.content.is_eof())
                and SSECapability not in request.capabilities
            ):
                # A small body that has already arrived is taken right away: no stream machinery for
                # 1 KiB. One still on its way is streamed: the response is returned at its head.
                try:
                    data = await response.read() if expected else b""
                except Exception as exc:
                    response.close()
                    mapped = _translate(exc, request, default_connect)
                    if mapped is None:
                        raise
                    raise mapped from exc
                response.release()  # read to the end: the connection goes back to the pool
                channel = ByteReadChannel.from_bytes(data)
            else:
                channel = ByteReadChannel(
                    _body(response, request), on_close=functools.partial(_release, response), expected_length=expected
                )
            version = _VERSIONS.get(response.version)
            if version is None:
                other = cast(aiohttp.HttpVersion, response.version)
                version = protocol_version(f"{other.major}.{other.minor}", request.url)
            return HttpResponseData(
                status=status,
                headers=headers_in,
                version=version,
                body=channel,
                request_time=request_time,
                response_time=time.monotonic(),
            )
        except asyncio.CancelledError:
            if deadline is not None and deadline.timed_out():
                raise head_timeout_error(request, cast(float, limit)) from None
            raise
        finally:
            if deadline is not None:
                deadline.end()

    async def _close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            if self._session_loop is asyncio.get_running_loop():
                await session.close()
            else:
                _let_go(session, self._session_loop)


class _ResponseHandler(ResponseHandler):
    """aiohttp's connection protocol, with the framing verdicts every engine gives.

    Bytes after a complete response are extra data, never the next response (RFC 9112 6.3) -- nor
    an error of the response they came with. llhttp parses everything it is given: a 204 or HEAD
    response with a "body", or a body longer than its Content-Length, arriving in one read, makes it
    fail on the bytes after the response, and aiohttp then fails that response, which is complete.
    When that happens on the first bytes of a response, the response is parsed again from a fresh
    parser, up to the end its framing gives (`response_end`), and whatever follows is dropped with
    the connection. Costs nothing until llhttp fails.

    Chunked framing is checked as RFC 9112 7.1 writes it (`ChunkedDecoder.check`, as the Curl engine
    decodes it): aiohttp sets llhttp lenient outside dev mode, and it then takes bare LFs and spaces
    in chunk lines. Costs one look at each response head (`final_head`) and, for a chunked body, a
    scan of its chunk lines; the body bytes themselves are not copied.

    Lenient llhttp also takes a line that starts with whitespace right after the status line (every
    other engine refuses it: RFC 9112 2.2), and keeps the whitespace of an obsolete line folding in
    the value ("one\ttwo" where every other engine unfolds to "one two": RFC 9112 5.2). Both are
    found by the same look at the head (`_tether_unfold`).
    """

    _tether_params: dict[str, Any] | None = None  # aiohttp's parser settings (for `set_exception`)
    _tether_parser: object = None  # the parser of the response whose first bytes were seen
    _tether_first: bytes | None = None  # the first bytes of a response, while llhttp parses them
    _tether_done = False  # the response is complete: what still arrives is dropped
    _tether_head: bytes | None = None  # the start of a head still arriving
    _tether_chunks: ChunkedDecoder | None = None  # checks the chunked body being received
    _tether_fields: tuple[tuple[bytes, bytes], ...] = ()  # a folded head's field lines, unfolded
    _tether_fields_parser: object = None  # the parser of the response they are for

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        # The first response's settings are kept (for `set_exception`) by an instance attribute
        # that shadows the method once: overriding it would repack ten keyword arguments per request.
        self.set_response_params = self._tether_keep_params  # type: ignore[method-assign]

    def connection_lost(self, exc: BaseException | None) -> None:
        # aiohttp drops its parser here, which breaks the parser <-> protocol cycle: so does this.
        self._tether_parser = None
        super().connection_lost(exc)

    def _tether_keep_params(self, **params: Any) -> None:
        del self.set_response_params  # later responses go straight to aiohttp's
        self._tether_params = params
        super().set_response_params(**params)

    def data_received(self, data: bytes) -> None:
        # aiohttp makes a parser for each response (set_response_params): a new one means these are
        # the first bytes of a response.
        fresh = self._parser is not self._tether_parser
        if fresh:
            self._tether_parser = self._parser
            self._tether_done = False
            self._tether_head = None
            self._tether_chunks = None
        elif self._tether_done:
            return  # after a complete response: extra data (the connection is closed on release)
        body_start = -1
        if fresh or self._tether_head is not None:
            try:
                body_start = self._tether_look_at_head(data)
            except ProtocolError as exc:
                self._tether_refuse(exc, head_delivered=False)
                return
        chunks = self._tether_chunks
        if chunks is not None:
            try:
                used = chunks.check(data[body_start:] if body_start > 0 else data)
            except ProtocolError as exc:
                self._tether_refuse(exc, head_delivered=body_start < 0)
                return
            if chunks.done:
                self._tether_chunks = None
                end = max(body_start, 0) + used
                if end < len(data):  # bytes after the last chunk: extra data, dropped with the connection
                    self._tether_done = True
                    self._should_close = True
                    data = data[:end]
        if not fresh:
            super().data_received(data)
            return
        self._tether_first = data
        try:
            super().data_received(data)
        finally:
            self._tether_first = None

    def _tether_look_at_head(self, data: bytes) -> int:
        """Find the end of the response head; for a chunked body, start checking it. Where the body
        starts in `data` when the head ended in it and the body is chunked, else -1."""
        seen = self._tether_head
        if seen is None and data[9:10] != b"1":
            head_end = data.find(b"\n\r\n")
            # No "transfer-encoding" anywhere in it, in any case (a lowered copy of the head and a
            # substring search: several times cheaper than a case-blind regex scan), and no line that
            # starts with whitespace (one regex scan: half the cost of two substring searches).
            if (
                head_end >= 0
                and b"transfer-encoding" not in data[:head_end].lower()
                and _LINE_STARTS_WITH_SPACE.search(data, 0, head_end) is None
            ):
                return -1  # the common case: a whole final head here, plain field lines, no Transfer-Encoding
        buffer = data if seen is None else seen + data
        found = final_head(buffer)
        if found is None:
            # The head goes on in the next read; llhttp refuses one this long anyway.
            self._tether_head = buffer if len(buffer) <= _HEAD_LOOK_LIMIT else None
            return -1
        self._tether_head = None
        status, fields, head_end = found
        if buffer.find(b"\n ", fields, head_end) >= 0 or buffer.find(b"\n\t", fields, head_end) >= 0:
            self._tether_unfold(buffer, fields, head_end)
        if self._skip_payload or status in NO_BODY_STATUSES or not is_chunked(buffer, fields, head_end):
            return -1
        self._tether_chunks = ChunkedDecoder("the server")
        return head_end - (len(buffer) - len(data))

    def _tether_unfold(self, head: bytes, fields: int, head_end: int) -> None:
        """A head with field lines that start with whitespace (`fields`: the end of its status line).
        Right after the status line: a ProtocolError (RFC 9112 2.2 lets a recipient refuse it, and every
        other engine does). After a field line: an obsolete line folding, which becomes one space (RFC
        9112 5.2, as `header_block` unfolds it for the Curl and Httpx engines): the message llhttp
        makes of this head gets these field lines instead of its own (`_tether_feed_unfolded`)."""
        if head[fields + 1 : fields + 2] in (b" ", b"\t"):
            raise ProtocolError("whitespace before the first header line of the response head")
        lines = _OBS_FOLD.sub(b" ", head[fields + 1 : head_end]).split(b"\n")
        self._tether_fields = tuple(
            (name, value.strip(b" \t\r"))
            for name, _, value in (line.partition(b":") for line in lines)
            if name.strip(b"\r")
        )
        self._tether_fields_parser = self._parser
        # Shadows the method until the final message of this response is fed (no cost for the rest).
        self.feed_data = self._tether_feed_unfolded  # type: ignore[method-assign]

    def _tether_feed_unfolded(self, data: tuple[Any, Any], size: int = 0) -> None:
        message, payload = data
        if 100 <= message.code < 200 and message.code != 101:
            super().feed_data(data, size)  # an interim head: the final one comes next
            return
        del self.feed_data
        fields, self._tether_fields = self._tether_fields, ()
        if self._parser is self._tether_fields_parser and len(fields) == len(message.raw_headers):
            headers = CIMultiDictProxy(
                CIMultiDict(
                    (name.decode("utf-8", "surrogateescape"), value.decode("utf-8", "surrogateescape"))
                    for name, value in fields
                )
            )
            # aiohttp's message, C or Python (the same fields, in the same order), with these fields.
            message = type(message)(
                message.version,
                message.code,
                message.reason,
                headers,
                fields,
                message.should_close,
                message.compression,
                message.upgrade,
                message.chunked,
            )
        self._tether_fields_parser = None
        super().feed_data((message, payload), size)

    def _tether_refuse(self, exc: ProtocolError, *, head_delivered: bool) -> None:
        self._tether_chunks = None
        self._tether_done = True
        error = ClientPayloadError(str(exc))
        if head_delivered and self._payload is not None:
            aiohttp_set_exception(self._payload, error)  # the body being read fails
        else:
            self.set_exception(error)  # the request fails
        if self.transport is not None:
            self.transport.close()

    def set_exception(self, exc: BaseException, exc_cause: BaseException = _EXC_SENTINEL) -> None:
        data, self._tether_first = self._tether_first, None
        params = self._tether_params
        if data is not None and params is not None:
            end = response_end(data, head_request=self._skip_payload)
            if end is not None and end < len(data):
                # A fresh parser for the response alone: the first response's settings (tether sets
                # them per session), with what differs per response, which every aiohttp since 3.9
                # keeps on the protocol; the total-timeout timer is not needed for a response that has
                # arrived whole.
                super().set_response_params(
                    **{**params, "timer": None, "skip_payload": self._skip_payload, "read_timeout": self._read_timeout}
                )
                self._tether_parser = self._parser
                super().data_received(data[:end])
                self._tether_done = True
                self._should_close = True
                return
        super().set_exception(exc, exc_cause)


#: Bytes of a head `_ResponseHandler` keeps while its end has not arrived (llhttp refuses longer ones).
_HEAD_LOOK_LIMIT = 1024 * 1024
#: A head line that starts with whitespace (an obsolete line folding, or a space before the first field).
_LINE_STARTS_WITH_SPACE = re.compile(rb"\n[ \t]")
#: An obsolete line folding, with the whitespace around it (as `tether.engine.support` unfolds text).
_OBS_FOLD = re.compile(rb"[ \t]*\r?\n[ \t]+")


class _Connector(aiohttp.TCPConnector):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._factory = functools.partial(_ResponseHandler, loop=self._loop)  # type: ignore[assignment]

    def close_without_loop(self) -> None:
        """Close the connector when its event loop is closed. aiohttp's close stops at a closed loop
        and asyncio closes a socket in a callback of its loop, which never runs: the sockets of the
        connections (idle and in use) are closed here."""
        protocols = [protocol for idle in self._conns.values() for protocol, _ in idle]
        protocols += self._acquired
        with contextlib.suppress(RuntimeError):  # a future of the closed loop a request still waited on
            self._close()  # marks the connector closed and forgets its connections
        self._closed = True
        for protocol in protocols:
            if protocol.transport is not None:
                close_transport_without_loop(protocol.transport)


def _let_go(session: aiohttp.ClientSession, loop: asyncio.AbstractEventLoop | None) -> None:
    """Release a session made on `loop`, not the running loop (`release_from_loop`)."""
    connector = session.connector

    def close_without_loop() -> None:
        if isinstance(connector, _Connector):
            connector.close_without_loop()

    if loop is None:
        close_without_loop()
    else:
        release_from_loop(loop, session.close, close_without_loop)


@functools.lru_cache(maxsize=64)
def _client_timeout(timeouts: HttpTimeoutConfig, default_connect: float | None) -> aiohttp.ClientTimeout:
    # No total timeout ever: HttpTimeout enforces the request timeout itself, for every engine.
    connect = timeouts.connect_timeout if timeouts.connect_timeout is not None else default_connect
    return aiohttp.ClientTimeout(total=None, connect=connect, sock_connect=connect, sock_read=timeouts.socket_timeout)


def _release(response: aiohttp.ClientResponse) -> None:
    # A body read to the end gives the connection back to the pool; one abandoned midway closes it
    # (the rest of the body would otherwise be read by the next request).
    if response.content.at_eof():
        response.release()
    else:
        response.close()


#: aiohttp's versions of a response, as tether's.
_VERSIONS: dict[aiohttp.HttpVersion | None, HttpProtocolVersion] = {
    aiohttp.HttpVersion(1, 1): protocol_version("1.1"),
    aiohttp.HttpVersion(1, 0): protocol_version("1.0"),
    None: protocol_version("1.1"),
}


async def _body(response: aiohttp.ClientResponse, request: HttpRequestData) -> AsyncIterator[bytes]:
    try:
        while chunk := await response.content.readany():
            yield chunk
    except Exception as exc:
        mapped = _translate(exc, request)
        if mapped is None:
            raise
        raise mapped from exc


def _translate(
    exc: BaseException, request: HttpRequestData, default_connect: float | None = None
) -> TetherError | None:
    """The one place aiohttp's exceptions become tether's (None: not aiohttp's; let it through).
    `default_connect`: the engine's connect timeout, when the request sets none."""
    url = request.url
    timeouts = request.timeout
    if isinstance(exc, TetherError):
        return None
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        connect = timeouts.connect_timeout if timeouts.connect_timeout is not None else default_connect
        return ConnectTimeoutException(url, connect, str(exc))
    if isinstance(exc, aiohttp.ServerTimeoutError):  # includes SocketTimeoutError (sock_read)
        return SocketTimeoutException(url, timeouts.socket_timeout, str(exc))
    if isinstance(exc, (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError)):
        return TlsError(f"TLS handshake with {url.host} failed: {exc}")
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        return ConnectError(f"Proxy failed for {url}: {exc}")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return ConnectError(f"Cannot connect to {url.host}:{url.port}: {exc}")
    if isinstance(exc, aiohttp.InvalidURL):
        return InvalidUrlError(f"Cannot send to {url}: {exc}")
    if isinstance(exc, (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError, aiohttp.ClientResponseError)):
        return ProtocolError(f"{request.method} {url}: {exc or type(exc).__name__}")
    if isinstance(exc, aiohttp.ClientOSError):
        # Connecting failed as ClientConnectorError (above): this connection was up, and the peer
        # broke it (a reset after reading the request, say) -- the server's fault, as on every engine.
        return ProtocolError(f"{request.method} {url}: {exc}")
    if isinstance(exc, aiohttp.ClientError):
        return ProtocolError(f"{request.method} {url}: {exc or type(exc).__name__}")
    if isinstance(exc, ssl.SSLError):
        return TlsError(f"TLS failure with {url.host}: {exc}")
    if isinstance(exc, (ConnectionError, asyncio.IncompleteReadError)):
        return ProtocolError(f"{request.method} {url}: {exc}")
    return None


Aiohttp: EngineFactory[AiohttpConfig, AiohttpEngine] = EngineFactory("Aiohttp", AiohttpEngine, AiohttpConfig)
