"""The WebSockets plugin: `config.install(WebSockets, ping_interval=20, max_message_size=...)`, then
`client.websocket(url)` / `client.websocket_session(url)`.

Limits are tether's own and the same on every engine (the libraries default to 1-4 MiB or to none):
the defaults take a 16 MiB message in one frame (Autobahn 9.x sends those) and bound memory per
session to a few times that.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from wsproto.extensions import PerMessageDeflate

from tether.plugins.api import PluginBuilder, create_client_plugin
from tether.websockets.session import WebSocketMessage

__all__ = ["JsonWebSocketConverter", "WebSocketContentConverter", "WebSockets", "WebSocketsConfig"]

T = TypeVar("T")

#: One frame of 16 MiB passes (Autobahn 9.1.6), with room to spare.
DEFAULT_MAX_FRAME_SIZE = 32 * 1024 * 1024
#: A message joined from fragments.
DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024


class WebSocketContentConverter(Protocol):
    """Turns values into messages and back, for `send_serialized` / `receive_deserialized`."""

    def serialize(self, value: Any) -> str | bytes: ...

    def deserialize(self, message: WebSocketMessage, type_: type[T]) -> T: ...


class JsonWebSocketConverter:
    """JSON in text messages: `receive_deserialized(dict)` returns the parsed document."""

    def serialize(self, value: Any) -> str:
        return json.dumps(value, separators=(",", ":"))

    def deserialize(self, message: WebSocketMessage, type_: type[T]) -> T:
        data = message.data
        value = json.loads(data)
        if type_ is not object and not isinstance(value, type_):
            raise TypeError(f"expected {type_.__name__}, the message holds {type(value).__name__}")
        return value  # type: ignore[no-any-return]


@dataclass
class WebSocketsConfig:
    #: Seconds between pings the client sends; None (the default, as in Ktor): no pings.
    ping_interval: float | None = None
    #: Seconds to wait for each pong; a missed one fails the session. None: `ping_interval`.
    ping_timeout: float | None = None
    #: Largest incoming frame payload; a larger one closes with 1009.
    max_frame_size: int = DEFAULT_MAX_FRAME_SIZE
    #: Largest incoming message (fragments joined, after decompression); a larger one closes with 1009.
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    #: Offer permessage-deflate (RFC 7692); used only when the server accepts it.
    compression: bool = True
    #: The permessage-deflate offer's parameters (RFC 7692 7.1; they apply only with `compression`).
    #: True: the client compresses every message on its own (no LZ77 window kept between messages:
    #: less memory on both ends, a lower ratio for small similar messages).
    client_no_context_takeover: bool = False
    #: True: ask the server to compress every message on its own; the client then keeps no
    #: decompression window between messages. A server that does not confirm it fails the handshake.
    server_no_context_takeover: bool = False
    #: LZ77 window of the client's compressor, 2**N bytes, 9-15 (None: 15). A smaller answer from
    #: the server is followed; a larger one is ignored (the client never uses more than it offered).
    client_max_window_bits: int | None = None
    #: Largest window the server may compress with, 9-15 (None: 15, no limit); bounds the client's
    #: decompression memory. A server that answers with a larger window fails the handshake.
    #: (RFC 7692 allows 8; zlib cannot make a raw deflate stream with an 8-bit window, so 9.)
    server_max_window_bits: int | None = None
    #: For `send_serialized` / `receive_deserialized`.
    content_converter: WebSocketContentConverter | None = None

    def validate(self) -> None:
        for name in ("ping_interval", "ping_timeout"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive or None, got {value!r}")
        for name in ("max_frame_size", "max_message_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive number of bytes, got {value!r}")
        # Per-call values come here unchecked by the install-time type check: the same TypeError.
        for name in ("compression", "client_no_context_takeover", "server_no_context_takeover"):
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise TypeError(f"WebSockets.{name} must be bool, got {type(value).__name__} {value!r}")
        for name in ("client_max_window_bits", "server_max_window_bits"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"WebSockets.{name} must be int | None, got {type(value).__name__} {value!r}")
            if not 9 <= value <= 15:
                raise ValueError(f"{name} must be None or a window size in bits from 9 to 15, got {value!r}")

    def deflate_offer(self) -> PerMessageDeflate | None:
        """The permessage-deflate extension to offer (None without `compression`)."""
        if not self.compression:
            return None
        return PerMessageDeflate(
            client_no_context_takeover=self.client_no_context_takeover,
            client_max_window_bits=self.client_max_window_bits,
            server_no_context_takeover=self.server_no_context_takeover,
            server_max_window_bits=self.server_max_window_bits,
        )


def _install(plugin: PluginBuilder[WebSocketsConfig]) -> None:
    plugin.plugin_config.validate()  # bad settings fail when the client is built


WebSockets = create_client_plugin("WebSockets", WebSocketsConfig, _install)
