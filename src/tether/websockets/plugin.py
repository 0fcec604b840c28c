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


def _install(plugin: PluginBuilder[WebSocketsConfig]) -> None:
    plugin.plugin_config.validate()  # bad settings fail when the client is built


WebSockets = create_client_plugin("WebSockets", WebSocketsConfig, _install)
