"""The upgrade SPI beside `execute`: an engine that declares `WebSocketCapability` sends one HTTP/1.1
request with `Connection: Upgrade` and hands back the response head and, on a 101, the connection as
a plain byte stream. The engine knows nothing of WebSocket framing; `tether.websockets` does that.

    upgrade = await engine.upgrade(request_data, "websocket")
    if upgrade.stream is not None:          # 101 Switching Protocols
        await upgrade.stream.write(b"...")
        data = await upgrade.stream.read(65536)

Helpers for engine authors: `ReceiveBuffer` (bytes fed by callbacks, read by a coroutine, with
backpressure), `ProtocolStream` (an `asyncio.Protocol` that is an `UpgradedStream`, for engines that
adopt a socket with `loop.create_connection(sock=...)`) and `handshake_over` (write the request and
parse the head with h11 on such a stream).
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import h11

from tether.attributes import AttributeKey
from tether.channel import ByteReadChannel
from tether.engine.support import protocol_version
from tether.exceptions import ProtocolError, TetherError
from tether.http import Headers, HttpStatusCode
from tether.request import HttpRequestData
from tether.response import HttpResponseData

if TYPE_CHECKING:
    from tether.engine.base import HttpClientEngine

__all__ = [
    "UPGRADE_CALL",
    "ProtocolStream",
    "ReceiveBuffer",
    "Upgrade",
    "UpgradedStream",
    "handshake_over",
    "upgrade_headers",
]

#: Bytes buffered from the peer before the engine stops reading (the session reads as it consumes).
RECEIVE_HIGH_WATER = 1024 * 1024
#: Largest body of a refused upgrade (a 401 page, say) kept for the caller to read.
REFUSAL_BODY_LIMIT = 8 * 1024 * 1024


class UpgradedStream(ABC):
    """The upgraded connection: bytes in, bytes out. `read` returns b"" at end of stream."""

    @abstractmethod
    async def read(self, max_bytes: int) -> bytes:
        """Up to `max_bytes` bytes, waiting for at least one; b"" once the peer closed."""

    @abstractmethod
    async def write(self, data: bytes) -> None:
        """Send `data`, waiting while the transport's buffer is full."""

    @abstractmethod
    def abort(self) -> None:
        """Close the connection now (no waiting, idempotent)."""

    def try_write(self, data: bytes) -> bool:
        """Hand `data` to the transport now if it takes it without waiting (no backpressure); False
        when the caller must `await write(data)` instead. Saves a coroutine per small message."""
        return False

    async def aclose(self) -> None:
        """Close the connection (flushing what the transport still holds where it can)."""
        self.abort()


@dataclass(frozen=True)
class Upgrade:
    """What `engine.upgrade` returns: the response (body readable unless 101) and, on a 101, the stream."""

    response: HttpResponseData
    stream: UpgradedStream | None


#: On a request's attributes: how the innermost sender calls the engine instead of `execute` (the
#: WebSocket session sets it, so the upgrade GET runs through the whole pipeline: auth, cookies, ...).
UPGRADE_CALL: AttributeKey[Callable[[HttpClientEngine, HttpRequestData], Awaitable[HttpResponseData]]] = AttributeKey(
    "UpgradeCall"
)


def upgrade_headers(request: HttpRequestData, protocol: str) -> list[tuple[str, str]]:
    """The request's headers plus the two an engine owns for an upgrade (callers may not set them)."""
    return [*request.headers.items(), ("Connection", "Upgrade"), ("Upgrade", protocol)]


class ReceiveBuffer:
    """Bytes pushed by transport callbacks, pulled by `read`. Calls `pause()` above the high-water
    mark and `resume()` once the reader drained it below half."""

    def __init__(
        self,
        pause: Callable[[], None] | None = None,
        resume: Callable[[], None] | None = None,
        high_water: int = RECEIVE_HIGH_WATER,
    ) -> None:
        self._data = bytearray()
        self._eof = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._pause = pause
        self._resume = resume
        self._paused = False
        self._high_water = high_water

    def feed(self, data: bytes) -> None:
        if self._eof:
            return
        self._data += data
        self._wake()
        if not self._paused and self._pause is not None and len(self._data) > self._high_water:
            self._paused = True
            self._pause()

    def feed_eof(self, error: BaseException | None = None) -> None:
        if not self._eof:
            self._eof = True
            self._error = error
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def read(self, max_bytes: int) -> bytes:
        while not self._data:
            if self._eof:
                if self._error is not None:
                    raise self._error
                return b""
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if len(self._data) <= max_bytes:
            chunk = bytes(self._data)
            self._data.clear()
        else:
            chunk = bytes(self._data[:max_bytes])
            del self._data[:max_bytes]
        if self._paused and len(self._data) <= self._high_water // 2 and self._resume is not None:
            self._paused = False
            self._resume()
        return chunk


