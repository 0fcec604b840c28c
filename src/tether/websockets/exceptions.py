"""The exceptions a WebSocket session raises; all derive from `TetherError`."""

from __future__ import annotations

from tether.exceptions import ProtocolError, ResponseException, TetherError

__all__ = [
    "FrameTooBigException",
    "WebSocketClosedException",
    "WebSocketConnectionLostException",
    "WebSocketException",
    "WebSocketHandshakeException",
    "WebSocketPingTimeoutException",
    "WebSocketProtocolException",
]


class WebSocketException(TetherError):
    """The root of the WebSocket failures."""


class WebSocketHandshakeException(ResponseException):
    """The server answered the upgrade with something else than 101; `response` is the full response,
    its body readable (a 401 page, say)."""


class WebSocketProtocolException(WebSocketException, ProtocolError):
    """A peer broke RFC 6455 (a bad `Sec-WebSocket-Accept`, invalid UTF-8, a bad frame): the session
    closed with `close_code` (1002, 1007, ...)."""

    def __init__(self, message: str, close_code: int | None = None) -> None:
        super().__init__(message)
        self.close_code = close_code


class FrameTooBigException(WebSocketProtocolException):
    """An incoming frame or message was over `limit_name` (`max_frame_size` or `max_message_size`):
    the session closed with 1009."""

    def __init__(self, limit_name: str, limit: int, size: int) -> None:
        super().__init__(
            f"incoming {'frame' if 'frame' in limit_name else 'message'} of {size}+ bytes is over {limit_name}={limit}",
            1009,
        )
        self.limit_name = limit_name
        self.limit = limit
        self.size = size


class WebSocketClosedException(WebSocketException):
    """The session is closed: raised by `receive()` and `send()` after the closing handshake."""

    def __init__(self, close_code: int | None, close_reason: str | None, message: str = "") -> None:
        super().__init__(message or f"the WebSocket session is closed (code {close_code}, reason {close_reason!r})")
        self.close_code = close_code
        self.close_reason = close_reason


class WebSocketConnectionLostException(WebSocketClosedException, ConnectionError):
    """The connection dropped without a closing handshake (close code 1006)."""


class WebSocketPingTimeoutException(WebSocketException, TimeoutError):
    """No pong arrived within `ping_timeout` of a ping: the session closed."""

    def __init__(self, timeout: float) -> None:
        super().__init__(f"no pong within ping_timeout={timeout}s")
        self.timeout = timeout
