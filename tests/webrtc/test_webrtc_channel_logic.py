"""The engine-independent channel logic (`WebRtcDataChannel`), driven by a minimal in-memory engine
channel: backpressure, wake-ups and endings, step by step on the event loop (no network, no timing)."""

from __future__ import annotations

import asyncio

import pytest

from tether.webrtc import (
    Binary,
    DataChannelClosedException,
    DataChannelEvent,
    MessageTooLargeException,
    Text,
    WebRtcDataChannel,
    WebRtcIOException,
)


class MemoryChannel(WebRtcDataChannel):
    """Queues what is sent; `drain(n)` plays the transport taking n bytes off the queue."""

    def __init__(self, high_water: int = 100, low_water: int = 25) -> None:
        self.events: list[DataChannelEvent] = []
        super().__init__(label="memory", send_buffer_high_water_mark=high_water, emit=self.events.append)
        self.sent: list[str | bytes] = []
        self.queued = 0
        self.low_water = low_water

    @property
    def id(self) -> int | None:
        return 1

    @property
    def buffered_amount(self) -> int:
        return self.queued

    @property
    def buffered_amount_low_threshold(self) -> int:
        return self.low_water

    @buffered_amount_low_threshold.setter
    def buffered_amount_low_threshold(self, value: int) -> None:
        self.low_water = value

    @property
    def max_message_size(self) -> int:
        return 1000

    def _native_send(self, data: str | bytes) -> None:
        self.sent.append(data)
        self.queued += len(data)

    def _native_close(self) -> None:
        pass

    def drain(self, amount: int) -> None:
        above = self.queued > self.low_water
        self.queued -= amount
        if above and self.queued <= self.low_water:
            self._on_buffered_amount_low()


async def steps(n: int = 5) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def test_send_waits_above_the_high_water_mark_until_the_low_water_mark() -> None:
    channel = MemoryChannel()
    channel._on_open()
    for _ in range(11):
        await channel.send(b"x" * 10)  # 110 queued: above the mark only after the last one
    blocked = asyncio.ensure_future(channel.send(b"y" * 10))
    await steps()
    assert not blocked.done() and len(channel.sent) == 11
    channel.drain(50)  # 60 queued: below the high-water mark but still above the low-water mark
    await steps()
    assert not blocked.done()
    channel.drain(40)  # 20 queued: the low-water mark is crossed
    await steps()
    assert blocked.done() and channel.sent[-1] == b"y" * 10
    assert [type(event).__name__ for event in channel.events] == ["Open", "BufferedAmountLow"]


@pytest.mark.parametrize("ending", ["close", "fail"])
async def test_a_waiting_send_raises_when_the_channel_ends(ending: str) -> None:
    channel = MemoryChannel()
    channel._on_open()
    await channel.send(b"x" * 101)
    blocked = asyncio.ensure_future(channel.send(b"y"))
    await steps()
    if ending == "close":
        channel.close()
        with pytest.raises(DataChannelClosedException, match="closing"):
            await blocked
    else:
        channel._fail("transport lost")
        with pytest.raises(WebRtcIOException, match="transport lost"):
            await blocked
    assert channel.sent == [b"x" * 101]


async def test_send_waits_for_a_connecting_channel_to_open_and_checks_the_size_first() -> None:
    channel = MemoryChannel()
    with pytest.raises(MessageTooLargeException):
        await channel.send("é" * 501)  # 1002 bytes in UTF-8, though 501 characters
    waiting = asyncio.ensure_future(channel.send("hello"))
    await steps()
    assert not waiting.done()
    channel._on_open()
    await steps()
    assert waiting.done() and channel.sent == ["hello"]


async def test_a_woken_receiver_that_is_cancelled_passes_the_message_on() -> None:
    channel = MemoryChannel()
    first = asyncio.ensure_future(channel.receive())
    second = asyncio.ensure_future(channel.receive())
    await steps()
    channel._deliver(Text("only one"))
    first.cancel()  # woken, but cancelled before it could take the message
    await steps()
    assert second.done() and second.result() == Text("only one")


async def test_receivers_get_queued_messages_then_the_ending() -> None:
    channel = MemoryChannel()
    channel._on_open()
    channel._deliver(Binary(b"1"))
    channel._deliver(Text("2"))
    waiting = asyncio.ensure_future(channel.receive())
    await steps()
    assert waiting.result() == Binary(b"1")
    channel._on_closed()
    channel._deliver(Text("after close"))  # ignored: nothing arrives after Closed
    assert [message async for message in channel] == [Text("2")]
    with pytest.raises(DataChannelClosedException, match="closed"):
        await channel.receive()
    assert [type(event).__name__ for event in channel.events] == ["Open", "Closing", "Closed"]
