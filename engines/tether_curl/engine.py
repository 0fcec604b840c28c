"""tether over libcurl (pycurl), driven by the asyncio loop: tether's flagship engine.

HTTP/1.1, HTTP/2 (ALPN, or prior knowledge on cleartext) and HTTP/3 where libcurl has it; HTTP and
SOCKS proxies; duplex streaming when `duplex_streaming_enabled`. libcurl's own redirects, decoding and
default headers are off, as on every tether engine.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, cast

import pycurl

from tether.channel import ByteReadChannel
from tether.content import StreamContent, WriterChannelContent
from tether.engine import (
    DEFAULT_CAPABILITIES,
    DuplexStreamingCapability,
    EngineFactory,
    Http2Capability,
    Http3Capability,
    HttpClientEngineBase,
    HttpClientEngineCapability,
    HttpClientEngineConfig,
    HttpTimeoutConfig,
    ProxyCapability,
    ProxyType,
    SocksProxyCapability,
    SSECapability,
    WebSocketCapability,
)
from tether.engine.base import default_head_limit
from tether.engine.support import (
    IDEMPOTENT_METHODS,
    ChunkedDecoder,
    HeadersMemo,
    chunks_of,
    expected_body_length,
    header_block,
    header_block_problem,
    prime_read_buffers,
    protocol_version,
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
from tether_curl import websocket
from tether_curl.multi import BODY_HIGH_WATER, CurlError, CurlMultiLoop, HeadError, HeadTimeout, SocketIdle, Transfer

__all__ = ["Curl", "CurlConfig", "CurlEngine", "HttpVersion"]

_HTTP3_AVAILABLE = bool(pycurl.version_info()[4] & getattr(pycurl, "VERSION_HTTP3", 1 << 25))


class HttpVersion(enum.Enum):
    """Which protocol libcurl speaks (`CurlConfig.http_version`)."""

    HTTP_1_1 = pycurl.CURL_HTTP_VERSION_1_1
    #: HTTP/2 when TLS ALPN agrees, HTTP/1.1 on cleartext.
    HTTP_2 = pycurl.CURL_HTTP_VERSION_2TLS
    #: HTTP/2 from the first byte on cleartext (h2c), ALPN on TLS.
    H2_PRIOR_KNOWLEDGE = pycurl.CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE
    #: HTTP/3 over QUIC only.
    HTTP_3 = pycurl.CURL_HTTP_VERSION_3ONLY


@dataclass
class CurlConfig(HttpClientEngineConfig):
    #: Verify the peer's certificate and host name (an alias of the common `verify`).
    ssl_verify: bool = True
    http_version: HttpVersion = HttpVersion.HTTP_2
    #: Allow a request body to be sent while the response is read (`client.duplex(...)`), as OkHttp's
    #: `duplexStreamingEnabled`; off by default.
    duplex_streaming_enabled: bool = False
    #: Escape hatch: called with each easy handle after tether's options, for raw `setopt` calls.
    customize_handle: Callable[[pycurl.Curl], None] | None = None


class CurlEngine(HttpClientEngineBase[CurlConfig]):
    name = "Curl"

    def __init__(self, config: CurlConfig) -> None:
        super().__init__(config)
        prime_read_buffers(BODY_BATCH_PRIME)  # response bodies are handed out in joined batches
        self._multi: CurlMultiLoop | None = None
        self._heads = HeadersMemo()  # checked headers by the text of their field lines
        self._version: int = config.http_version.value  # read per request: no enum lookup then

    @functools.cached_property
    def capabilities(self) -> frozenset[HttpClientEngineCapability[Any]]:  # fixed once the engine exists
        extra: set[HttpClientEngineCapability[Any]] = {Http2Capability, ProxyCapability, SocksProxyCapability}
        if _HTTP3_AVAILABLE:
            extra.add(Http3Capability)
        if self.config.duplex_streaming_enabled:
            extra.add(DuplexStreamingCapability)
        return DEFAULT_CAPABILITIES | extra | {SSECapability, WebSocketCapability}

    def capability_hint(self, capability: HttpClientEngineCapability[Any]) -> str | None:
        if capability is DuplexStreamingCapability:
            return "turn it on with config.engine.duplex_streaming_enabled = True (off by default)"
        return None

    async def upgrade(self, request: HttpRequestData, protocol: str) -> Upgrade:
        return await websocket.upgrade(self, request, protocol)  # engines/tether_curl/websocket.py

    def _loop_multi(self) -> CurlMultiLoop:
        loop = asyncio.get_running_loop()
        if self._multi is None or self._multi.loop is not loop:
            if self._multi is not None:
                self._multi.close()
            config = self.config
            self._multi = CurlMultiLoop(loop, config.max_connections, config.max_connections_per_host)
            self._multi.check_head = self._check_head
        return self._multi

    def _check_head(self, version: str, status: int, reason: str, fields: str) -> str | _Head:
        """The engine's head checks, run as the head arrives (a refused head fails the transfer inside
        libcurl's callback, which then closes the connection): the problem, or what `_execute` takes."""
        try:
            headers = self._heads.get(fields)
            if headers is None:
                checked = header_block(fields, self.config)
                if checked is None:
                    return header_block_problem(fields)
                headers = self._heads.put(fields, checked)
            return version, response_status(status, reason.strip()), headers
        except ProtocolError as exc:
            return str(exc)

    def _configure_handle(self, handle: pycurl.Curl, multi: CurlMultiLoop) -> None:
        """Options that are the same for every request of this engine: set once per easy handle
        (handles are reused without `reset()`)."""
        config = self.config
        handle.setopt(pycurl.FOLLOWLOCATION, 0)
        handle.setopt(pycurl.USERAGENT, "")  # none: pycurl sets "PycURL/..." on every new handle
        handle.setopt(pycurl.NOSIGNAL, 1)
        handle.setopt(pycurl.ACCEPT_ENCODING, None)  # no decoding: bodies arrive raw
        handle.setopt(pycurl.HTTP_CONTENT_DECODING, 0)
        # Chunked bodies arrive raw and tether decodes them (ChunkedDecoder): libcurl's decoder takes
        # bare LFs and other framing every other engine refuses. libcurl still finds the body's end.
        handle.setopt(pycurl.HTTP_TRANSFER_DECODING, 0)
        handle.setopt(pycurl.PATH_AS_IS, 1)
        handle.setopt(pycurl.TCP_NODELAY, 1)
        handle.setopt(pycurl.BUFFERSIZE, 256 * 1024)
        handle.setopt(pycurl.MAXAGE_CONN, int(config.keep_alive_timeout) or 1)
        verify = config.verify and config.ssl_verify
        handle.setopt(pycurl.SSL_VERIFYPEER, 1 if verify else 0)
        handle.setopt(pycurl.SSL_VERIFYHOST, 2 if verify else 0)
        if config.ca_bundle:
            handle.setopt(pycurl.CAINFO, config.ca_bundle)
        if config.client_cert is not None:
            cert, key = config.client_cert if isinstance(config.client_cert, tuple) else (config.client_cert, None)
            handle.setopt(pycurl.SSLCERT, cert)
            if key:
                handle.setopt(pycurl.SSLKEY, key)
        proxy = config.proxy
        if proxy is not None:
            if proxy.type is ProxyType.SOCKS:
                handle.setopt(pycurl.PROXY, f"socks5://{proxy.url.host}:{proxy.url.port}")
            else:
                handle.setopt(pycurl.PROXY, str(proxy.url))
        else:
            handle.setopt(pycurl.PROXY, "")  # never the environment's proxy
        # A tunnel's "200 Connection established" head is libcurl's business, not the response's.
        handle.setopt(_SUPPRESS_CONNECT_HEADERS, 1)

    def _configure(
        self,
        handle: pycurl.Curl,
        transfer: Transfer,
        request: HttpRequestData,
        timeouts: HttpTimeoutConfig,
        applied: list[Any],
        default_connect: float | None,
    ) -> None:
        """Options that vary per request. Handles are reused without `reset()`, so every option is
        set explicitly -- but only when it differs from what this handle already carries (`applied`,
        the values of its previous request): a repeated request to the same endpoint sets almost
        nothing."""
        url = request.url
        if applied[0] is not url:  # URLs are shared values (parse_url caches them): usually the same object
            text = str(url)
            if applied[5] != text:
                handle.setopt(pycurl.URL, text)
                applied[5] = text
            applied[0] = url
        capabilities = request.capabilities
        version = self._version
        if capabilities:
            if Http3Capability in capabilities:
                version = pycurl.CURL_HTTP_VERSION_3ONLY
            elif Http2Capability in capabilities:
                version = (
                    pycurl.CURL_HTTP_VERSION_2TLS
                    if request.url.scheme == "https"
                    else pycurl.CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE
                )
        if applied[1] != version:
            handle.setopt(pycurl.HTTP_VERSION, version)
            applied[1] = version
        # PIPEWAIT (wait for a connection being made to the same host, to multiplex on it) only where
        # multiplexing can happen: HTTP/2 over TLS (known after the handshake) or h2c prior knowledge.
        # On cleartext HTTP/1.1 libcurl learns only from the first response that the connection cannot
        # multiplex, so a request started beside one to a silent endpoint waited for that response
        # (and failed with a connect timeout) instead of opening its own connection.
        pipewait = version == _PRIOR_KNOWLEDGE or (version != _HTTP_1_1 and url.scheme == "https")
        if applied[8] is not pipewait:
            handle.setopt(pycurl.PIPEWAIT, pipewait)
            applied[8] = pipewait
        connect_timeout = timeouts.connect_timeout
        if connect_timeout is None:
            connect_timeout = default_connect  # the engine's default (HttpClientEngineConfig.connect_timeout)
        # 0 restores libcurl's default (300 s for the connect phase only; tether never adds another).
        connect_ms = 0 if connect_timeout is None else max(1, int(connect_timeout * 1000))
        if applied[2] != connect_ms:
            handle.setopt(pycurl.CONNECTTIMEOUT_MS, connect_ms)
            applied[2] = connect_ms
        method = request.method
        body = request.body
        data = request_body_bytes(body)
        streaming = data is None and isinstance(body, (StreamContent, WriterChannelContent))
        upload = streaming or (data is not None and (bool(data) or method not in _BODILESS_METHODS))
        # An in-memory body is handed to libcurl whole (POSTFIELDS: pycurl keeps a reference, libcurl
        # sends straight from it, no read callback per 64 KiB); a stream goes through the read callback.
        if streaming:
            kind = _STREAM
        elif not upload:
            kind = _NO_BODY
        else:
            kind = _BYTES if method == "HEAD" else _FIELDS
        if applied[3] != (method, kind):
            _set_method(handle, method, kind)
            applied[3] = (method, kind)
        # libcurl sends a request again when a kept-alive connection dies before the response, whatever
        # its method (an in-memory body it rewinds itself). A non-idempotent request is sent once: a
        # second send is refused before it starts.
        once = method not in IDEMPOTENT_METHODS
        if once:
            transfer.send_once()
        elif applied[6]:
            handle.unsetopt(pycurl.PREREQFUNCTION)
        applied[6] = once
        # libcurl copies a request's body into its send buffer, 64 KiB by default: a send() per 64 KiB.
        # An in-memory body gets a buffer that holds it whole (up to libcurl's 2 MiB limit): a 1 MiB
        # POST at c16 went from 16 sends to 1, and from about 2,000 to 2,800 requests/s.
        buffer_size = _UPLOAD_BUFFER if data is None or kind is not _FIELDS else _upload_buffer_size(len(data))
        if applied[7] != buffer_size:
            handle.setopt(pycurl.UPLOAD_BUFFERSIZE, buffer_size)
            applied[7] = buffer_size
        if kind is _FIELDS:
            assert data is not None
            handle.setopt(pycurl.POSTFIELDS, data)  # also sets POSTFIELDSIZE; last: it makes the method POST
            transfer.hold_fields(large_buffer=buffer_size > _UPLOAD_BUFFER)
        elif kind is _STREAM:
            length = body.content_length
            handle.setopt(pycurl.INFILESIZE_LARGE, -1 if length is None else length)
            source = chunks_of(body) if isinstance(body, StreamContent) else cast(WriterChannelContent, body).chunks()
            transfer.upload_stream(source, length)
        elif kind is _BYTES:
            assert data is not None
            handle.setopt(pycurl.INFILESIZE_LARGE, len(data))
            transfer.upload_bytes(data, replayable=method in IDEMPOTENT_METHODS)
        request_headers = request.headers
        if not request_headers.multidict:
            lines = _ALL_SUPPRESSED_FIELDS if kind is _FIELDS else _ALL_SUPPRESSED
        else:
            lines = [f"{name}: {value}" if value else f"{name};" for name, value in request_headers.items()]
            # libcurl adds these on its own unless told not to: tether sends exactly the request's headers.
            for suppressed, name in _SUPPRESSED if kind is not _FIELDS else _SUPPRESSED_FIELDS:
                if name not in request_headers:
                    lines.append(suppressed)
        if applied[4] != lines:
            handle.setopt(pycurl.HTTPHEADER, lines)
            applied[4] = lines

    def execute(self, request: HttpRequestData) -> Coroutine[Any, Any, HttpResponseData]:
        # The engine's default limits (`with_engine_defaults`) are applied here, not around the call: the
        # default connect timeout goes to libcurl with the request's own options, and the response-head
        # bound is a deadline the transfer carries, checked by one timer for all transfers. A copy of
        # the request and a coroutine wrapping each call cost a tenth of the client's instructions per
        # request. The same limits, the same exceptions (the conformance suite's `faults` cases).
        if self._closed:
            return super().execute(request)  # raises ClientClosedError
        return self._execute(request)

    async def _execute(self, request: HttpRequestData) -> HttpResponseData:
        multi = self._multi
        if multi is None or multi.loop is not asyncio.get_running_loop():
            multi = self._loop_multi()
        handle = multi.acquire_handle()
        transfer = Transfer(multi, handle)
        customize = self.config.customize_handle
        try:
            applied = multi.applied.get(handle)
            if applied is None:
                self._configure_handle(handle, multi)
                applied = multi.applied[handle] = [None] * _APPLIED
            timeouts = request.timeout
            config = self.config
            self._configure(handle, transfer, request, timeouts, applied, config.connect_timeout)
            transfer.install_callbacks()
            transfer.watch_socket(timeouts.socket_timeout)
            head_limit = default_head_limit(config, request)
            if head_limit is not None:
                transfer.bound_head(head_limit)
            if customize is not None:
                applied[:] = [None] * _APPLIED  # the hook may change anything: set everything next time
                customize(handle)
        except pycurl.error as exc:
            multi.discard_handle(handle)
            raise InvalidUrlError(f"Cannot send {request.method} {request.url}: {exc}") from exc
        request_time = time.monotonic()
        multi.start(transfer)
        try:
            try:
                version, status_in, headers_in = await transfer.head  # checked by `_check_head`
            except (CurlError, HeadError, HeadTimeout, SocketIdle) as exc:
                raise _translate(exc, request, config.connect_timeout) from exc
            version_in = protocol_version(version, request.url)
        except BaseException:
            multi.cancel(transfer)
            raise
        expected = expected_body_length(request.method, status_in, headers_in)
        decoder = (
            ChunkedDecoder(request.url)
            if expected is None and version[0] == "1" and "Transfer-Encoding" in headers_in
            else None
        )
        complete = transfer.completed_body()
        if complete is not None and (expected is None or len(complete) == expected):
            # The whole (small) response arrived with its head: no stream machinery needed.
            if decoder is not None:
                complete = decoder.feed(complete)
                decoder.finish()
            channel = ByteReadChannel.from_bytes(complete)
        else:
            channel = ByteReadChannel(
                _mapped_body(transfer, request, decoder),
                on_close=lambda: multi.cancel(transfer),
                expected_length=expected,
            )
        return HttpResponseData(
            status=status_in,
            headers=headers_in,
            version=version_in,
            body=channel,
            request_time=request_time,
            response_time=time.monotonic(),
        )

    async def _close(self) -> None:
        if self._multi is not None:
            self._multi.close()
            self._multi = None


