"""tether.webrtc over aiortc (`aiortc.RTCPeerConnection`).

What aiortc does by default that tether changes, and why:
- aiortc does not trickle local candidates: they appear in the SDP once `setLocalDescription` returns.
  tether synthesises `ice_candidates` from those `a=candidate` lines, then ends the stream, so code
  written for trickling engines works unchanged. Remote trickling is aiortc's own.
- aiortc's channels emit only open/close/bufferedamountlow/message. tether synthesises `Closing` (from
  the channel's ready-state change, which aiortc makes without an event) and `Error` (the connection
  went to `failed`), and listens for messages from the moment a channel exists, since aiortc drops
  every listener at close.
- `RTCDataChannel.send()` queues without limit; tether's `send()` waits above the high-water mark on
  aiortc's `bufferedamountlow`, whose threshold tether sets to a quarter of that mark.
- An oversize message is a `ValueError` deep inside aiortc's SCTP; tether checks the remote peer's
  `a=max-message-size` first and raises `MessageTooLargeException` naming it.
- aiortc's parser and state checks raise `ValueError`, `AssertionError`, `InvalidStateError` and others
  for bad descriptions and candidates: they become `SdpException` and `IceException` in
  `_mapped_errors`, the one place this engine maps signalling errors (sending maps its three in
  `AiortcDataChannel._native_send`). Remote candidates are checked against RFC 8839's grammar first.
- A remote peer that vanishes (no DTLS close, no SCTP abort) ends, after ICE consent expires, in a
  connection aiortc reports as plain `closed`. tether reports `failed` and fails the channels (`Error`,
  then `WebRtcIOException` from `receive()`), telling it from a clean remote close by the SCTP
  association still being up when DTLS ends.
- aiortc has no RTCP-mux negotiation, no candidate pool and no ICE restart: those settings raise
  `UnsupportedCapabilityError` before a connection is made.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.exceptions import InvalidAccessError, InvalidStateError, OperationError
from aiortc.sdp import candidate_from_sdp

from tether.exceptions import UnsupportedCapabilityError
from tether.webrtc import (
    Binary,
    ConnectionState,
    DataChannelClosedException,
    DataChannelOptions,
    IceCandidate,
    IceConnectionState,
    IceException,
    IceGatheringState,
    RtcpMuxPolicy,
    SdpException,
    SessionDescription,
    SignalingState,
    Stats,
    Text,
    WebRtcConfig,
    WebRtcConnectionConfig,
    WebRtcDataChannel,
    WebRtcEngine,
    WebRtcEngineFactory,
    WebRtcException,
    WebRtcIOException,
    WebRtcPeerConnection,
)
from tether.webrtc.sdp import DEFAULT_REMOTE_MAX_MESSAGE_SIZE, candidate_value, candidates_in_sdp, check_candidate
from tether.webrtc.sdp import max_message_size as sdp_max_message_size

__all__ = ["Aiortc", "AiortcConfig", "AiortcDataChannel", "AiortcEngine", "AiortcPeerConnection"]

_NAME = "Aiortc"


@contextlib.contextmanager
def _mapped_errors(kind: type[WebRtcException], what: str) -> Iterator[None]:
    """aiortc's exceptions -> tether's, for one signalling step (`kind` is SdpException or IceException)."""
    try:
        yield
    except WebRtcException:
        raise
    except (ValueError, AssertionError, IndexError, KeyError, TypeError, InvalidStateError, InvalidAccessError) as exc:
        raise kind(f"{what} failed: {exc or type(exc).__name__}") from exc
    except OperationError as exc:
        raise kind(f"{what} failed: {exc}") from exc


@dataclass
class AiortcConfig(WebRtcConfig):
    #: Escape hatch: change the `aiortc.RTCConfiguration` built for each connection.
    customize_configuration: Callable[[RTCConfiguration], None] | None = None


class AiortcDataChannel(WebRtcDataChannel):
    """A tether channel over one `aiortc.RTCDataChannel` (`native`)."""

    def __init__(self, native: RTCDataChannel, peer: AiortcPeerConnection, receive_capacity: int | None) -> None:
        super().__init__(
            label=native.label,
            ordered=native.ordered,
            max_retransmits=native.maxRetransmits,
            max_packet_life_time=None if native.maxPacketLifeTime is None else native.maxPacketLifeTime / 1000,
            protocol=native.protocol,
            negotiated=native.negotiated,
            receive_capacity=receive_capacity,
            send_buffer_high_water_mark=peer.config.send_buffer_high_water_mark,
            emit=peer._emit_channel_event,
        )
        self.native = native
        self._peer = peer
        native.bufferedAmountLowThreshold = peer.config.send_buffer_high_water_mark // 4
        native.on("message", self._on_native_message)
        native.on("open", self._on_open)
        native.on("close", self._on_native_close)
        native.on("bufferedamountlow", self._on_buffered_amount_low)
        # aiortc moves a channel to "closing" without an event; its ready-state setter is the only
        # place that sees the change (remote stream resets included).
        set_ready_state = native._setReadyState

        def observe_ready_state(state: str) -> None:
            set_ready_state(state)
            if state == "closing":
                self._on_closing()

        setattr(native, "_setReadyState", observe_ready_state)  # noqa: B010 - an instance attribute, on purpose
        if native.readyState == "open":
            self._on_open()

    def _on_native_message(self, data: str | bytes) -> None:
        self._deliver(Text(data) if isinstance(data, str) else Binary(data))

    def _on_native_close(self) -> None:
        self._on_closed()
        self._peer._forget_channel(self)

    @property
    def id(self) -> int | None:
        return self.native.id

    @property
    def buffered_amount(self) -> int:
        return self.native.bufferedAmount

    @property
    def buffered_amount_low_threshold(self) -> int:
        return self.native.bufferedAmountLowThreshold

    @buffered_amount_low_threshold.setter
    def buffered_amount_low_threshold(self, value: int) -> None:
        self.native.bufferedAmountLowThreshold = value

    @property
    def max_message_size(self) -> int:
        return self._peer._remote_max_message_size

    def _native_send(self, data: str | bytes) -> None:
        try:
            self.native.send(data)
        except InvalidStateError as exc:
            raise DataChannelClosedException(self.label, self.native.readyState) from exc
        except ValueError as exc:  # aiortc's own size check, should its limit ever differ from ours
            raise WebRtcIOException(f"Data channel {self.label!r}: send refused: {exc}") from exc
        except ConnectionError as exc:
            self._fail(f"send failed: {exc}")
            self.native.close()
            raise WebRtcIOException(f"Data channel {self.label!r}: send failed: {exc}") from exc

    def _native_close(self) -> None:
        self.native.close()


class AiortcPeerConnection(WebRtcPeerConnection):
    """A tether peer connection over one `aiortc.RTCPeerConnection` (`native`)."""

    engine_name = _NAME

    def __init__(self, config: WebRtcConnectionConfig, configuration: RTCConfiguration) -> None:
        super().__init__(config)
        self.native = RTCPeerConnection(configuration)
        self._remote_max_message_size = DEFAULT_REMOTE_MAX_MESSAGE_SIZE
        self._candidates_published = False
        self._watched_dtls = False
        self._self_close: asyncio.Future[None] | None = None
        native = self.native
        native.on("connectionstatechange", self._on_connection_state)
        native.on("iceconnectionstatechange", self._on_ice_connection_state)
        native.on("icegatheringstatechange", self._on_ice_gathering_state)
        native.on("signalingstatechange", self._on_signaling_state)
        native.on("datachannel", self._on_remote_channel)

    # --- aiortc's events ---------------------------------------------------------------------------

    def _on_connection_state(self) -> None:
        state = ConnectionState(self.native.connectionState)
        self.state._set(state)
        if state is ConnectionState.FAILED:
            self._fail_channels("the peer connection failed (ICE or DTLS)")
        elif state is ConnectionState.CLOSED and not self.closed:
            # aiortc closed itself (the remote peer left or vanished): finish tether's side too.
            self._self_close = asyncio.ensure_future(self.close())

    def _watch_transport(self) -> None:
        # aiortc never reports `failed` for a peer that vanishes after connecting: ICE consent expiry
        # closes DTLS, and the connection goes straight to `closed`. A DTLS transport that ends under
        # a live SCTP association is that case (a remote that closes cleanly ends SCTP first).
        sctp = self.native.sctp
        if sctp is None or self._watched_dtls:
            return
        self._watched_dtls = True
        dtls = sctp.transport

        def on_dtls_state() -> None:
            if dtls.state in ("closed", "failed") and not self.closed and sctp.state == "connected":
                self.state._set(ConnectionState.FAILED)
                self._fail_channels("the transport was lost (ICE consent expired or DTLS failed)")

        dtls.on("statechange", on_dtls_state)

    def _on_ice_connection_state(self) -> None:
        self.ice_connection_state._set(IceConnectionState(self.native.iceConnectionState))

    def _on_ice_gathering_state(self) -> None:
        self.ice_gathering_state._set(IceGatheringState(self.native.iceGatheringState))

    def _on_signaling_state(self) -> None:
        self.signaling_state._set(SignalingState(self.native.signalingState))

    def _on_remote_channel(self, native: RTCDataChannel) -> None:
        # Runs synchronously inside aiortc's handling of the channel's announcement, before any of
        # its messages, so listening here loses nothing.
        self._track_channel(AiortcDataChannel(native, self, receive_capacity=None))

    # --- signalling --------------------------------------------------------------------------------

    @property
    def local_description(self) -> SessionDescription | None:
        description = self.native.localDescription
        return None if description is None else SessionDescription.from_json(vars(description))

    @property
    def remote_description(self) -> SessionDescription | None:
        description = self.native.remoteDescription
        return None if description is None else SessionDescription.from_json(vars(description))

    async def create_offer(self) -> SessionDescription:
        self._check_open()
        with _mapped_errors(SdpException, "create_offer"):
            offer = await self.native.createOffer()
        return SessionDescription.from_json(vars(offer))

    async def create_answer(self) -> SessionDescription:
        self._check_open()
        with _mapped_errors(SdpException, "create_answer"):
            answer = await self.native.createAnswer()
        return SessionDescription.from_json(vars(answer))

    async def set_local_description(self, description: SessionDescription) -> None:
        self._check_open()
        with _mapped_errors(SdpException, "set_local_description"):
            await self.native.setLocalDescription(RTCSessionDescription(description.sdp, description.type.value))
        self._watch_transport()
        if not self._candidates_published and self.native.iceGatheringState == "complete":
            # aiortc gathered every candidate inside setLocalDescription: publish them as a trickle.
            self._candidates_published = True
            for candidate in candidates_in_sdp(self.native.localDescription.sdp):
                self.ice_candidates._emit(candidate)
            self.ice_candidates._finish()

    async def set_remote_description(self, description: SessionDescription) -> None:
        self._check_open()
        with _mapped_errors(SdpException, "set_remote_description"):
            if not description.sdp.lstrip().startswith("v=0"):
                raise SdpException("set_remote_description failed: an SDP description starts with 'v=0'")
            await self.native.setRemoteDescription(RTCSessionDescription(description.sdp, description.type.value))
        self._remote_max_message_size = sdp_max_message_size(description.sdp)
        self._watch_transport()

    async def add_ice_candidate(self, candidate: IceCandidate | None) -> None:
        self._check_open()
        if candidate is not None and not candidate_value(candidate.candidate):
            candidate = None  # an empty candidate is how browsers signal end-of-candidates
        if self.native.remoteDescription is None:
            raise IceException("add_ice_candidate needs the remote description first")
        if candidate is None:
            with _mapped_errors(IceException, "add_ice_candidate(end-of-candidates)"):
                await self.native.addIceCandidate(None)
            return
        check_candidate(candidate)
        mids, count = self._remote_sections()
        if candidate.sdp_mid is not None and candidate.sdp_mid not in mids:
            raise IceException(f"ICE candidate for sdp_mid {candidate.sdp_mid!r}: no such media section")
        if candidate.sdp_mid is None and not 0 <= (candidate.sdp_mline_index or 0) < count:
            raise IceException(f"ICE candidate for sdp_mline_index {candidate.sdp_mline_index}: no such media section")
        with _mapped_errors(IceException, "add_ice_candidate"):
            native = candidate_from_sdp(candidate_value(candidate.candidate))
            native.sdpMid = candidate.sdp_mid
            native.sdpMLineIndex = candidate.sdp_mline_index
            await self.native.addIceCandidate(native)

    def _remote_sections(self) -> tuple[set[str], int]:
        """The `a=mid` values of the remote description and its number of media sections."""
        lines = self.native.remoteDescription.sdp.splitlines()
        mids = {line[len("a=mid:") :].strip() for line in lines if line.startswith("a=mid:")}
        return mids, sum(1 for line in lines if line.startswith("m="))

    # --- channels, statistics, close ---------------------------------------------------------------

    async def _create_data_channel(self, options: DataChannelOptions) -> WebRtcDataChannel:
        life_time_ms = None if options.max_packet_life_time is None else round(options.max_packet_life_time * 1000)
        native = self.native.createDataChannel(
            options.label,
            maxPacketLifeTime=life_time_ms,
            maxRetransmits=options.max_retransmits,
            ordered=options.ordered,
            protocol=options.protocol,
            negotiated=options.negotiated,
            id=options.id,
        )
        channel = AiortcDataChannel(native, self, options.receive_capacity)
        self._track_channel(channel)
        return channel

    async def get_statistics(self) -> list[Stats]:
        # aiortc's getStats() covers RTP only; the DTLS transport's own report adds the `transport`
        # entry a data-channel connection has, and tether counts the channels' messages itself.
        entries = list((await self.native.getStats()).values())
        sctp = self.native.sctp
        transport_stats = getattr(sctp.transport, "_get_stats", None) if sctp is not None else None
        if transport_stats is not None:
            entries.extend(transport_stats().values())
        stats = []
        for entry in entries:
            props = {k: v for k, v in dataclasses.asdict(entry).items() if k not in ("id", "type", "timestamp")}
            stats.append(Stats(entry.id, entry.type, entry.timestamp.timestamp(), props))
        return stats + self._data_channel_stats(time.time())

    async def _close_native(self) -> None:
        await self.native.close()


class AiortcEngine(WebRtcEngine):
    name = _NAME

    def __init__(self, config: AiortcConfig) -> None:
        super().__init__(config)
        self.config: AiortcConfig = config

    async def _create_peer_connection(self, config: WebRtcConnectionConfig) -> WebRtcPeerConnection:
        if config.rtcp_mux_policy is not RtcpMuxPolicy.REQUIRE:
            raise UnsupportedCapabilityError(self.name, "rtcp_mux_policy=NEGOTIATE", "aiortc always multiplexes RTCP")
        if config.ice_candidate_pool_size != 0:
            raise UnsupportedCapabilityError(
                self.name, "ice_candidate_pool_size > 0", "aiortc gathers only in set_local_description"
            )
        configuration = RTCConfiguration(
            iceServers=[
                RTCIceServer(urls=server.url_list, username=server.username, credential=server.credential)
                for server in config.ice_servers
            ],
            iceTransportPolicy=RTCIceTransportPolicy(config.ice_transport_policy.value),
            bundlePolicy=RTCBundlePolicy(config.bundle_policy.value),
        )
        if self.config.customize_configuration is not None:
            self.config.customize_configuration(configuration)
        return AiortcPeerConnection(config, configuration)


Aiortc: WebRtcEngineFactory[AiortcConfig, AiortcEngine] = WebRtcEngineFactory(_NAME, AiortcEngine, AiortcConfig)
