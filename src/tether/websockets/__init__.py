"""WebSockets on every engine: tether owns the handshake and the framing (wsproto, permessage-deflate);
an engine only upgrades a connection (`tether.engine.upgrade`).

    from tether.websockets import WebSockets

    async with HttpClient(Curl, lambda config: config.install(WebSockets)) as client:
        async with client.websocket("wss://example.com/chat", subprotocols=["chat.v1"]) as ws:
            await ws.send_text("hello")
            async for message in ws:
                print(message.data)
"""

from tether.websockets.connect import WebSocketOverHttp2Capability, WebSocketSessionContext, open_session
from tether.websockets.exceptions import (
    FrameTooBigException,
    WebSocketClosedException,
    WebSocketConnectionLostException,
    WebSocketException,
    WebSocketHandshakeException,
    WebSocketPingTimeoutException,
    WebSocketProtocolException,
)
from tether.websockets.plugin import JsonWebSocketConverter, WebSocketContentConverter, WebSockets, WebSocketsConfig
from tether.websockets.session import MessageType, WebSocketMessage, WebSocketSession

__all__ = [
    "FrameTooBigException",
    "JsonWebSocketConverter",
    "MessageType",
    "WebSocketClosedException",
    "WebSocketConnectionLostException",
    "WebSocketContentConverter",
    "WebSocketException",
    "WebSocketHandshakeException",
    "WebSocketMessage",
    "WebSocketOverHttp2Capability",
    "WebSocketPingTimeoutException",
    "WebSocketProtocolException",
    "WebSocketSession",
    "WebSocketSessionContext",
    "WebSockets",
    "WebSocketsConfig",
    "open_session",
]
