"""Data channel events, as in Ktor: each carries the channel it is about.

async for event in peer.data_channel_events:
    if isinstance(event, Open) and event.channel.label == "chat":
        ...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tether.webrtc.channel import WebRtcDataChannel

__all__ = ["BufferedAmountLow", "Closed", "Closing", "DataChannelEvent", "Error", "Open"]


@dataclass(frozen=True, eq=False)
class DataChannelEvent:
    channel: WebRtcDataChannel


@dataclass(frozen=True, eq=False)
class Open(DataChannelEvent):
    """The channel can send; for a channel the remote peer created, this is how it arrives."""


@dataclass(frozen=True, eq=False)
class Closing(DataChannelEvent):
    """The channel stops sending; messages already received stay readable."""


@dataclass(frozen=True, eq=False)
class Closed(DataChannelEvent):
    """The channel is closed in both directions."""


@dataclass(frozen=True, eq=False)
class BufferedAmountLow(DataChannelEvent):
    """The bytes queued for sending fell to `buffered_amount_low_threshold`."""


@dataclass(frozen=True, eq=False)
class Error(DataChannelEvent):
    """The transport under the channel failed; `reason` says how. A `Closed` event follows."""

    reason: str = ""