#: Above the largest batch a body is handed out in (the high-water mark and a write callback's 16 KiB).
BODY_BATCH_PRIME = 2 * BODY_HIGH_WATER

#: CURLOPT_SUPPRESS_CONNECT_HEADERS (libcurl 7.54), which pycurl has no name for.
_SUPPRESS_CONNECT_HEADERS = getattr(pycurl, "SUPPRESS_CONNECT_HEADERS", 265)
_TLS_CODES = {35, 51, 53, 54, 58, 59, 60, 64, 66, 77, 80, 82, 83, 90, 91, 98}
_CONNECT_CODES = {5, 6, 7, 45, 97}
_PROTOCOL_CODES = {1, 8, 16, 18, 52, 55, 56, 92, 95, 100}
#: What a failure means when libcurl left its error buffer empty (seen for a connection closed in the
#: middle of an HTTP/2 body): never an empty message.
_QUIET_CODES = {
    8: "the server's reply could not be parsed",
    16: "HTTP/2 framing error",
    18: "the connection closed before the whole body arrived",
    52: "the server closed the connection without a response",
    55: "sending the request failed",
    56: "receiving the response failed (the connection was reset or closed)",
    92: "HTTP/2 stream error",
    95: "HTTP/3 error",
}


#: A checked response head: the version as libcurl's status line gave it, the status, the header fields.
_Head = tuple[str, HttpStatusCode, Headers]

