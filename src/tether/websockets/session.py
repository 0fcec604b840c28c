"""One WebSocket session: wsproto frames the bytes of the stream an engine upgraded.

A reader task feeds wsproto, answers pings, assembles messages and queues them for `receive()`;
sends are framed by wsproto and written under one lock. A send may be cancelled at any point: every
engine's stream either never began a frame or sends all of it before anything written later, and a
failed write fails the session (`WebSocketConnectionLostException`). Every way the session ends (a
closing handshake either way, a drop, a protocol error, a missed pong, cancellation) goes through
`_finish`, which wakes every pending `receive()` and ends iteration.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
import struct
from collections import deque
from collections.abc import AsyncIterator, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage
from wsproto.extensions import Extension
from wsproto.frame_protocol import CloseReason, FrameDecoder, FrameProtocol, Opcode, RsvBits

from tether.engine.upgrade import UpgradedStream
from tether.events import Events, WebSocketClosed
from tether.websockets.exceptions import (
    FrameTooBigException,
    WebSocketClosedException,
    WebSocketConnectionLostException,
    WebSocketException,
    WebSocketPingTimeoutException,
    WebSocketProtocolException,
)

if TYPE_CHECKING:
    from tether.response import HttpResponse
    from tether.websockets.plugin import WebSocketsConfig

__all__ = ["MessageType", "WebSocketMessage", "WebSocketSession"]

T = TypeVar("T")

#: Messages queued for `receive()` before the reader stops reading (the peer then waits on TCP).
INCOMING_QUEUE = 64
#: Seconds the closing handshake may take before the connection is dropped (RFC 6455 7.1.1).
CLOSE_TIMEOUT = 10.0
#: Largest frame the fast path waits for across reads (bigger ones go to wsproto, which streams them).
_FAST_FRAME_WAIT = 64 * 1024
#: Why the fast path stopped (see `WebSocketSession._fast_messages`).
_OTHER, _INCOMPLETE, _QUEUE_FULL = 0, 1, 2
#: Bytes read from the stream at once.
READ_SIZE = 256 * 1024


def _client_frame(opcode: int, payload: bytes) -> bytes:
    """One final frame, masked as a client must (RFC 6455 5.3): what wsproto sends, built in one go."""
    length = len(payload)
    if length < 126:
        header = bytes((0x80 | opcode, 0x80 | length))
    elif length < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 0xFE, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0xFF, length)
    mask = os.urandom(4)
    if not length:
        return header + mask
    key = (mask * ((length + 3) // 4))[:length]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(length, "big")
    return header + mask + masked


class MessageType(enum.Enum):
    TEXT = "text"
    BINARY = "binary"


class WebSocketMessage(NamedTuple):
    """One whole message (fragments are joined): `data` is a str for TEXT, bytes for BINARY.
    (A named tuple: made once per message, it costs a fraction of a frozen dataclass.)"""

    type: MessageType
    data: str | bytes

    @property
    def is_text(self) -> bool:
        return self.type is MessageType.TEXT

    @property
    def text(self) -> str:
        if isinstance(self.data, str):
            return self.data
        raise WebSocketException("expected a text message, got a binary one")

    @property
    def bytes(self) -> bytes:
        if isinstance(self.data, bytes):
            return self.data
        raise WebSocketException("expected a binary message, got a text one")


class _FrameLimit(Extension):
    """Never offered, always on: refuses a frame whose header announces more than `max_frame_size`
    before its payload is read (wsproto has no limit of its own)."""

    name = "tether-frame-limit"

    def __init__(self, max_frame_size: int) -> None:
        self.max_frame_size = max_frame_size
        self.exceeded: int | None = None

    def enabled(self) -> bool:
        return True

    def offer(self) -> bool:
        return False

    def frame_inbound_header(
        self, proto: FrameDecoder | FrameProtocol, opcode: Opcode, rsv: RsvBits, payload_length: int
    ) -> CloseReason | RsvBits:
        if payload_length > self.max_frame_size:
            self.exceeded = payload_length
            return CloseReason.MESSAGE_TOO_BIG
        return RsvBits(False, False, False)


class WebSocketSession:
    """A connected session. Use it with `async with client.websocket(url) as ws:`, or close it.

    >>> async with client.websocket("ws://127.0.0.1:8080/echo") as ws:
    ...     await ws.send_text("hello")
    ...     reply = await ws.receive_text()
    """

    def __init__(
        self,
        stream: UpgradedStream,
        response: HttpResponse,
        subprotocol: str | None,
        extensions: list[Extension],
        settings: WebSocketsConfig,
        monitor: Events | None = None,
    ) -> None:
        self._stream = stream
        self._monitor = monitor
        self._closed_report: asyncio.Task[None] | None = None
        self.response = response
        #: The subprotocol the server chose (None: none).
        self.subprotocol = subprotocol
        #: The negotiated extensions as the server accepted them (`permessage-deflate; ...`).
        self.extensions: list[str] = [
            value.strip() for value in response.headers.get_split_values("Sec-WebSocket-Extensions") or ()
        ]
        self._settings = settings
        self._limit = _FrameLimit(settings.max_frame_size)
        self._connection = Connection(ConnectionType.CLIENT, extensions=[*extensions, self._limit])
        #: No extension changes outgoing frames: whole messages are framed here, without wsproto.
        self._plain_frames = not extensions
        self._incoming: deque[WebSocketMessage] = deque()
        self._readable = asyncio.Event()
        self._space = asyncio.Event()
        self._space.set()
        self._write_lock = asyncio.Lock()
        self._pongs: dict[bytes, asyncio.Future[None]] = {}
        self._finished = False
        self._failure: BaseException | None = None
        self._done = asyncio.Event()
        #: The close code and reason: the peer's (or ours when we failed the connection); None while open.
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self._reader = asyncio.ensure_future(self._read_loop())
        self._pinger: asyncio.Task[None] | None = None
        if settings.ping_interval is not None:
            self._pinger = asyncio.ensure_future(self._ping_loop(settings.ping_interval, settings.ping_timeout))

    # -- receiving --------------------------------------------------------------------------------
    async def receive(self) -> WebSocketMessage:
        """The next message. Raises `WebSocketClosedException` once the session is closed (or the
        error that ended it: a drop, a protocol error, a missed pong)."""
        while True:
            if self._incoming:
                message = self._incoming.popleft()
                self._space.set()
                if not self._incoming and not self._finished:
                    self._readable.clear()
                return message
            if self._finished:
                raise self._ended()
            await self._readable.wait()

    async def receive_text(self) -> str:
        return (await self.receive()).text

    async def receive_bytes(self) -> bytes:
        return (await self.receive()).bytes

    async def receive_deserialized(self, type_: type[T]) -> T:
        """The next message through the plugin's `content_converter`."""
        converter = self._converter()
        value: T = converter.deserialize(await self.receive(), type_)
        return value

    def __aiter__(self) -> AsyncIterator[WebSocketMessage]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[WebSocketMessage]:
        """Messages until the session closes: a closing handshake ends iteration, a failure raises."""
        while True:
            try:
                message = await self.receive()
            except WebSocketClosedException as exc:
                if isinstance(exc, WebSocketConnectionLostException):
                    raise
                return
            yield message

    def _ended(self) -> BaseException:
        if self._failure is not None:
            return self._failure
        return WebSocketClosedException(self.close_code, self.close_reason)

    # -- sending ----------------------------------------------------------------------------------
    async def send(self, data: str | bytes) -> None:
        """Send a text (str) or binary (bytes) message."""
        if isinstance(data, str):
            await self._send_message(0x81, data)
        elif isinstance(data, (bytes, bytearray, memoryview)):
            await self._send_message(0x82, bytes(data))
        else:
            raise TypeError(f"send() takes str or bytes, not {type(data).__name__}")

    async def send_text(self, text: str) -> None:
        await self._send_message(0x81, text)

    async def send_bytes(self, data: bytes) -> None:
        await self._send_message(0x82, bytes(data))

    async def _send_message(self, opcode: int, data: str | bytes) -> None:
        if not self._plain_frames:  # an extension (permessage-deflate) shapes the frames: wsproto
            await self._send(TextMessage(data=data) if isinstance(data, str) else BytesMessage(data=data))
            return
        if self._finished or self._connection.state is not ConnectionState.OPEN:
            raise self._ended() if self._finished else WebSocketClosedException(self.close_code, self.close_reason)
        frame = _client_frame(opcode, data.encode("utf-8") if isinstance(data, str) else data)
        if not self._write_lock.locked() and self._stream.try_write(frame):
            return  # nothing in flight, no backpressure: the transport took it
        async with self._write_lock:
            if self._connection.state is not ConnectionState.OPEN:
                raise WebSocketClosedException(self.close_code, self.close_reason)
            try:
                # Cancelling this is safe: a stream never cuts a frame it took (it finishes sending
                # it before anything later, or never began it), so the next send still frames right.
                await self._stream.write(frame)
            except OSError as exc:
                raise self._write_failed(exc) from exc

    async def send_serialized(self, value: object) -> None:
        """Send `value` through the plugin's `content_converter`."""
        await self.send(self._converter().serialize(value))

    async def ping(self, payload: bytes | None = None) -> None:
        """Send a ping and wait for its pong."""
        payload = os.urandom(4) if payload is None else payload
        waiter = asyncio.get_running_loop().create_future()
        self._pongs[payload] = waiter
        try:
            await self._send(Ping(payload=payload))
            await waiter
        finally:
            self._pongs.pop(payload, None)

    async def _send(self, event: Any) -> None:
        if self._finished or self._connection.state is not ConnectionState.OPEN:
            raise self._ended() if self._finished else WebSocketClosedException(self.close_code, self.close_reason)
        async with self._write_lock:
            if self._connection.state is not ConnectionState.OPEN:
                raise WebSocketClosedException(self.close_code, self.close_reason)
            data = self._connection.send(event)
            try:
                await self._stream.write(data)
            except OSError as exc:
                raise self._write_failed(exc) from exc

    def _write_failed(self, exc: OSError) -> BaseException:
        """A write failed: the connection can carry no more frames (a frame may have been cut short).
        The session fails and the connection is dropped now, so every later send raises the same
        `WebSocketConnectionLostException` and `close()` does not wait for a peer it cannot tell."""
        self._finish(WebSocketConnectionLostException(1006, None, f"the connection dropped: {exc}"), 1006)
        self._stream.abort()
        return self._ended()

    def _converter(self) -> Any:
        converter = self._settings.content_converter
        if converter is None:
            raise WebSocketException("no content_converter: config.install(WebSockets, content_converter=...)")
        return converter

    # -- closing ----------------------------------------------------------------------------------
    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the closing handshake, wait for the peer's close (bounded) and close the connection.
        Wakes every pending `receive()`. Safe to call more than once."""
        try:
            if not self._finished and self._connection.state is ConnectionState.OPEN:
                if self.close_code is None:
                    self.close_code, self.close_reason = code, reason
                self._stop_delivering()  # pending receive() calls end now, not when the peer answers
                # Bounded: a peer that stopped reading must not hold close() behind a full buffer.
                with contextlib.suppress(OSError, asyncio.TimeoutError):
                    await asyncio.wait_for(self._send_close(code, reason), CLOSE_TIMEOUT)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._done.wait()), CLOSE_TIMEOUT)
        finally:
            self._abort()
        if self._closed_report is not None:  # WebSocketClosed handlers have run when close() returns
            await asyncio.shield(self._closed_report)

    async def _go_away(self) -> None:
        """The client closes: close with 1001 "going away" (bounded as `close()`, then dropped);
        messages not yet received are discarded and every later call raises."""
        self._incoming.clear()
        await self.close(1001, "going away")

    async def _send_close(self, code: int, reason: str) -> None:
        async with self._write_lock:
            if self._connection.state is ConnectionState.OPEN:
                await self._stream.write(self._connection.send(CloseConnection(code=code, reason=reason)))

    def _stop_delivering(self) -> None:
        self._finished = True
        self._readable.set()
        self._space.set()

    def _abort(self) -> None:
        """Drop the connection now and end everything (also on cancellation)."""
        if not self._done.is_set():
            self._finish(None, self.close_code if self.close_code is not None else 1006)
            self._done.set()
        self._stream.abort()
        self._reader.cancel()
        if self._pinger is not None:
            self._pinger.cancel()
        self._report_closed()

    def _report_closed(self) -> None:
        """Emit `WebSocketClosed` once, when the session has ended (whoever ended it)."""
        monitor = self._monitor
        if monitor is None or self._closed_report is not None or WebSocketClosed not in monitor.subscribers:
            return
        code = self.close_code if self.close_code is not None else 1006
        self._closed_report = asyncio.ensure_future(
            monitor.emit_new(WebSocketClosed, self.response.request, code, self.close_reason or "", self._failure)
        )

    def _finish(self, failure: BaseException | None, code: int | None, reason: str | None = None) -> None:
        if failure is not None and self._failure is None and not self._done.is_set():
            self._failure = failure
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
        self._stop_delivering()
        error = self._ended()
        for waiter in self._pongs.values():
            if not waiter.done():
                waiter.set_exception(error)
        self._pongs.clear()

    async def __aenter__(self) -> WebSocketSession:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None and issubclass(exc_type, asyncio.CancelledError):
            self._abort()  # cancelled: no waiting for the peer, but nothing is left open
            return
        await self.close()

    # -- the reader -------------------------------------------------------------------------------
    async def _read_loop(self) -> None:
        try:
            await self._read_frames()
            # Closed (by either side) or failed: wait for the server to close TCP first (RFC 6455
            # 7.1.1), bounded, reading and ignoring what still arrives.
            with contextlib.suppress(asyncio.TimeoutError, OSError):
                await asyncio.wait_for(self._drain(), CLOSE_TIMEOUT)
        except OSError as exc:
            self._finish(WebSocketConnectionLostException(1006, None, f"the connection dropped: {exc}"), 1006)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # a bug must not leave receivers hanging
            self._finish(exc, 1011)
            raise
        finally:
            if not self._done.is_set():
                self._finish(None, 1006)
                self._done.set()
            self._stream.abort()
            if self._pinger is not None:
                self._pinger.cancel()
            self._report_closed()

    async def _drain(self) -> None:
        while await self._stream.read(READ_SIZE):
            pass

    async def _read_frames(self) -> None:
        connection = self._connection
        settings = self._settings
        parts: list[Any] = []
        size = 0
        proto = connection._proto  # wsproto's internals, read only to know it holds nothing
        decoder, joiner = proto._frame_decoder, proto._message_decoder
        pending = b""  # the start of a small frame the fast path waits to see whole
        while True:
            data = await self._stream.read(READ_SIZE)
            if pending:
                if data:
                    data = pending + data
                else:
                    connection.receive_data(pending)  # the stream ended inside it: wsproto reports it
                pending = b""
            if (
                data
                and not parts
                and not self._finished
                and connection.state is ConnectionState.OPEN
                and decoder.header is None
                and not decoder.buffer.buffer
                and joiner.opcode is None
            ):
                data, stop = self._fast_messages(data)
                while stop == _QUEUE_FULL and not self._finished:
                    await self._wait_for_space()
                    data, stop = self._fast_messages(data)
                if stop == _INCOMPLETE:
                    pending, data = data, b""
                if not data or self._finished:
                    continue
            connection.receive_data(data or None)
            for event in connection.events():
                if isinstance(event, (TextMessage, BytesMessage)):
                    chunk = event.data
                    size += len(chunk.encode("utf-8", "surrogatepass")) if isinstance(chunk, str) else len(chunk)
                    if size > settings.max_message_size:
                        await self._fail(FrameTooBigException("max_message_size", settings.max_message_size, size))
                        return
                    parts.append(chunk)
                    if event.message_finished:
                        if isinstance(event, TextMessage):
                            message = WebSocketMessage(MessageType.TEXT, "".join(parts))
                        else:
                            message = WebSocketMessage(MessageType.BINARY, b"".join(parts))
                        parts, size = [], 0
                        await self._deliver(message)
                elif isinstance(event, Ping):
                    if connection.state is ConnectionState.OPEN:
                        await self._write(connection.send(event.response()))
                elif isinstance(event, Pong):
                    waiter = self._pongs.pop(bytes(event.payload), None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(None)
                elif isinstance(event, CloseConnection):
                    await self._closed_by(event)
                    return

    def _fast_messages(self, data: bytes) -> tuple[bytes, int]:
        """Deliver the whole, unfragmented, uncompressed text/binary frames at the start of `data`
        without wsproto (its per-frame cost dominates small messages); return the rest and why it
        stopped: `_INCOMPLETE` (the start of a small frame, up to 64 KiB, to wait for), `_QUEUE_FULL`
        (wait for the reader), else `_OTHER`: control frames, fragments, RSV bits, a big frame still
        arriving, a length not in its shortest form, invalid UTF-8, a frame over a limit -- wsproto
        takes those and decides (and reports) exactly as without the fast path."""
        settings = self._settings
        limit = min(settings.max_frame_size, settings.max_message_size)
        incoming = self._incoming
        end = len(data)
        offset = 0
        stop_reason = _OTHER
        while True:
            if len(incoming) >= INCOMING_QUEUE:
                stop_reason = _QUEUE_FULL
                break
            if end - offset < 2:
                stop_reason = _INCOMPLETE if offset < end else _OTHER
                break
            first, second = data[offset], data[offset + 1]
            if (first != 0x81 and first != 0x82) or second & 0x80:
                break
            length = second
            start = offset + 2
            if length == 126:
                if end - start < 2:
                    stop_reason = _INCOMPLETE
                    break
                length = int.from_bytes(data[start : start + 2], "big")
                if length < 126:
                    break
                start += 2
            elif length == 127:
                if end - start < 8:
                    stop_reason = _INCOMPLETE
                    break
                length = int.from_bytes(data[start : start + 8], "big")
                if length < 65536:
                    break
                start += 8
            stop = start + length
            if length > limit:
                break
            if stop > end:
                if length <= _FAST_FRAME_WAIT:
                    stop_reason = _INCOMPLETE
                break
            payload = data[start:stop]
            if first == 0x81:
                try:
                    message = WebSocketMessage(MessageType.TEXT, payload.decode("utf-8"))
                except UnicodeDecodeError:
                    break
            else:
                message = WebSocketMessage(MessageType.BINARY, payload)
            incoming.append(message)
            offset = stop
        if offset:
            self._readable.set()
        return (data[offset:] if offset else data), stop_reason

    async def _wait_for_space(self) -> None:
        while len(self._incoming) >= INCOMING_QUEUE and not self._finished:
            self._space.clear()
            await self._space.wait()

    async def _closed_by(self, event: CloseConnection) -> None:
        connection = self._connection
        code = int(event.code)
        if code == CloseReason.ABNORMAL_CLOSURE:  # end of stream without a close frame
            if not (self._finished and self._failure is None):
                lost = WebSocketConnectionLostException(1006, None, "the connection dropped without a close frame")
                self._finish(lost, 1006)
            return
        if connection.state is ConnectionState.OPEN:
            # wsproto reports a frame it could not parse as a close it wants sent, state unchanged.
            limit = self._limit
            if limit.exceeded is not None:
                await self._fail(FrameTooBigException("max_frame_size", limit.max_frame_size, limit.exceeded))
            else:
                await self._fail(WebSocketProtocolException(f"the server broke the protocol: {event.reason}", code))
            return
        if connection.state is ConnectionState.REMOTE_CLOSING:
            # The server closes: echo its code (RFC 6455 5.5.1), then let it close TCP.
            with contextlib.suppress(OSError):
                await self._write(connection.send(event.response()))
        self.close_code, self.close_reason = code, event.reason or ""
        self._finish(None, code, event.reason or "")

    async def _fail(self, error: WebSocketProtocolException) -> None:
        """Fail the connection: tell the peer why (1002, 1007, 1009, ...) and stop delivering."""
        code = error.close_code or 1002
        self._finish(error, code, str(error)[:120])
        if self._connection.state is ConnectionState.OPEN:
            with contextlib.suppress(OSError):
                await self._write(self._connection.send(CloseConnection(code=code, reason=str(error)[:120])))

    async def _write(self, data: bytes) -> None:
        async with self._write_lock:
            await self._stream.write(data)

    async def _deliver(self, message: WebSocketMessage) -> None:
        while len(self._incoming) >= INCOMING_QUEUE and not self._finished:
            self._space.clear()
            await self._space.wait()
        if self._finished:
            return  # closed by us meanwhile: dropped, as Ktor drops frames after close
        self._incoming.append(message)
        self._readable.set()

    # -- liveness ---------------------------------------------------------------------------------
    async def _ping_loop(self, interval: float, timeout: float | None) -> None:
        while not self._finished:
            await asyncio.sleep(interval)
            if self._finished:
                return
            try:
                await asyncio.wait_for(self.ping(), timeout if timeout is not None else interval)
            except asyncio.TimeoutError:
                limit = timeout if timeout is not None else interval
                self._finish(WebSocketPingTimeoutException(limit), 1011, "ping timeout")
                with contextlib.suppress(OSError, WebSocketException):
                    if self._connection.state is ConnectionState.OPEN:
                        await asyncio.wait_for(
                            self._write(self._connection.send(CloseConnection(code=1011, reason="ping timeout"))),
                            1.0,
                        )
                self._done.set()
                self._stream.abort()
                self._reader.cancel()
                return
            except WebSocketException:
                return


async def close_going_away(sessions: Iterable[WebSocketSession]) -> None:
    """Close `sessions` together (each as `WebSocketSession._go_away`): what `HttpClient.close()`
    does with the sessions it opened, as Ktor cancels them with the client."""
    closing = [session._go_away() for session in list(sessions)]
    if closing:
        await asyncio.gather(*closing, return_exceptions=True)
