"""`WebRtcDataChannel`: the engine-independent half of a data channel.

An engine subclass supplies five primitives (`_native_send`, `_native_close`, `buffered_amount`, the
low-water mark, `max_message_size`) and reports what its library tells it through `_on_open`,
`_on_closing`, `_on_closed`, `_on_buffered_amount_low`, `_fail` and `_deliver`. Everything a user
sees is decided here, once for every engine:

- Received messages are queued from the moment the channel exists, so nothing is lost between the
  remote peer's first message and the first `receive()`; after close the queue still drains.
- `send()` never grows memory without bound: above the high-water mark it waits until the engine
  reports the buffered amount fell to the low-water mark (`buffered_amount_low_threshold`).
- Oversize messages raise `MessageTooLargeException` naming the remote peer's limit, before queueing.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncIterator, Callable

from tether.webrtc.events import BufferedAmountLow, Closed, Closing, DataChannelEvent, Error, Open
from tether.webrtc.exceptions import (
    DataChannelClosedException,
    MessageTooLargeException,
    WebRtcException,
    WebRtcIOException,
)
from tether.webrtc.values import Binary, DataChannelState, Message, Text

__all__ = ["UnexpectedMessageTypeException", "WebRtcDataChannel"]


class UnexpectedMessageTypeException(WebRtcException, TypeError):
    """`receive_text()` found a binary message, or `receive_binary()` a text one. The message stays
    queued (Ktor's `receiveText()` drops it; nothing is lost here): `receive()` takes either kind."""


class WebRtcDataChannel(ABC):
    """A data channel. Create one with `await peer.create_data_channel(label)`; channels the remote
    peer opens arrive as `Open` events on `peer.data_channel_events`.

        await channel.send("hello")
        message = await channel.receive()      # Text or Binary
        async for message in channel: ...      # ends when the channel closes
    """

    def __init__(
        self,
        *,
        label: str,
        ordered: bool = True,
        max_retransmits: int | None = None,
        max_packet_life_time: float | None = None,
        protocol: str = "",
        negotiated: bool = False,
        receive_capacity: int | None = None,
        send_buffer_high_water_mark: int,
        emit: Callable[[DataChannelEvent], None],
    ) -> None:
        if receive_capacity is not None and receive_capacity <= 0:
            raise ValueError(f"receive_capacity must be > 0 or None (unbounded), got {receive_capacity}")
        self.label = label
        self.ordered = ordered
        self.max_retransmits = max_retransmits
        self.max_packet_life_time = max_packet_life_time
        self.protocol = protocol
        self.negotiated = negotiated
        self.receive_capacity = receive_capacity
        self.send_buffer_high_water_mark = send_buffer_high_water_mark
        self._emit = emit
        self._state = DataChannelState.CONNECTING
        self._failure: str | None = None
        self._messages: deque[Message] = deque()
        self._receivers: deque[asyncio.Future[None]] = deque()
        # Set when the buffered amount fell to the low-water mark or the channel ended.
        self._drained = asyncio.Event()
        self._opened = asyncio.Event()
        self._ended = asyncio.Event()
        # W3C RTCDataChannelStats counters, counted here since not every library keeps them.
        self.messages_sent = self.bytes_sent = self.messages_received = self.bytes_received = 0

    # --- what the engine supplies ------------------------------------------------------------------

    @property
    @abstractmethod
    def id(self) -> int | None:
        """The SCTP stream id; None until the engine has assigned one."""

    @property
    @abstractmethod
    def buffered_amount(self) -> int:
        """Bytes accepted by `send()` that the transport has not handed to the network yet."""

    @property
    @abstractmethod
    def buffered_amount_low_threshold(self) -> int:
        """The low-water mark: `BufferedAmountLow` fires, and a waiting `send()` resumes, when the
        buffered amount falls to it."""

    @buffered_amount_low_threshold.setter
    @abstractmethod
    def buffered_amount_low_threshold(self, value: int) -> None: ...

    @property
    @abstractmethod
    def max_message_size(self) -> int:
        """The largest message the remote peer accepts, in bytes; 0 means no limit."""

    @abstractmethod
    def _native_send(self, data: str | bytes) -> None: ...

    @abstractmethod
    def _native_close(self) -> None: ...

    # --- state -------------------------------------------------------------------------------------

    @property
    def state(self) -> DataChannelState:
        return self._state

    async def wait_open(self) -> None:
        """Return once the channel is open; raise if it ends first."""
        if self._state is DataChannelState.CONNECTING:
            waiters = [asyncio.ensure_future(self._opened.wait()), asyncio.ensure_future(self._ended.wait())]
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()
        if self._state is not DataChannelState.OPEN:
            raise self._end_error()

    async def wait_closed(self) -> None:
        """Return once the channel is closed (either side closed it, or the transport failed)."""
        await self._ended.wait()

    # --- sending -----------------------------------------------------------------------------------

    async def send(self, data: str | bytes) -> None:
        """Send a text (`str`) or binary (`bytes`) message. Waits while the channel is still connecting,
        and while more than `send_buffer_high_water_mark` bytes are queued. Raises
        `DataChannelClosedException` once the channel is closing or closed, `WebRtcIOException` after
        a transport failure, `MessageTooLargeException` above the remote peer's limit."""
        if isinstance(data, str):
            size = len(data) if data.isascii() else len(data.encode("utf-8"))
        elif isinstance(data, (bytes, bytearray, memoryview)):
            data = bytes(data) if not isinstance(data, bytes) else data
            size = len(data)
        else:
            raise TypeError(f"send() takes str or bytes, not {type(data).__name__}")
        limit = self.max_message_size
        if limit and size > limit:
            raise MessageTooLargeException(size, limit)
        if self._state is not DataChannelState.OPEN:
            await self.wait_open()
        if self.buffered_amount > self.send_buffer_high_water_mark:
            await self._wait_drained()
        self._native_send(data)
        self.messages_sent += 1
        self.bytes_sent += size

    async def _wait_drained(self) -> None:
        # The engine's low-water event only fires on a crossing, so the level is checked before each wait.
        while self._state is DataChannelState.OPEN and self.buffered_amount > self.buffered_amount_low_threshold:
            self._drained.clear()
            await self._drained.wait()
        if self._state is not DataChannelState.OPEN:
            raise self._end_error()

    # --- receiving ---------------------------------------------------------------------------------

    async def receive(self) -> Message:
        """The next message. After the channel closed, queued messages are still returned; then
        `DataChannelClosedException` (or `WebRtcIOException` if the transport failed) is raised."""
        await self._wait_for_message()
        return self._messages.popleft()

    async def _wait_for_message(self) -> None:
        """Until a message is queued (it stays queued), or the end error when none will come."""
        while not self._messages:
            if self._ended.is_set():
                raise self._end_error()
            waiter = asyncio.get_running_loop().create_future()
            self._receivers.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter in self._receivers:
                    self._receivers.remove(waiter)
                elif self._messages:
                    self._wake_receivers(all_of_them=False)  # pass on the wake-up this receiver got
                raise

    async def receive_text(self) -> str:
        """The next message, which must be text; a binary one stays queued and raises
        `UnexpectedMessageTypeException` (take it with `receive()` or `receive_binary()`)."""
        await self._wait_for_message()
        message = self._messages[0]
        if not isinstance(message, Text):
            raise UnexpectedMessageTypeException(
                f"Expected a text message, got binary ({len(message.data)} bytes); it stays queued for "
                "receive() or receive_binary()"
            )
        return self._messages.popleft().data  # type: ignore[return-value]

    async def receive_binary(self) -> bytes:
        """The next message, which must be binary; a text one stays queued and raises
        `UnexpectedMessageTypeException` (take it with `receive()` or `receive_text()`)."""
        await self._wait_for_message()
        message = self._messages[0]
        if not isinstance(message, Binary):
            raise UnexpectedMessageTypeException(
                f"Expected a binary message, got text ({len(message.data)} chars); it stays queued for "
                "receive() or receive_text()"
            )
        return self._messages.popleft().data  # type: ignore[return-value]

    def try_receive(self) -> Message | None:
        """The next queued message, or None when none is queued. Never waits."""
        return self._messages.popleft() if self._messages else None

    def try_receive_text(self) -> str | None:
        """The next message if it is text. A binary message stays queued (unlike Ktor, which drops it)."""
        if self._messages and isinstance(self._messages[0], Text):
            return self._messages.popleft().data  # type: ignore[return-value]
        return None

    def try_receive_binary(self) -> bytes | None:
        """The next message if it is binary. A text message stays queued (unlike Ktor, which drops it)."""
        if self._messages and isinstance(self._messages[0], Binary):
            return self._messages.popleft().data  # type: ignore[return-value]
        return None

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Message]:
        while True:
            try:
                yield await self.receive()
            except DataChannelClosedException:
                return

    @property
    def queued_messages(self) -> int:
        """Messages received and not yet read."""
        return len(self._messages)

    # --- closing -----------------------------------------------------------------------------------

    def close(self) -> None:
        """Start closing the channel (idempotent). `Closing` follows at once and `Closed` once the
        remote peer confirmed; queued incoming messages stay readable."""
        if self._state in (DataChannelState.CLOSING, DataChannelState.CLOSED):
            return
        self._native_close()
        self._on_closing()

    # --- called by the engine ----------------------------------------------------------------------

    def _on_open(self) -> None:
        if self._state is DataChannelState.CONNECTING:
            self._state = DataChannelState.OPEN
            self._opened.set()
            self._emit(Open(self))

    def _on_closing(self) -> None:
        if self._state in (DataChannelState.CONNECTING, DataChannelState.OPEN):
            self._state = DataChannelState.CLOSING
            self._drained.set()
            self._emit(Closing(self))

    def _on_closed(self) -> None:
        if self._state is DataChannelState.CLOSED:
            return
        self._on_closing()
        self._state = DataChannelState.CLOSED
        self._drained.set()
        self._ended.set()
        self._wake_receivers(all_of_them=True)
        self._emit(Closed(self))

    def _on_buffered_amount_low(self) -> None:
        self._drained.set()
        self._emit(BufferedAmountLow(self))

    def _fail(self, reason: str) -> None:
        """The transport failed: `Error`, then `Closing`/`Closed`; pending and later receives raise
        `WebRtcIOException` once the queue is drained."""
        if self._state is DataChannelState.CLOSED or self._failure is not None:
            return
        self._failure = reason
        self._emit(Error(self, reason))
        self._on_closed()

    def _deliver(self, message: Message) -> None:
        if self._ended.is_set():
            return
        if self.receive_capacity is not None and len(self._messages) >= self.receive_capacity:
            self._fail(f"receive buffer overflow: more than {self.receive_capacity} unread messages")
            self._native_close()
            return
        self._messages.append(message)
        self.messages_received += 1
        self.bytes_received += len(message.data)
        self._wake_receivers(all_of_them=False)

    def _wake_receivers(self, *, all_of_them: bool) -> None:
        while self._receivers:
            waiter = self._receivers.popleft()
            if not waiter.done():
                waiter.set_result(None)
                if not all_of_them:
                    return

    def _end_error(self) -> WebRtcException:
        if self._failure is not None:
            return WebRtcIOException(f"Data channel {self.label!r} failed: {self._failure}")
        if self._state is DataChannelState.CONNECTING:
            return DataChannelClosedException(self.label, "closed", "it never opened")
        return DataChannelClosedException(self.label, self._state.value)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.label!r} id={self.id} {self._state.value}>"