class ProtocolStream(asyncio.Protocol, UpgradedStream):
    """An `UpgradedStream` over an asyncio transport: give it to `loop.create_connection(sock=...)`."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = ReceiveBuffer(self._pause_reading, self._resume_reading)
        self._can_write = asyncio.Event()
        self._can_write.set()
        self._lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer.feed(data)

    def eof_received(self) -> bool | None:
        self.buffer.feed_eof()
        return False  # close our side too: a WebSocket has no half-closed state

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self.buffer.feed_eof(ConnectionResetError(str(exc)) if exc is not None else None)
        self._can_write.set()

    def pause_writing(self) -> None:
        self._can_write.clear()

    def resume_writing(self) -> None:
        self._can_write.set()

    def _pause_reading(self) -> None:
        if self.transport is not None and not self._lost:
            self.transport.pause_reading()

    def _resume_reading(self) -> None:
        if self.transport is not None and not self._lost:
            self.transport.resume_reading()

    async def read(self, max_bytes: int) -> bytes:
        return await self.buffer.read(max_bytes)

    async def write(self, data: bytes) -> None:
        if self._lost or self.transport is None or self.transport.is_closing():
            raise ConnectionResetError("the connection is closed")
        self.transport.write(data)
        if not self._can_write.is_set():
            await self._can_write.wait()

    def try_write(self, data: bytes) -> bool:
        transport = self.transport
        if transport is None or self._lost or not self._can_write.is_set() or transport.is_closing():
            return False
        transport.write(data)
        return True

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    async def aclose(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()  # flushes what is buffered, then closes


async def handshake_over(
    stream: UpgradedStream, request: HttpRequestData, protocol: str, max_head_size: int = 64 * 1024
) -> Upgrade:
    """Send `request` as an upgrade on a fresh connection and read the answer with h11.

    On a 101 the bytes that arrived after the head stay readable from the returned stream; any other
    answer is read whole (up to `REFUSAL_BODY_LIMIT`) and the connection closed."""
    connection = h11.Connection(h11.CLIENT, max_incomplete_event_size=max_head_size)
    url = request.url
    target = url.raw_path_qs or "/"
    headers = upgrade_headers(request, protocol)
    if "Host" not in request.headers:
        default_port = 443 if url.scheme in ("https", "wss") else 80
        host = url.raw_host or ""
        if ":" in host:
            host = f"[{host}]"
        headers.insert(0, ("Host", host if url.port in (None, default_port) else f"{host}:{url.port}"))
    request_time = time.monotonic()
    try:
        await stream.write(connection.send(h11.Request(method=request.method, target=target, headers=headers)))
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                data = await stream.read(65536)
                connection.receive_data(data)
                continue
            if isinstance(event, h11.InformationalResponse) and event.status_code == 101:
                trailing, _ = connection.trailing_data
                response = _response_data(event, ByteReadChannel.empty(), request_time)
                return Upgrade(response, _Prefixed(trailing, stream) if trailing else stream)
            if isinstance(event, h11.Response):
                body = bytearray()
                while True:
                    event_body = connection.next_event()
                    if event_body is h11.NEED_DATA:
                        connection.receive_data(await stream.read(65536))
                    elif isinstance(event_body, h11.Data):
                        body += event_body.data
                        if len(body) > REFUSAL_BODY_LIMIT:
                            raise ProtocolError(f"{url}: the refusal's body is over {REFUSAL_BODY_LIMIT} bytes")
                    elif isinstance(event_body, (h11.EndOfMessage, h11.ConnectionClosed)):
                        break
                stream.abort()
                return Upgrade(_response_data(event, ByteReadChannel.from_bytes(bytes(body)), request_time), None)
            if isinstance(event, h11.ConnectionClosed):
                raise ProtocolError(f"GET {url}: the server closed the connection before answering")
            # Other interim responses (100, 103) are skipped, as on every request.
    except h11.RemoteProtocolError as exc:
        stream.abort()
        raise ProtocolError(f"GET {url}: malformed response to the upgrade: {exc}") from exc
    except TetherError:
        stream.abort()
        raise
    except OSError as exc:  # a reset once connected: the server's fault, as for any request
        stream.abort()
        reason = exc or type(exc).__name__
        raise ProtocolError(f"GET {url}: the connection failed during the upgrade: {reason}") from exc
    except BaseException:
        stream.abort()
        raise


def _response_data(
    event: h11.Response | h11.InformationalResponse, body: ByteReadChannel, request_time: float
) -> HttpResponseData:
    raw = event.headers.raw_items()  # names as sent
    return HttpResponseData(
        status=HttpStatusCode.of(event.status_code, event.reason.decode("latin-1") or None),
        headers=Headers([(name.decode("latin-1"), value.decode("latin-1")) for name, value in raw]),
        version=protocol_version(event.http_version.decode("ascii")),
        body=body,
        request_time=request_time,
        response_time=time.monotonic(),
    )


class _Prefixed(UpgradedStream):
    """A stream whose first bytes arrived with the response head."""

    def __init__(self, prefix: bytes, stream: UpgradedStream) -> None:
        self._prefix = prefix
        self._stream = stream

    async def read(self, max_bytes: int) -> bytes:
        if self._prefix:
            chunk, self._prefix = self._prefix[:max_bytes], self._prefix[max_bytes:]
            return chunk
        return await self._stream.read(max_bytes)

    async def write(self, data: bytes) -> None:
        await self._stream.write(data)

    def try_write(self, data: bytes) -> bool:
        return self._stream.try_write(data)

    def abort(self) -> None:
        self._stream.abort()

    async def aclose(self) -> None:
        await self._stream.aclose()
