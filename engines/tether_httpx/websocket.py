"""The upgrade route for Httpx: the GET is streamed on an HTTP/1.1-only client, and on a 101 httpcore
hands back the connection as `response.extensions["network_stream"]` (it keeps the bytes that arrived
with the head and returns them first)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import socket
import time
from typing import TYPE_CHECKING, Any

import anyio
import httpx
from httpcore._async.http11 import AsyncHTTP11UpgradeStream
from httpcore._backends.anyio import AnyIOStream

from tether.channel import ByteReadChannel
from tether.engine.support import protocol_version
from tether.engine.support import response_headers as response_headers_of
from tether.engine.upgrade import REFUSAL_BODY_LIMIT, ProtocolStream, Upgrade, UpgradedStream, upgrade_headers
from tether.exceptions import ProtocolError
from tether.http import HttpStatusCode
from tether.request import HttpRequestData
from tether.response import HttpResponseData
from tether_httpx.heads import HeadRecordingStream

if TYPE_CHECKING:
    from tether_httpx.engine import HttpxEngine

__all__ = ["upgrade"]


async def upgrade(engine: HttpxEngine, request: HttpRequestData, protocol: str) -> Upgrade:
    from tether_httpx.engine import _HTTPX_DEFAULT_HEADERS, _mapped_errors

    client = _http1_client(engine)
    timeouts = request.timeout
    # Connect timeout only: the session's reads wait as long as the session lives.
    timeout = httpx.Timeout(connect=timeouts.connect_timeout, read=None, write=None, pool=None)
    headers = upgrade_headers(request, protocol)
    request_time = time.monotonic()
    with _mapped_errors(request):
        sent = client.build_request(request.method, str(request.url), headers=headers, timeout=timeout)
        for name in _HTTPX_DEFAULT_HEADERS:
            if name not in request.headers and name != "Connection":
                del sent.headers[name]
        response = await client.send(sent, stream=True)
    try:
        headers_in = response_headers_of(response.headers.raw, engine.config, request.url)
        status = HttpStatusCode.of(response.status_code, response.reason_phrase or None)
        version = protocol_version(response.http_version, request.url)
        if response.status_code == 101:
            stream = _NetworkStream(response)
            data = HttpResponseData(
                status, headers_in, version, ByteReadChannel.empty(), request_time, time.monotonic()
            )
            return Upgrade(data, stream)
        body = bytearray()
        with _mapped_errors(request):
            async for chunk in response.aiter_raw():
                body += chunk
                if len(body) > REFUSAL_BODY_LIMIT:
                    raise ProtocolError(f"{request.url}: the refusal's body is over {REFUSAL_BODY_LIMIT} bytes")
        await response.aclose()
        channel = ByteReadChannel.from_bytes(bytes(body))
        return Upgrade(HttpResponseData(status, headers_in, version, channel, request_time, time.monotonic()), None)
    except BaseException:
        await response.aclose()
        raise


def _http1_client(engine: HttpxEngine) -> httpx.AsyncClient:
    """The client upgrades go through: HTTP/1.1 only, and a pool without a practical limit, because an
    upgraded connection stays checked out for the session's life -- sessions must never make HTTP
    requests or other sessions wait for a connection (the engine's HTTP pools are untouched). Kept in
    the engine's pools, so the engine closes it.

    No keep-alive: every upgrade gets a connection of its own, as on the other engines. A kept one
    was only ever a refused upgrade's (a 401), and the re-send after the token refresh then raced
    the server closing it: "Server disconnected without sending a response" now and then under load."""
    from tether_httpx.engine import HttpxEngine, _Shard

    shards = engine._pools.get("websocket")
    if shards is None:
        plain = HttpxEngine(dataclasses.replace(engine.config, http2=False))
        client = plain._create_client(
            h2_only=False, connections=_SESSION_POOL_LIMIT, keep_alive=0, executor=lambda: engine.executor
        )
        shards = engine._pools["websocket"] = [_Shard(client)]
    return shards[0].client


#: Connections of the upgrade client: a number, not a bound (httpcore's cost grows with open ones).
_SESSION_POOL_LIMIT = 1 << 20


class _NetworkStream(UpgradedStream):
    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self._stream: Any = response.extensions["network_stream"]
        self._closed = False
        # httpcore's wrappers add a timeout scope and an exception map to every read and write; the
        # anyio stream beneath them is used directly when it is there (about 1.3x the messages/s).
        self._leading = b""
        self._anyio: Any = None
        inner = getattr(self._stream, "_stream", None)
        if isinstance(inner, HeadRecordingStream):  # the engine's head check sits above anyio's stream
            inner = inner._inner
        if isinstance(self._stream, AsyncHTTP11UpgradeStream) and isinstance(inner, AnyIOStream):
            self._leading = self._stream._leading_data
            self._anyio = inner._stream
        # On a plain TCP connection the asyncio transport under anyio is taken over outright: anyio
        # yields to the loop on every send and receive (a checkpoint each), which made an Httpx
        # session cost 2.5x the CPU per message of the other engines. TLS stays on anyio (its TLS
        # runs in memory BIOs above the transport).
        self._adopted: ProtocolStream | None = _adopt(self._anyio, self._leading)
        if self._adopted is not None:
            self._leading = b""

    async def read(self, max_bytes: int) -> bytes:
        if self._adopted is not None:
            return await self._adopted.read(max_bytes)
        if self._leading:
            chunk, self._leading = self._leading[:max_bytes], self._leading[max_bytes:]
            return chunk
        try:
            if self._anyio is not None:
                received: bytes = await self._anyio.receive(max_bytes)
                return received
            data: bytes = await self._stream.read(max_bytes)
        except anyio.EndOfStream:
            return b""
        except Exception as exc:
            if self._closed:
                return b""
            raise ConnectionResetError(f"read failed: {exc}") from exc
        return data

    async def write(self, data: bytes) -> None:
        if self._adopted is not None:
            await self._adopted.write(data)
            return
        try:
            if self._anyio is not None:
                await self._anyio.send(data)
            else:
                await self._stream.write(data)
        except Exception as exc:
            raise ConnectionResetError(f"write failed: {exc}") from exc

    def try_write(self, data: bytes) -> bool:
        return self._adopted is not None and self._adopted.try_write(data)

    def abort(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._adopted is not None:
            self._adopted.abort()
        sock = self._stream.get_extra_info("socket")
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes a pending read now
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop().create_task(self._release())

    async def _release(self) -> None:
        with contextlib.suppress(Exception):
            await self._stream.aclose()
        with contextlib.suppress(Exception):
            await self._response.aclose()

    async def aclose(self) -> None:
        self._closed = True
        await self._release()


def _adopt(anyio_stream: Any, leading: bytes) -> ProtocolStream | None:
    """Move a plain anyio socket stream's asyncio transport to a `ProtocolStream`, with the bytes
    anyio (and httpcore) had already received; None when the stream is not that (TLS, other loops)."""
    transport = getattr(anyio_stream, "_transport", None)
    protocol = getattr(anyio_stream, "_protocol", None)
    queue = getattr(protocol, "read_queue", None)
    if (
        not isinstance(transport, asyncio.Transport)
        or not isinstance(queue, collections.deque)
        or getattr(protocol, "is_at_eof", True)
        or getattr(protocol, "exception", None) is not None
        or transport.is_closing()
    ):
        return None
    stream = ProtocolStream()
    stream.connection_made(transport)
    transport.set_protocol(stream)
    transport.set_write_buffer_limits()  # anyio sets a high-water mark of 0; back to asyncio's default
    received = leading + b"".join(queue)
    queue.clear()
    if received:
        stream.buffer.feed(received)
    if not transport.is_reading():
        transport.resume_reading()
    return stream
