"""`WebRtcPeerConnection`: the engine-independent half of a peer connection (Ktor's abstract class).

The engine subclass implements signalling and channel creation against its library and reports state
changes through `_set_*_state`; the streams, the data channel events, statistics polling and the order
of things at close are handled here.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from tether.exceptions import ClientClosedError, UnsupportedCapabilityError
from tether.webrtc.channel import WebRtcDataChannel
from tether.webrtc.config import WebRtcConnectionConfig
from tether.webrtc.events import DataChannelEvent
from tether.webrtc.streams import EventStream, StateStream
from tether.webrtc.values import (
    ConnectionState,
    DataChannelState,
    IceCandidate,
    IceConnectionState,
    IceGatheringState,
    SessionDescription,
    SignalingState,
    Stats,
)

__all__ = ["DataChannelOptions", "WebRtcPeerConnection"]


@dataclass(frozen=True)
class DataChannelOptions:
    """The options of `create_data_channel`, checked (W3C rules) before the engine sees them."""

    label: str
    ordered: bool = True
    max_retransmits: int | None = None
    max_packet_life_time: float | None = None  # seconds
    protocol: str = ""
    negotiated: bool = False
    id: int | None = None
    receive_capacity: int | None = None

    def validate(self) -> None:
        if self.max_retransmits is not None and self.max_packet_life_time is not None:
            raise ValueError("max_retransmits and max_packet_life_time cannot both be set")
        if self.max_retransmits is not None and not 0 <= self.max_retransmits <= 65535:
            raise ValueError(f"max_retransmits must be in 0..65535, got {self.max_retransmits}")
        if self.max_packet_life_time is not None and self.max_packet_life_time < 0:
            raise ValueError(f"max_packet_life_time must be >= 0 seconds, got {self.max_packet_life_time}")
        if self.id is not None and not 0 <= self.id <= 65534:
            raise ValueError(f"id must be in 0..65534, got {self.id}")
        if self.negotiated and self.id is None:
            raise ValueError("a negotiated channel needs an id agreed with the remote peer")
        if len(self.label.encode("utf-8")) > 65535 or len(self.protocol.encode("utf-8")) > 65535:
            raise ValueError("label and protocol must be at most 65535 bytes in UTF-8")
        if self.receive_capacity is not None and self.receive_capacity <= 0:
            raise ValueError(f"receive_capacity must be > 0 or None (unbounded), got {self.receive_capacity}")


class WebRtcPeerConnection(ABC):
    """One peer connection. Get it from `await client.create_peer_connection()`; use `async with` or
    `await peer.close()`.

    - `state`, `ice_connection_state`, `ice_gathering_state`, `signaling_state`: `StateStream`s (a
      current `.value`, async iteration over changes, `await s.wait_for(predicate)`).
    - `ice_candidates`: local candidates to signal to the remote peer; iteration ends once gathering is
      complete (signal end-of-candidates then).
    - `data_channel_events`: `Open`, `Closing`, `Closed`, `BufferedAmountLow`, `Error` for every channel,
      local or remote; iteration ends when the connection is closed.
    """

    #: The engine's name, for error messages.
    engine_name: str = "WebRtcEngine"

    def __init__(self, config: WebRtcConnectionConfig) -> None:
        self.config = config
        self.state: StateStream[ConnectionState] = StateStream(ConnectionState.NEW)
        self.ice_connection_state: StateStream[IceConnectionState] = StateStream(IceConnectionState.NEW)
        self.ice_gathering_state: StateStream[IceGatheringState] = StateStream(IceGatheringState.NEW)
        self.signaling_state: StateStream[SignalingState] = StateStream(SignalingState.STABLE)
        self.ice_candidates: EventStream[IceCandidate] = EventStream(config.ice_candidates_replay)
        self.data_channel_events: EventStream[DataChannelEvent] = EventStream(config.data_channel_events_replay)
        self.stats: StateStream[list[Stats]] = StateStream([])
        self._channels: list[WebRtcDataChannel] = []
        self._stats_task: asyncio.Task[None] | None = None
        self._closed = False
        self._on_close: list[Callable[[], None]] = []

    # --- signalling (engine) -----------------------------------------------------------------------

    @property
    @abstractmethod
    def local_description(self) -> SessionDescription | None: ...

    @property
    @abstractmethod
    def remote_description(self) -> SessionDescription | None: ...

    @abstractmethod
    async def create_offer(self) -> SessionDescription: ...

    @abstractmethod
    async def create_answer(self) -> SessionDescription: ...

    @abstractmethod
    async def set_local_description(self, description: SessionDescription) -> None: ...

    @abstractmethod
    async def set_remote_description(self, description: SessionDescription) -> None:
        """Raises `SdpException` for a description the engine refuses."""

    @abstractmethod
    async def add_ice_candidate(self, candidate: IceCandidate | None) -> None:
        """Add a remote candidate; `None` (or an empty `candidate`) signals end-of-candidates.
        Raises `IceException` for a candidate the engine refuses."""

    @abstractmethod
    async def get_statistics(self) -> list[Stats]: ...

    @abstractmethod
    async def _create_data_channel(self, options: DataChannelOptions) -> WebRtcDataChannel: ...

    @abstractmethod
    async def _close_native(self) -> None: ...

    # --- the rest ----------------------------------------------------------------------------------

    async def await_ice_gathering_complete(self) -> None:
        """Return once local ICE gathering is complete (the local description then holds every candidate)."""
        await self.ice_gathering_state.wait_for(lambda state: state is IceGatheringState.COMPLETE)

    async def create_data_channel(
        self,
        label: str,
        *,
        ordered: bool = True,
        max_retransmits: int | None = None,
        max_packet_life_time: float | None = None,
        protocol: str = "",
        negotiated: bool = False,
        id: int | None = None,
        receive_capacity: int | None = None,
    ) -> WebRtcDataChannel:
        """A new data channel. `max_packet_life_time` is in seconds; `negotiated=True` with an `id`
        makes a channel both peers create themselves (no in-band announcement); `receive_capacity`
        bounds the unread messages (None: unbounded, as in Ktor) - above it the channel fails with
        `Error` rather than grow memory or drop data silently."""
        self._check_open()
        options = DataChannelOptions(
            label, ordered, max_retransmits, max_packet_life_time, protocol, negotiated, id, receive_capacity
        )
        options.validate()
        return await self._create_data_channel(options)

    async def restart_ice(self) -> None:
        raise UnsupportedCapabilityError(self.engine_name, "restart_ice")

    def add_track(self, track: Any) -> Any:
        """Media is out of scope for tether's WebRTC client."""
        raise UnsupportedCapabilityError(self.engine_name, "media tracks", "tether.webrtc carries data channels only")

    @property
    def data_channels(self) -> list[WebRtcDataChannel]:
        """Every channel of this connection that is not closed yet."""
        return [channel for channel in self._channels if channel.state is not DataChannelState.CLOSED]

    @property
    def closed(self) -> bool:
        return self._closed

    async def close(self) -> None:
        """Close the connection (idempotent): channels get `Closing`/`Closed`, `state` ends at CLOSED
        and every stream's iteration ends."""
        if self._closed:
            return
        self._closed = True
        if self._stats_task is not None:
            self._stats_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._stats_task
        try:
            await self._close_native()
        finally:
            for channel in list(self._channels):
                channel._on_closed()
            self.signaling_state._set(SignalingState.CLOSED)
            self.ice_connection_state._set(IceConnectionState.CLOSED)
            self.state._set(ConnectionState.CLOSED)
            for stream in (self.state, self.ice_connection_state, self.ice_gathering_state, self.signaling_state):
                stream._finish()
            self.stats._finish()
            self.ice_candidates._finish()
            self.data_channel_events._finish()
            for callback in self._on_close:
                callback()

    async def __aenter__(self) -> WebRtcPeerConnection:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # --- for engines -------------------------------------------------------------------------------

    def _start(self) -> None:
        """Called by the engine once the connection exists."""
        if self.config.stats_refresh_rate is not None:
            self._stats_task = asyncio.ensure_future(self._poll_stats(self.config.stats_refresh_rate))

    async def _poll_stats(self, interval: float) -> None:
        while not self._closed:
            self.stats._set(await self.get_statistics())
            await asyncio.sleep(interval)

    def _data_channel_stats(self, timestamp: float) -> list[Stats]:
        """A W3C `data-channel` stats entry for every channel, from tether's own counters."""
        return [
            Stats(
                f"data-channel-{index}",
                "data-channel",
                timestamp,
                {
                    "label": channel.label,
                    "protocol": channel.protocol,
                    "dataChannelIdentifier": channel.id,
                    "state": channel.state.value,
                    "messagesSent": channel.messages_sent,
                    "bytesSent": channel.bytes_sent,
                    "messagesReceived": channel.messages_received,
                    "bytesReceived": channel.bytes_received,
                },
            )
            for index, channel in enumerate(self._channels)
        ]

    def _track_channel(self, channel: WebRtcDataChannel) -> None:
        self._channels.append(channel)

    def _forget_channel(self, channel: WebRtcDataChannel) -> None:
        with contextlib.suppress(ValueError):
            self._channels.remove(channel)

    def _emit_channel_event(self, event: DataChannelEvent) -> None:
        self.data_channel_events._emit(event)

    def _check_open(self) -> None:
        if self._closed:
            raise ClientClosedError("The peer connection is closed")

    def _fail_channels(self, reason: str) -> None:
        for channel in list(self._channels):
            channel._fail(reason)
