"""tether.webrtc (experimental): a WebRTC data-channel client shaped like Ktor's `WebRtcClient`.

    from tether.webrtc import WebRtcClient
    from tether_aiortc import Aiortc

    async with WebRtcClient(Aiortc) as client:
        peer = await client.create_peer_connection()
        channel = await peer.create_data_channel("chat")
        await peer.set_local_description(await peer.create_offer())
        # ... signal peer.local_description to the other peer, set its answer ...

Signalling is the application's: `SessionDescription` and `IceCandidate` are plain JSON-serialisable
values. Media is out of scope (`UnsupportedCapabilityError`). This package imports no WebRTC library;
engines (`tether_aiortc`) implement `WebRtcEngine`.
"""

from tether.webrtc.channel import UnexpectedMessageTypeException, WebRtcDataChannel
from tether.webrtc.client import WebRtcClient
from tether.webrtc.config import DEFAULT_SEND_BUFFER_HIGH_WATER_MARK, WebRtcConfig, WebRtcConnectionConfig
from tether.webrtc.engine import WebRtcEngine, WebRtcEngineFactory
from tether.webrtc.events import BufferedAmountLow, Closed, Closing, DataChannelEvent, Error, Open
from tether.webrtc.exceptions import (
    DataChannelClosedException,
    IceException,
    MessageTooLargeException,
    SdpException,
    WebRtcException,
    WebRtcIOException,
)
from tether.webrtc.peer import DataChannelOptions, WebRtcPeerConnection
from tether.webrtc.sdp import without_candidates
from tether.webrtc.streams import EventStream, StateStream
from tether.webrtc.values import (
    Binary,
    BundlePolicy,
    ConnectionState,
    DataChannelState,
    IceCandidate,
    IceConnectionState,
    IceGatheringState,
    IceServer,
    IceTransportPolicy,
    Message,
    RtcpMuxPolicy,
    SessionDescription,
    SessionDescriptionType,
    SignalingState,
    Stats,
    Text,
)

__all__ = [
    "DEFAULT_SEND_BUFFER_HIGH_WATER_MARK",
    "Binary",
    "BufferedAmountLow",
    "BundlePolicy",
    "Closed",
    "Closing",
    "ConnectionState",
    "DataChannelClosedException",
    "DataChannelEvent",
    "DataChannelOptions",
    "DataChannelState",
    "Error",
    "EventStream",
    "IceCandidate",
    "IceConnectionState",
    "IceException",
    "IceGatheringState",
    "IceServer",
    "IceTransportPolicy",
    "Message",
    "MessageTooLargeException",
    "Open",
    "RtcpMuxPolicy",
    "SdpException",
    "SessionDescription",
    "SessionDescriptionType",
    "SignalingState",
    "StateStream",
    "Stats",
    "Text",
    "UnexpectedMessageTypeException",
    "WebRtcClient",
    "WebRtcConfig",
    "WebRtcConnectionConfig",
    "WebRtcDataChannel",
    "WebRtcEngine",
    "WebRtcEngineFactory",
    "WebRtcException",
    "WebRtcIOException",
    "WebRtcPeerConnection",
    "without_candidates",
]
