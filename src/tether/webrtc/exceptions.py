"""The WebRTC exceptions. All derive from `WebRtcException`, itself a `TetherError`.

Each engine maps its library's failures onto these classes in one place, as the HTTP engines do.
A capability an engine lacks (ICE restart, media) raises `tether.exceptions.UnsupportedCapabilityError`.
"""

from __future__ import annotations

from tether.exceptions import TetherError

__all__ = [
    "DataChannelClosedException",
    "IceException",
    "MessageTooLargeException",
    "SdpException",
    "WebRtcException",
    "WebRtcIOException",
]


class WebRtcException(TetherError):
    """The root of the WebRTC failures."""


class DataChannelClosedException(WebRtcException):
    """The data channel is closing or closed: nothing can be sent, and nothing more arrives."""

    def __init__(self, label: str, state: str = "closed", detail: str = "") -> None:
        self.label = label
        self.state = state
        suffix = f": {detail}" if detail else ""
        super().__init__(f"Data channel {label!r} is {state}{suffix}")


class SdpException(WebRtcException, ValueError):
    """A session description was refused: malformed SDP, a wrong type, or the wrong signalling state."""


class IceException(WebRtcException, ValueError):
    """An ICE candidate was refused: malformed, for no known media section, or added too early."""


class WebRtcIOException(WebRtcException, OSError):
    """The transport under a data channel failed (the connection went to `failed`, a send failed).
    Messages that had arrived before the failure are still returned by `receive()`."""


class MessageTooLargeException(WebRtcException, ValueError):
    """A message is larger than what the remote peer accepts (its SDP's `a=max-message-size`; without
    that attribute RFC 8841 says 64 KiB). Raised before anything is queued."""

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"Message of {size} bytes exceeds the remote peer's maximum message size of {limit} bytes")
