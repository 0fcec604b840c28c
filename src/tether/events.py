"""Client events: what happened to a call, for plugins and applications to observe (Ktor's `monitor`).

    from tether.events import HttpRequestCreated, HttpResponseReceived

    async with HttpClient() as client:
        subscription = client.monitor.subscribe(HttpResponseReceived, lambda e: print(e.response.status))
        await client.get("https://example.org/")
        subscription.dispose()                   # or: with client.monitor.subscribe(...):

Every event is a small frozen value; its class is what a handler subscribes to. `time` is the
`time.monotonic()` stamp of the moment it happened, so timings can be computed from events alone.
Handlers run where the event happens, in subscription order: a plain function is called, a coroutine
function is awaited before the call goes on (keep handlers short). A handler that raises is logged on
the `tether.events` logger and never breaks the call or the other handlers.

With nobody subscribed an event costs one check of an empty dict: no value is even built.

The events of one call, in order:

- `HttpRequestCreated`: once per call, before any plugin hook ran.
- `HttpRequestIsReadyForSending`: before every real send (every redirect hop and retry included),
  after the `SendingRequest` hooks, just before the engine.
- `HttpResponseReceived`: every time the engine hands back a response head (every hop), before the
  `on_response` hooks.
- then one of: nothing more (the call returned a response); `HttpResponseReceiveFailed` (the call
  raised: a transport error, a timeout, a failed validation, a body that could not be read);
  `HttpResponseCancelled` (the call was cancelled).

Plugin events: `HttpResponseRedirectEvent` (HttpRedirect follows a 3xx), `HttpRequestRetryEvent`
(HttpRequestRetry will send again), raised before the next hop's `HttpRequestIsReadyForSending`.

Client and session events: `HttpClientClosed`; `SSEReconnecting` / `SSEReconnected` (see
`docs/sse.md`); `WebSocketOpened` / `WebSocketClosed` (raised by the WebSocket session).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, Union

if TYPE_CHECKING:
    from tether.client import HttpClient
    from tether.request import HttpRequestBuilder, HttpRequestData
    from tether.response import HttpResponse

__all__ = [
    "ClientEvent",
    "Events",
    "EventHandler",
    "HttpClientClosed",
    "HttpRequestCreated",
    "HttpRequestIsReadyForSending",
    "HttpRequestRetryEvent",
    "HttpResponseCancelled",
    "HttpResponseReceiveFailed",
    "HttpResponseReceived",
    "HttpResponseRedirectEvent",
    "SSEReconnected",
    "SSEReconnecting",
    "Subscription",
    "WebSocketClosed",
    "WebSocketOpened",
]

logger = logging.getLogger("tether.events")

E = TypeVar("E", bound="ClientEvent")

#: A handler gets the event value; it may be a plain function or a coroutine function.
EventHandler = Callable[[E], Union[Awaitable[None], None]]


def _now() -> float:
    return time.monotonic()


@dataclass(frozen=True)
class ClientEvent:
    """The base of every event value. `time` is when it happened (`time.monotonic()`)."""


@dataclass(frozen=True)
class HttpRequestCreated(ClientEvent):
    """A call started: `request` is its builder, before any plugin hook ran (it may still change)."""

    request: HttpRequestBuilder
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class HttpRequestIsReadyForSending(ClientEvent):
    """A request is about to go to the engine; raised for every hop. `send_count` is 1 for the first
    send of the call, 2 for the next (a redirect hop, a retry, an auth refresh), and so on."""

    request: HttpRequestBuilder
    send_count: int
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class HttpResponseReceived(ClientEvent):
    """The engine returned a response head (every hop); the body may still be streaming."""

    response: HttpResponse
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class HttpResponseReceiveFailed(ClientEvent):
    """The call raised `cause` instead of returning a response. `response` is the last response
    received in the call, if any (e.g. the one validation rejected, or whose body failed)."""

    request: HttpRequestBuilder
    response: HttpResponse | None
    cause: BaseException
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class HttpResponseCancelled(ClientEvent):
    """The call was cancelled (its task was); `response` is the last response received, if any."""

    request: HttpRequestBuilder
    response: HttpResponse | None
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class HttpResponseRedirectEvent(ClientEvent):
    """`HttpRedirect` follows `response` (a 3xx): `request` is the next hop, about to be sent."""

    request: HttpRequestBuilder
    response: HttpResponse
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class HttpRequestRetryEvent(ClientEvent):
    """`HttpRequestRetry` will send `request` again (retry number `retry_count`, from 1) after
    `response` (a 5xx) or `cause` (a retried exception), once its delay has passed."""

    request: HttpRequestBuilder
    retry_count: int
    response: HttpResponse | None
    cause: BaseException | None
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class HttpClientClosed(ClientEvent):
    """The client was closed (its `on_close` hooks ran, its engine reference was released)."""

    client: HttpClient
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class SSEReconnecting(ClientEvent):
    """An SSE session lost its stream and will reconnect after `delay` seconds. `attempt` counts the
    attempts since the last event arrived (1 for the first); `cause` is the failure, or None when the
    server ended the stream cleanly."""

    url: str
    attempt: int
    delay: float
    last_event_id: str
    cause: BaseException | None
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class SSEReconnected(ClientEvent):
    """An SSE session is connected again after attempt number `attempt`; `response` is the new one."""

    url: str
    attempt: int
    last_event_id: str
    response: HttpResponse
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class WebSocketOpened(ClientEvent):
    """A WebSocket session finished its opening handshake (raised by the WebSocket session once it
    is usable). `response` is the 101 response; `subprotocol` the one the server picked, if any."""

    request: HttpRequestData
    response: HttpResponse
    subprotocol: str | None
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class WebSocketClosed(ClientEvent):
    """A WebSocket session is closed, whoever closed it. `code`/`reason` are from the close frame
    (1006 and "" when the connection dropped without one); `cause` is the failure that ended the
    session, or None for a clean close."""

    request: HttpRequestData
    code: int
    reason: str
    cause: BaseException | None
    time: float = field(default_factory=_now)


class Subscription:
    """What `subscribe` returns: `dispose()` unsubscribes (Ktor's DisposableHandle). It is also a
    context manager that disposes on exit. Disposing twice is harmless."""

    __slots__ = ("_event", "_events", "_handler")

    def __init__(self, events: Events, event: type[ClientEvent], handler: EventHandler[Any]) -> None:
        self._events: Events | None = events
        self._event = event
        self._handler = handler

    def dispose(self) -> None:
        events, self._events = self._events, None
        if events is not None:
            events.unsubscribe(self._event, self._handler)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.dispose()

    def __repr__(self) -> str:
        state = "active" if self._events is not None else "disposed"
        return f"<Subscription {self._event.__name__} {state}>"


class Events:
    """A client's event bus (`client.monitor`): subscribe handlers to event classes, raise events.

    Subscribing to a class gets exactly the events of that class (not of its subclasses).
    """

    __slots__ = ("subscribers",)

    def __init__(self) -> None:
        #: Event class -> its handlers, in subscription order. A class without handlers has no key,
        #: so "anyone listening?" is the truth of this dict: the whole cost of an unobserved event.
        self.subscribers: dict[type[ClientEvent], list[EventHandler[Any]]] = {}

    def subscribe(self, event: type[E], handler: EventHandler[E]) -> Subscription:
        """Call `handler(value)` for every event of class `event`, until the subscription is disposed."""
        if not (isinstance(event, type) and issubclass(event, ClientEvent)):
            raise TypeError(f"Subscribe to an event class from tether.events, not {event!r}")
        # A new list, never appended in place: an emission in progress keeps iterating its own copy.
        self.subscribers[event] = [*self.subscribers.get(event, ()), handler]
        return Subscription(self, event, handler)

    def unsubscribe(self, event: type[E], handler: EventHandler[E]) -> None:
        """Remove one subscription of `handler` to `event` (nothing happens if there is none)."""
        handlers = list(self.subscribers.get(event, ()))
        if handler in handlers:
            handlers.remove(handler)
        if handlers:
            self.subscribers[event] = handlers
        else:
            self.subscribers.pop(event, None)

    def has_subscribers(self, event: type[ClientEvent]) -> bool:
        return event in self.subscribers

    async def emit_new(self, event: type[ClientEvent], *fields: Any) -> None:
        """Build `event(*fields)` and emit it, only if someone subscribed to `event` (what the client
        calls: an event nobody listens to is never built)."""
        if event in self.subscribers:
            await self.emit(event(*fields))

    async def emit(self, value: ClientEvent) -> None:
        """Run the handlers subscribed to `type(value)`, in order. A handler's exception is logged
        and swallowed; cancellation (and KeyboardInterrupt, SystemExit) goes through."""
        for handler in self.subscribers.get(type(value), ()):
            try:
                result = handler(value)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                logger.exception("Handler %r for %s failed (the call goes on)", handler, type(value).__name__)

    async def emit_call_ended(
        self, request: HttpRequestBuilder, response: HttpResponse | None, cause: BaseException
    ) -> None:
        """`HttpResponseCancelled` for a cancelled call, else `HttpResponseReceiveFailed`."""
        if isinstance(cause, asyncio.CancelledError):
            await self.emit_new(HttpResponseCancelled, request, response)
        else:
            await self.emit_new(HttpResponseReceiveFailed, request, response, cause)

    def __repr__(self) -> str:
        counts = ", ".join(f"{kind.__name__}={len(h)}" for kind, h in self.subscribers.items())
        return f"<Events {counts or 'no subscribers'}>"
