"""The blocking WebSocket session of `tether.sync.HttpClient`: every call runs the async session's
method on the sync client's background loop (the async session is the source of truth).

    with tether.sync.HttpClient(configure) as client, client.websocket("ws://127.0.0.1:8080/echo") as ws:
        ws.send_text("hello")
        print(ws.receive_text())
        for message in ws:          # until the server closes
            ...
"""

from __future__ import annotations

from collections.abc import Coroutine, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from tether.exceptions import ClientClosedError
from tether.websockets.exceptions import WebSocketClosedException, WebSocketConnectionLostException
from tether.websockets.session import WebSocketMessage
from tether.websockets.session import WebSocketSession as AsyncWebSocketSession

if TYPE_CHECKING:
    from tether.sync import HttpResponse, _LoopThread

__all__ = ["WebSocketSession"]

T = TypeVar("T")


class WebSocketSession:
    """Blocking twin of `tether.websockets.WebSocketSession`."""

    def __init__(self, inner: AsyncWebSocketSession, runner: _LoopThread) -> None:
        self._inner = inner
        self._runner = runner

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        try:
            return self._runner.run(coroutine)
        except ClientClosedError:
            # The client closed (and took the session and its loop with it): the session's error.
            if not self._inner._finished:
                raise
            raise self._inner._ended() from None

    @property
    def response(self) -> HttpResponse:
        """The 101 response of the handshake (blocking, as `tether.sync.HttpResponse`)."""
        from tether.sync import HttpResponse

        return HttpResponse(self._inner.response, self._runner)

    @property
    def subprotocol(self) -> str | None:
        return self._inner.subprotocol

    @property
    def extensions(self) -> list[str]:
        return self._inner.extensions

    @property
    def close_code(self) -> int | None:
        return self._inner.close_code

    @property
    def close_reason(self) -> str | None:
        return self._inner.close_reason

    def send(self, data: str | bytes) -> None:
        self._run(self._inner.send(data))

    def send_text(self, text: str) -> None:
        self._run(self._inner.send_text(text))

    def send_bytes(self, data: bytes) -> None:
        self._run(self._inner.send_bytes(data))

    def send_serialized(self, value: object) -> None:
        self._run(self._inner.send_serialized(value))

    def receive(self) -> WebSocketMessage:
        message: WebSocketMessage = self._run(self._inner.receive())
        return message

    def receive_text(self) -> str:
        return self.receive().text

    def receive_bytes(self) -> bytes:
        return self.receive().bytes

    def receive_deserialized(self, type_: type[T]) -> T:
        value: T = self._run(self._inner.receive_deserialized(type_))
        return value

    def ping(self, payload: bytes | None = None) -> None:
        self._run(self._inner.ping(payload))

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the session; safe to call more than once, also after the client closed."""
        try:
            self._runner.run(self._inner.close(code, reason))
        except ClientClosedError:
            if not self._inner._finished:
                raise

    def __iter__(self) -> Iterator[WebSocketMessage]:
        while True:
            try:
                yield self.receive()
            except WebSocketClosedException as exc:
                if isinstance(exc, WebSocketConnectionLostException):
                    raise
                return

    def __enter__(self) -> WebSocketSession:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