#: What `applied` remembers per handle: URL object, protocol, connect timeout, (method, body kind),
#: header lines, URL text, whether a second send is refused, send buffer size, PIPEWAIT.
_APPLIED = 9
_HTTP_1_1 = pycurl.CURL_HTTP_VERSION_1_1
_PRIOR_KNOWLEDGE = pycurl.CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE
#: libcurl's default send buffer, and the largest it allows (CURL_MAX_WRITE_SIZE .. 2 MiB).
_UPLOAD_BUFFER = 64 * 1024
_UPLOAD_BUFFER_MAX = 2 * 1024 * 1024
#: Room left in the send buffer for the request head, sent before the body in the same buffer.
_HEAD_ROOM = 8192


def _upload_buffer_size(body: int) -> int:
    """A send buffer for the head and the whole in-memory body, in 64 KiB steps (2 MiB at most)."""
    needed = body + _HEAD_ROOM
    if needed <= _UPLOAD_BUFFER:
        return _UPLOAD_BUFFER
    return min(_UPLOAD_BUFFER_MAX, -(-needed // _UPLOAD_BUFFER) * _UPLOAD_BUFFER)


_BODILESS_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS", "TRACE"})
#: How a request's body reaches libcurl: none; in memory, whole (POSTFIELDS); in memory through the read
#: callback (a HEAD's: libcurl sends no POSTFIELDS with NOBODY); a stream, through the read callback.
_NO_BODY, _FIELDS, _BYTES, _STREAM = "none", "fields", "bytes", "stream"
#: Headers libcurl would add itself, and the lines that stop it (when the request has no such header).
#: It adds no User-Agent (USERAGENT is empty on every handle); a Content-Type only to a POSTFIELDS body
#: (application/x-www-form-urlencoded). Every line here costs libcurl a comparison with each header it writes.
_SUPPRESSED = (
    ("Accept:", "Accept"),
    ("Expect:", "Expect"),
)
_SUPPRESSED_FIELDS = (*_SUPPRESSED, ("Content-Type:", "Content-Type"))


_ALL_SUPPRESSED = [suppressed for suppressed, _ in _SUPPRESSED]
_ALL_SUPPRESSED_FIELDS = [suppressed for suppressed, _ in _SUPPRESSED_FIELDS]


def _set_method(handle: pycurl.Curl, method: str, kind: str) -> None:
    handle.setopt(pycurl.NOBODY, 1 if method == "HEAD" else 0)
    if method != "HEAD":
        # POSTFIELDS, set after this, makes the method POST; UPLOAD makes it PUT; HTTPGET makes it GET.
        handle.setopt(pycurl.UPLOAD, 1 if kind is _STREAM or kind is _BYTES else 0)
        if kind is _NO_BODY:
            handle.setopt(pycurl.HTTPGET, 1)
    if method == "HEAD" or (method == "GET" and kind is _NO_BODY) or (method == "POST" and kind is _FIELDS):
        handle.unsetopt(pycurl.CUSTOMREQUEST)
        if method == "HEAD" and kind is not _NO_BODY:
            handle.setopt(pycurl.CUSTOMREQUEST, method)  # a HEAD with a body
    else:
        handle.setopt(pycurl.CUSTOMREQUEST, method)


async def _mapped_body(
    transfer: Transfer, request: HttpRequestData, decoder: ChunkedDecoder | None
) -> AsyncIterator[bytes]:
    """The streamed body (chunked framing decoded), libcurl's errors mapped where the data ends. Each
    step hands out every piece that arrived since the last one, joined: one step per loop iteration
    however many 16 KiB write callbacks libcurl made in it."""
    try:
        while True:
            chunks = transfer.take_chunks()
            if chunks:
                if decoder is not None:
                    data = decoder.feed(chunks)
                    if data:
                        yield data
                else:
                    yield chunks[0] if len(chunks) == 1 else b"".join(chunks)
            elif transfer.finished:
                if transfer.error is not None:
                    raise transfer.error
                break
            else:
                await transfer.arrival()
    except (CurlError, HeadError, SocketIdle) as exc:
        raise _translate(exc, request) from exc
    if decoder is not None:
        decoder.finish()


def _translate(
    exc: CurlError | HeadError | HeadTimeout | SocketIdle,
    request: HttpRequestData,
    default_connect: float | None = None,
) -> TetherError:
    url = request.url
    timeouts = request.timeout
    if isinstance(exc, SocketIdle):
        return SocketTimeoutException(url, exc.timeout)
    if isinstance(exc, HeadTimeout):
        limit = exc.limit
        return SocketTimeoutException(
            url, limit, f"no complete response head within {limit:g} s (response_head_timeout)"
        )
    if isinstance(exc, HeadError):
        return ProtocolError(f"{request.method} {url}: {exc}")
    code = exc.code
    message = str(exc) or _QUIET_CODES.get(code, "no message from libcurl")  # libcurl's error buffer can be empty
    if code == 28:  # CURLE_OPERATION_TIMEDOUT: only the connect timeout is given to libcurl
        if exc.connected:
            return SocketTimeoutException(url, timeouts.socket_timeout, message)
        connect_timeout = timeouts.connect_timeout if timeouts.connect_timeout is not None else default_connect
        return ConnectTimeoutException(url, connect_timeout, message)
    if code in _TLS_CODES:
        return TlsError(f"TLS handshake with {url.host} failed: {message}")
    if code in _CONNECT_CODES:
        return ConnectError(f"Cannot connect to {url.host}:{url.port}: {message}")
    if code == 3 or (code == 1 and not exc.connected):
        return InvalidUrlError(f"Cannot send to {url}: {message}")
    if code in _PROTOCOL_CODES:
        return ProtocolError(f"{request.method} {url}: {message}")
    return ProtocolError(f"{request.method} {url}: libcurl error {code}: {message}")


Curl: EngineFactory[CurlConfig, CurlEngine] = EngineFactory("Curl", CurlEngine, CurlConfig)
