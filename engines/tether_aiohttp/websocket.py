"""The upgrade route for Aiohttp: the raw-stream route, not `ws_connect`. The upgrade GET goes through
the engine's `ClientSession`; on a 101 the connection's protocol gets a payload parser (the hook
`ws_connect` uses for its own reader) that hands every byte, those that came with the head first, to
tether's framing. `ws_connect` would frame itself, drop the body of a refusal (aiohttp#2279) and
impose its own limits; this way a refusal's body stays readable and the limits are tether's."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

import aiohttp

from tether.channel import ByteReadChannel
from tether.engine.support import protocol_version
from tether.engine.upgrade import REFUSAL_BODY_LIMIT, ReceiveBuffer, Upgrade, UpgradedStream, upgrade_headers
from tether.exceptions import ProtocolError
from tether.http import HttpStatusCode
from tether.request import HttpRequestData
from tether.response import HttpResponseData

if TYPE_CHECKING:
    from tether_aiohttp.engine import AiohttpEngine

__all__ = ["upgrade"]


async def upgrade(engine: AiohttpEngine, request: HttpRequestData, protocol: str) -> Upgrade:
    from tether_aiohttp.engine import _translate

    options: dict[str, Any] = {
        "allow_redirects": False,
        "headers": upgrade_headers(request, protocol),
        # Connect timeout only: the session's reads wait as long as the session lives.
        "timeout": aiohttp.ClientTimeout(
            total=None, connect=request.timeout.connect_timeout, sock_connect=request.timeout.connect_timeout
        ),
    }
    if engine.config.proxy is not None:
        options["proxy"] = str(engine.config.proxy.url)
    session = engine._get_session()
    request_time = time.monotonic()
    try:
        response = await session.request(request.method, request.url, **options)
    except Exception as exc:
        mapped = _translate(exc, request)
        if mapped is None:
            raise
        raise mapped from exc
    try:
        headers = engine._heads.response_headers(response.raw_headers, engine.config, request.url)
        status = HttpStatusCode.of(response.status, response.reason or None)
        version = response.version
        version_in = protocol_version(f"{version.major}.{version.minor}" if version else "1.1", request.url)
        if response.status == 101:
            stream = _ConnectionStream(response)
            channel = ByteReadChannel.empty()
            data = HttpResponseData(status, headers, version_in, channel, request_time, time.monotonic())
            return Upgrade(data, stream)
        try:
            body = await response.content.read(REFUSAL_BODY_LIMIT + 1)
        except Exception as exc:
            mapped = _translate(exc, request)
            if mapped is None:
                raise
            raise mapped from exc
        if len(body) > REFUSAL_BODY_LIMIT:
            raise ProtocolError(f"{request.url}: the refusal's body is over {REFUSAL_BODY_LIMIT} bytes")
        response.close()
        channel = ByteReadChannel.from_bytes(body)
        return Upgrade(HttpResponseData(status, headers, version_in, channel, request_time, time.monotonic()), None)
    except BaseException:
        response.close()
        raise


class _ConnectionStream(UpgradedStream):
    """The upgraded connection: aiohttp's protocol stays in place and feeds `_Feed`."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        connection = response.connection
        assert connection is not None and connection.protocol is not None and connection.transport is not None
        self._response = response
        self._protocol: Any = connection.protocol
        self._transport = connection.transport
        self.buffer = ReceiveBuffer(self._protocol.pause_reading, self._protocol.resume_reading)
        feed = _Feed(self.buffer)
        self._protocol.set_parser(feed, feed)  # drains the bytes that arrived with the head into it
        # A session holds no pool slot: on every engine, open sessions never make HTTP requests (or
        # more sessions) wait for a connection. The connection stays the response's to close.
        with contextlib.suppress(AttributeError):
            connection._connector._release_acquired(connection._key, connection.protocol)

    async def read(self, max_bytes: int) -> bytes:
        return await self.buffer.read(max_bytes)

    async def write(self, data: bytes) -> None:
        """Hand `data` to the transport (it takes all of it, so a frame is never cut), then wait while
        its buffer is over the high-water mark. Cancelling the wait cancels nothing shared: the
        transport still sends `data`, and later writes still wait as they should."""
        if self._transport.is_closing():
            raise ConnectionResetError("the connection is closed")
        self._transport.write(data)
        protocol = self._protocol
        if not protocol.writing_paused:
            return
        # Not `protocol._drain_helper()`: it awaits the protocol's one drain future itself, and a
        # cancelled caller would cancel that future for every later wait (which then raised a bare
        # CancelledError in tasks nobody cancelled). The same future, shielded.
        if protocol.transport is None:
            raise ConnectionResetError("the connection is closed")
        waiter: asyncio.Future[None] | None = protocol._drain_waiter
        if waiter is None or waiter.done():
            waiter = protocol._drain_waiter = asyncio.get_running_loop().create_future()
        try:
            await asyncio.shield(waiter)
        except ConnectionError as exc:  # the connection was lost while waiting
            raise ConnectionResetError(str(exc) or "the connection is closed") from exc

    def try_write(self, data: bytes) -> bool:
        if self._transport.is_closing() or self._protocol.writing_paused:
            return False
        self._transport.write(data)
        return True

    def abort(self) -> None:
        self._transport.abort()
        self._response.close()

    async def aclose(self) -> None:
        self._transport.close()
        self._response.close()


class _Feed:
    """What aiohttp's `ResponseHandler.set_parser` takes: the parser and the payload in one."""

    def __init__(self, buffer: ReceiveBuffer) -> None:
        self._buffer = buffer

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self._buffer.feed(data)
        return False, b""

    def feed_eof(self) -> None:
        self._buffer.feed_eof()

    def set_exception(self, exc: BaseException, exc_cause: BaseException | None = None) -> None:
        self._buffer.feed_eof(ConnectionResetError(str(exc)))
