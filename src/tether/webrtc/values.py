"""The plain values of the WebRTC API: descriptions, candidates, states, messages, statistics.

Signalling is the application's: `SessionDescription` and `IceCandidate` convert to and from the
JSON shapes browsers use (`RTCSessionDescriptionInit`, `RTCIceCandidateInit`), so any channel that
carries JSON (a WebSocket, HTTP, a file) can carry them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

from tether.webrtc.exceptions import IceException, SdpException

__all__ = [
    "Binary",
    "BundlePolicy",
    "ConnectionState",
    "DataChannelState",
    "IceCandidate",
    "IceConnectionState",
    "IceGatheringState",
    "IceServer",
    "IceTransportPolicy",
    "Message",
    "RtcpMuxPolicy",
    "SessionDescription",
    "SessionDescriptionType",
    "SignalingState",
    "Stats",
    "Text",
]


class SessionDescriptionType(str, enum.Enum):
    OFFER = "offer"
    ANSWER = "answer"
    PROVISIONAL_ANSWER = "pranswer"
    ROLLBACK = "rollback"


@dataclass(frozen=True)
class SessionDescription:
    """An SDP offer or answer. `to_json()` gives `{"type": "offer", "sdp": "v=0..."}`.

    >>> SessionDescription.from_json({"type": "answer", "sdp": "v=0"}).type
    <SessionDescriptionType.ANSWER: 'answer'>
    """

    type: SessionDescriptionType
    sdp: str

    def __post_init__(self) -> None:
        # Accept the plain string ("offer") as well as the enum member.
        try:
            kind = SessionDescriptionType(self.type)
        except ValueError:
            kinds = ", ".join(repr(member.value) for member in SessionDescriptionType)
            raise SdpException(f"Unknown session description type {self.type!r}: one of {kinds}") from None
        object.__setattr__(self, "type", kind)

    def to_json(self) -> dict[str, str]:
        return {"type": self.type.value, "sdp": self.sdp}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> SessionDescription:
        """From `{"type": "offer", "sdp": "v=0..."}` (a browser's `RTCSessionDescriptionInit`)."""
        if not isinstance(value, Mapping) or "type" not in value or "sdp" not in value:
            raise SdpException(f'A session description is {{"type": ..., "sdp": ...}}, got {_shape(value)}')
        return cls(value["type"], str(value["sdp"]))


@dataclass(frozen=True)
class IceCandidate:
    """One ICE candidate as signalled: the SDP attribute value (`candidate:1 1 udp ...`) and the media
    section it belongs to, by `a=mid` value or by index. `to_json()` gives the browser's shape.

    >>> IceCandidate("candidate:1 1 udp 1 127.0.0.1 5000 typ host", "0", 0).to_json()["sdpMid"]
    '0'
    """

    candidate: str
    sdp_mid: str | None = None
    sdp_mline_index: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"candidate": self.candidate, "sdpMid": self.sdp_mid, "sdpMLineIndex": self.sdp_mline_index}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> IceCandidate:
        """From `{"candidate": ..., "sdpMid": ..., "sdpMLineIndex": ...}` (`RTCIceCandidateInit`)."""
        if not isinstance(value, Mapping) or "candidate" not in value:
            raise IceException(f'An ICE candidate is {{"candidate": ..., "sdpMid": ...}}, got {_shape(value)}')
        index = value.get("sdpMLineIndex")
        mid = value.get("sdpMid")
        return cls(str(value["candidate"]), None if mid is None else str(mid), None if index is None else int(index))


def _shape(value: object) -> str:
    """What a signalling value looked like, for an error message (its keys, never its content)."""
    if isinstance(value, Mapping):
        return f"a mapping with keys {sorted(map(str, value))}"
    return type(value).__name__


@dataclass(frozen=True)
class IceServer:
    """A STUN server, or a TURN server when `username` and `credential` are given (Ktor has no
    separate TURN field either)."""

    urls: str | Sequence[str]
    username: str | None = None
    credential: str | None = None

    @property
    def url_list(self) -> list[str]:
        return [self.urls] if isinstance(self.urls, str) else list(self.urls)


class IceTransportPolicy(str, enum.Enum):
    ALL = "all"
    RELAY = "relay"


class BundlePolicy(str, enum.Enum):
    BALANCED = "balanced"
    MAX_BUNDLE = "max-bundle"
    MAX_COMPAT = "max-compat"


class RtcpMuxPolicy(str, enum.Enum):
    NEGOTIATE = "negotiate"
    REQUIRE = "require"


class ConnectionState(str, enum.Enum):
    NEW = "new"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    FAILED = "failed"
    CLOSED = "closed"


class IceConnectionState(str, enum.Enum):
    NEW = "new"
    CHECKING = "checking"
    CONNECTED = "connected"
    COMPLETED = "completed"
    FAILED = "failed"
    DISCONNECTED = "disconnected"
    CLOSED = "closed"

    def is_successful(self) -> bool:
        return self in (IceConnectionState.CONNECTED, IceConnectionState.COMPLETED)


class IceGatheringState(str, enum.Enum):
    NEW = "new"
    GATHERING = "gathering"
    COMPLETE = "complete"


class SignalingState(str, enum.Enum):
    STABLE = "stable"
    HAVE_LOCAL_OFFER = "have-local-offer"
    HAVE_REMOTE_OFFER = "have-remote-offer"
    HAVE_LOCAL_PROVISIONAL_ANSWER = "have-local-pranswer"
    HAVE_REMOTE_PROVISIONAL_ANSWER = "have-remote-pranswer"
    CLOSED = "closed"


class DataChannelState(str, enum.Enum):
    CONNECTING = "connecting"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"

    def can_send(self) -> bool:
        return self is DataChannelState.OPEN


@dataclass(frozen=True)
class Text:
    """A text message (sent with `send(str)`)."""

    data: str


@dataclass(frozen=True)
class Binary:
    """A binary message (sent with `send(bytes)`)."""

    data: bytes


#: What `WebRtcDataChannel.receive()` returns.
Message = Union[Text, Binary]


@dataclass(frozen=True)
class Stats:
    """One entry of a statistics report: `type` is the W3C stats type (`transport`, `data-channel`, ...)."""

    id: str
    type: str
    timestamp: float
    props: Mapping[str, Any] = field(default_factory=dict)
