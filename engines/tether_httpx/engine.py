"""tether over `httpx.AsyncClient`.

httpx's own conveniences are switched off so every engine behaves the same: no redirects, no default
headers, no environment proxies, no cookie jar, no implicit timeouts, no decoding (bodies arrive raw;
the ContentEncoding plugin decodes). HTTP/2 needs the `h2` package (the `httpx` extra installs it).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import http.cookiejar
import importlib.util
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import h11
import httpx

from tether.channel import ByteReadChannel
from tether.content import StreamContent
from tether.engine import (
    DEFAULT_CAPABILITIES,
    EngineFactory,
    Http2Capability,
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
    HeadersMemo,
    chunks_of,
    close_transport_without_loop,
    create_ssl_context,
    expected_body_length,
    header_block,
    header_block_problem,
    prime_read_buffers,
    protocol_version,
    release_from_loop,
    replayable,
    request_body_bytes,
    response_status,
)
from tether.engine.support import response_headers as response_headers_of
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
from tether.request import HttpRequestData
from tether.response import HttpResponseData
from tether_httpx import websocket
from tether_httpx.heads import record_heads
from tether_httpx.http2 import MalformedHead, use_http2_connections
from tether_httpx.orphans import finish_close, reclaim_orphans
from tether_httpx.resolver import resolve_on_executor

__all__ = ["Httpx", "HttpxConfig", "HttpxEngine"]

_SOCKS_AVAILABLE = importlib.util.find_spec("socksio") is not None
#: httpx adds these to every request; tether sends only what the caller (or a plugin) set.
_HTTPX_DEFAULT_HEADERS = ("Accept", "Accept-Encoding", "Connection", "User-Agent")


@dataclass
class HttpxConfig(HttpClientEngineConfig):
    #: Offer HTTP/2 through ALPN on TLS connections (requests that require HTTP/2 always get it).
    http2: bool = False
    #: Escape hatch: change the keyword arguments given to `httpx.AsyncClient(...)`.
    customize_client: Callable[[dict[str, Any]], None] | None = None


class HttpxEngine(HttpClientEngineBase[HttpxConfig]):
    name = "Httpx"

    def __init__(self, config: HttpxConfig) -> None:
        super().__init__(config)
        self._ssl = create_ssl_context(config)
        self._pools: dict[str, list[_Shard]] = {}
        #: The event loop the pools' connections belong to (None: no request yet).
        self._pools_loop: asyncio.AbstractEventLoop | None = None
        self._heads = HeadersMemo()  # checked headers by the text of their field lines
        prime_read_buffers()  # httpx (anyio) reads through asyncio's socket transports

    @functools.cached_property
    def capabilities(self) -> frozenset[HttpClientEngineCapability[Any]]:  # fixed once the engine exists
        extra: set[HttpClientEngineCapability[Any]] = {Http2Capability, ProxyCapability}
        if _SOCKS_AVAILABLE:
            extra.add(SocksProxyCapability)
        return DEFAULT_CAPABILITIES | extra | {SSECapability, WebSocketCapability}

    async def upgrade(self, request: HttpRequestData, protocol: str) -> Upgrade:
        if self._pools_loop is not asyncio.get_running_loop():
            self._move_to_running_loop()
        return await websocket.upgrade(self, request, protocol)  # engines/tether_httpx/websocket.py

    def _move_to_running_loop(self) -> None:
        """The pools' connections work on the loop they were made on only: on another loop (one client
        used by two `asyncio.run()` calls, as on every engine) the pools are let go and new ones made
        on this loop as requests need them."""
        old_loop, self._pools_loop = self._pools_loop, asyncio.get_running_loop()
        old, self._pools = _clients_of(self._pools), {}
        _let_go(old, old_loop)

    def _shard(self, request: HttpRequestData) -> _Shard:
        # httpx fixes the protocol per client: one pool for the configured default, one that speaks
        # only HTTP/2 (ALPN h2 on TLS, prior knowledge on cleartext) for requests that require it.
        kind = "h2" if Http2Capability in request.capabilities else "default"
        shards = self._pools.get(kind)
        if shards is None:
            shards = self._pools[kind] = self._create_pool(h2_only=kind == "h2")
        if len(shards) == 1:
            return shards[0]
        return min(shards, key=_in_flight)  # the least busy small pool

    def _create_pool(self, *, h2_only: bool) -> list[_Shard]:
        """httpcore's pool looks at every connection for every waiting request whenever anything
        changes, so its cost per request grows with its size (a 64-connection pool under 64
        concurrent requests spends milliseconds per request in that scan). HTTP/1.1 requests are
        therefore spread over small pools of `SHARD_CONNECTIONS` connections each, together within
        `max_connections`; HTTP/2 (one multiplexed connection per origin) keeps one pool."""
        config = self.config
        total = config.max_connections
        per_host = config.max_connections_per_host or total
        count = 1 if (h2_only or config.http2) else max(1, -(-total // SHARD_CONNECTIONS))
        shards = []
        for index in range(count):
            connections = total // count + (1 if index < total % count else 0)
            keep_alive = max(1, min(connections, per_host // count + (1 if index < per_host % count else 0)))
            shards.append(_Shard(self._create_client(h2_only=h2_only, connections=connections, keep_alive=keep_alive)))
        return shards

    def _create_client(
        self,
        *,
        h2_only: bool,
        connections: int,
        keep_alive: int,
        executor: Callable[[], Executor | None] | None = None,
    ) -> httpx.AsyncClient:
        """`executor`: where names are resolved (by default this engine's executor)."""
        config = self.config
        kwargs: dict[str, Any] = {
            "verify": self._ssl if config.verify or config.client_cert else False,
            "http1": not h2_only,
            "http2": h2_only or config.http2,
            "limits": httpx.Limits(
                max_connections=connections,
                max_keepalive_connections=keep_alive,
                keepalive_expiry=config.keep_alive_timeout,
            ),
            "timeout": httpx.Timeout(None),
            "follow_redirects": False,
            "trust_env": False,
            # httpx keeps every Set-Cookie in the client's jar and sends it back to any host and port,
            # past tether's redirect handling and to client.config() siblings: cookies are the
            # HttpCookies plugin's business, so this client keeps none.
            "cookies": _NoCookieJar(),
        }
        if config.proxy is not None:
            url = config.proxy.url
            kwargs["proxy"] = str(url) if config.proxy.type is ProxyType.HTTP else f"socks5://{url.host}:{url.port}"
        if config.customize_client is not None:
            config.customize_client(kwargs)
        client = httpx.AsyncClient(**kwargs)
        record_heads(client)  # h11 normalises Content-Length before tether could see it
        if kwargs.get("http2"):
            use_http2_connections(client)  # RFC 9113's GOAWAY and response head rules (http2.py)
        reclaim_orphans(client)  # httpcore#1093: cancelled requests would fill the pool for good
        # anyio resolves names on the loop's default executor: here on the engine's (resolver.py).
        resolve_on_executor(client, executor or (lambda: self.executor))
        return client

    async def _execute(self, request: HttpRequestData) -> HttpResponseData:
        timeouts = request.timeout
        timeout = httpx.Timeout(
            connect=timeouts.connect_timeout,
            read=timeouts.socket_timeout,
            write=timeouts.socket_timeout,
            pool=None,
        )
        body = request.body
        content: bytes | AsyncIterator[bytes] | None = request_body_bytes(body)
        headers = list(request.headers.items())
        if isinstance(body, StreamContent):
            content = chunks_of(body)
            if body.content_length is not None and "Content-Length" not in request.headers:
                headers.append(("Content-Length", str(body.content_length)))
        if self._pools_loop is not asyncio.get_running_loop():
            self._move_to_running_loop()
        shard = self._shard(request)
        client = shard.client
        request_time = time.monotonic()
        shard.active += 1
        try:
            with _mapped_errors(request):
                sent = client.build_request(
                    request.method, str(request.url), headers=headers, content=content or None, timeout=timeout
                )
                for name in _HTTPX_DEFAULT_HEADERS:
                    if name not in request.headers:
                        del sent.headers[name]
                if not replayable(request):
                    response = await client.send(sent, stream=True)
                else:
                    # RFC 9112 9.3.1, as libcurl does: a kept-alive connection that turns out dead
                    # before any byte of the response costs one more try on a new connection.
                    connection = _ConnectionUse()
                    sent.extensions["trace"] = connection.trace
                    try:
                        response = await client.send(sent, stream=True)
                    except _STALE_CONNECTION_ERRORS as exc:
                        if connection.fresh or not _died_before_response(exc):
                            raise
                        del sent.extensions["trace"]
                        response = await client.send(sent, stream=True)
        except BaseException:
            shard.active -= 1
            raise
        closed = False

        async def close() -> None:
            nonlocal closed
            if not closed:
                closed = True
                shard.active -= 1
            try:
                await response.aclose()
            finally:
                await finish_close(response)  # httpcore#1093: a close a cancellation interrupted

        try:
            fields = getattr(response.extensions.get("network_stream"), "fields", None)
            if fields is None:  # HTTP/2, or a transport of the customize_client hook
                response_headers = response_headers_of(response.headers.raw, self.config, request.url)
            else:  # the head as it arrived (heads.py), checked as the Curl engine checks its heads
                memo = self._heads.get(fields)
                if memo is None:
                    checked = header_block(fields, self.config, request.url)
                    if checked is None:
                        raise ProtocolError(f"{request.method} {request.url}: {header_block_problem(fields)}")
                    memo = self._heads.put(fields, checked)
                response_headers = memo
            # The reason phrase's bytes as ISO-8859-1, as header values (httpx drops the non-ASCII ones).
            reason = response.extensions.get("reason_phrase")
            reason = reason.decode("latin-1") if reason is not None else response.reason_phrase  # HTTP/2: none
            status = response_status(response.status_code, reason, request.url)
        except TetherError:
            await close()
            raise
        channel = ByteReadChannel(
            _raw_body(response, request),
            on_close=close,
            expected_length=expected_body_length(request.method, response.status_code, response_headers),
        )
        return HttpResponseData(
            status=status,
            headers=response_headers,
            version=protocol_version(response.http_version, request.url),
            body=channel,
            request_time=request_time,
            response_time=time.monotonic(),
        )

    async def _close(self) -> None:
        clients, self._pools = _clients_of(self._pools), {}
        if self._pools_loop is None or self._pools_loop is asyncio.get_running_loop():
            await _close_clients(clients)
        else:
            _let_go(clients, self._pools_loop)  # made on another loop


def _clients_of(pools: dict[str, list[_Shard]]) -> list[httpx.AsyncClient]:
    return [shard.client for shards in pools.values() for shard in shards]


async def _close_clients(clients: Iterable[httpx.AsyncClient]) -> None:
    for client in clients:
        await client.aclose()


def _let_go(clients: list[httpx.AsyncClient], loop: asyncio.AbstractEventLoop | None) -> None:
    """Release the clients of pools made on `loop`, not the running loop (`release_from_loop`)."""

    def close_without_loop() -> None:
        for client in clients:
            _close_without_loop(client)

    if clients and loop is not None:
        release_from_loop(loop, lambda: _close_clients(clients), close_without_loop)


def _close_without_loop(client: httpx.AsyncClient) -> None:
    """Close the connections of `client` when their event loop is closed: httpx closes them with awaits
    on that loop, and asyncio closes a socket in a callback of its loop, which never runs. The sockets
    are closed here (`close_transport_without_loop`), found by the chain of httpcore's objects down to asyncio's
    transport: httpcore's connection (a proxy's wraps a plain one), its HTTP/1.1 or HTTP/2 connection,
    tether's `HeadRecordingStream`, httpcore's anyio stream, anyio's TLS stream and socket stream."""
    for mounted in [client._transport, *client._mounts.values()]:
        pool = getattr(mounted, "_pool", None)
        connections: list[Any] = list(getattr(pool, "_connections", ()))
        for connection in connections:
            link: Any = connection
            for _ in range(10):  # a short chain, never a cycle
                if isinstance(link, asyncio.Transport):
                    close_transport_without_loop(link)
                    break
                link = next((getattr(link, name) for name in _INNER if getattr(link, name, None) is not None), None)
                if link is None:
                    break
        if connections:
            pool._connections.clear()  # type: ignore[union-attr]


#: The attribute by which each object in that chain holds the next one.
_INNER = ("_connection", "_network_stream", "_inner", "_stream", "transport_stream", "_transport")


class _NoCookieJar(http.cookiejar.CookieJar):
    """A jar that never stores a cookie nor adds one to a request."""

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None

    def add_cookie_header(self, request: Any) -> None:
        return None

    def set_cookie(self, cookie: http.cookiejar.Cookie) -> None:
        return None


#: Connections per small pool (see `HttpxEngine._create_pool`).
SHARD_CONNECTIONS = 4


class _Shard:
    """One small pool: an AsyncClient and how many of its requests are in flight."""

    __slots__ = ("active", "client")

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.active = 0


def _in_flight(shard: _Shard) -> int:
    return shard.active


async def _raw_body(response: httpx.Response, request: HttpRequestData) -> AsyncIterator[bytes]:
    # A HEAD response is read to its end too (h11 yields no body for it): only a response read to its
    # end gives its connection back to the pool.
    with _mapped_errors(request):
        async for chunk in response.aiter_raw():
            yield chunk
    await _never_reuse_after_extra_bytes(response)


class _ConnectionUse:
    """Whether a request went out on a connection made for it (httpcore's trace events tell)."""

    __slots__ = ("fresh",)

    def __init__(self) -> None:
        self.fresh = False

    async def trace(self, event: str, info: dict[str, Any]) -> None:
        if event.startswith("connection.connect_"):
            self.fresh = True


#: How httpx reports a connection that died before any byte of the response: closed ("Server
#: disconnected without sending a response"), reset (a read error), or gone before the request
#: was written (a write error).
_STALE_CONNECTION_ERRORS = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


async def _never_reuse_after_extra_bytes(response: httpx.Response) -> None:
    """The response was read to its end: bytes that came with it beyond that end (past its
    Content-Length, a 204's or a 304's "body", anything after the last chunk) are not the start of
    the next response (RFC 9112 6.3: never processed as a separate response). httpcore keeps them in
    its h11 buffer and would parse them as the answer to the next request on this connection, so the
    connection is closed instead (a request the pool already gave it takes another: httpcore retries
    on ConnectionNotAvailable). Bytes arriving later are caught by httpcore's own look at an idle
    connection (readable while idle: dropped)."""
    # httpx's response stream -> httpx's transport stream -> httpcore's pool stream -> its HTTP/1.1
    # stream -> the connection (tests/test_httpx_adapter.py pins this path).
    stream = getattr(getattr(getattr(response.stream, "_stream", None), "_httpcore_stream", None), "_stream", None)
    connection = getattr(stream, "_connection", None)
    state = getattr(connection, "_h11_state", None)
    if isinstance(state, h11.Connection) and state.trailing_data[0]:
        await connection.aclose()  # type: ignore[union-attr]


def _died_before_response(exc: httpx.TransportError) -> bool:
    """Whether the connection failed before any byte of the response: httpcore's "Server disconnected
    without sending a response" (a RemoteProtocolError h11 did not raise), a reset, a failed write.
    A malformed response (h11's RemoteProtocolError, an HTTP/2 head http2.py refused) is not: it is
    never retried."""
    if isinstance(exc, httpx.RemoteProtocolError):
        cause = exc.__cause__
        return not isinstance(cause, MalformedHead) and not isinstance(
            getattr(cause, "__cause__", None), h11.RemoteProtocolError
        )
    return True


@contextlib.contextmanager
def _mapped_errors(request: HttpRequestData) -> Iterator[None]:
    """The one place httpx's exceptions become tether's."""
    timeouts = request.timeout
    try:
        yield
    except TetherError:
        raise
    except httpx.ConnectTimeout as exc:
        raise ConnectTimeoutException(request.url, timeouts.connect_timeout, str(exc)) from exc
    except httpx.PoolTimeout as exc:
        raise ConnectTimeoutException(request.url, timeouts.connect_timeout, "no free connection") from exc
    except (httpx.ReadTimeout, httpx.WriteTimeout) as exc:
        raise SocketTimeoutException(request.url, timeouts.socket_timeout, str(exc)) from exc
    except httpx.ProxyError as exc:
        raise ConnectError(f"Proxy failed for {request.url}: {exc}") from exc
    except httpx.ConnectError as exc:
        if _is_tls_failure(exc):
            raise TlsError(f"TLS handshake with {request.url.host} failed: {exc}") from exc
        raise ConnectError(f"Cannot connect to {request.url.host}:{request.url.port}: {exc}") from exc
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise InvalidUrlError(f"Cannot send to {request.url}: {exc}") from exc
    except (httpx.RemoteProtocolError, httpx.LocalProtocolError, httpx.ReadError, httpx.WriteError) as exc:
        raise ProtocolError(f"{request.method} {request.url}: {exc or type(exc).__name__}") from exc
    except httpx.DecodingError as exc:
        raise ProtocolError(f"{request.method} {request.url}: undecodable response: {exc}") from exc
    except httpx.TransportError as exc:
        raise ProtocolError(f"{request.method} {request.url}: {exc or type(exc).__name__}") from exc
    except ssl.SSLError as exc:
        raise TlsError(f"TLS failure with {request.url.host}: {exc}") from exc


def _is_tls_failure(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError) or "SSL" in type(seen).__name__ or "CERTIFICATE" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


Httpx: EngineFactory[HttpxConfig, HttpxEngine] = EngineFactory("Httpx", HttpxEngine, HttpxConfig)
