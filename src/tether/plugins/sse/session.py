"""SSE sessions: connect, validate, parse, buffer for diagnostics, reconnect with Last-Event-ID."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import TYPE_CHECKING, Any

from tether.engine.capabilities import SSECapability
from tether.events import SSEReconnected, SSEReconnecting
from tether.exceptions import SSEClientException, TetherError, UnsupportedCapabilityError
from tether.plugins.sse.buffer import SSEBuffer, SSEBufferPolicy
from tether.plugins.sse.parser import DEFAULT_MAX_EVENT_SIZE, ServerSentEvent, SSEEventTooLargeError, SSEParser
from tether.response import HttpResponse

if TYPE_CHECKING:
    from tether.client import HttpClient

__all__ = ["SSE_OPTIONS", "SSEConfig", "SSESession", "SSESessionContext"]

#: The per-call settings `client.sse(url, ...)` accepts (they override the plugin's config).
SSE_OPTIONS = (
    "buffer_policy",
    "reconnection_time",
    "max_reconnection_attempts",
    "show_comment_events",
    "show_retry_events",
    "max_event_size",
)


@dataclass
class SSEConfig:
    #: What a failed session keeps for `exc.response.body_as_text()`.
    buffer_policy: SSEBufferPolicy = field(default_factory=SSEBufferPolicy.off)
    #: Seconds to wait before reconnecting when the server sent no `retry:`.
    reconnection_time: float = 3.0
    #: Reconnections after the stream ends or fails; 0 never reconnects.
    max_reconnection_attempts: int = 0
    #: Also yield blocks that only carry comments / only a `retry:` (their `data` is None).
    show_comment_events: bool = False
    show_retry_events: bool = False
    #: Largest event (and line) accepted; larger raises `SSEEventTooLargeError` inside `SSEClientException`.
    max_event_size: int = DEFAULT_MAX_EVENT_SIZE

    def validate(self) -> None:
        if not isinstance(self.buffer_policy, SSEBufferPolicy):
            raise TypeError("buffer_policy must be an SSEBufferPolicy (SSEBufferPolicy.last_events(10), ...)")
        if self.reconnection_time < 0:
            raise ValueError(f"reconnection_time must be >= 0, got {self.reconnection_time}")
        if self.max_reconnection_attempts < 0:
            raise ValueError(f"max_reconnection_attempts must be >= 0, got {self.max_reconnection_attempts}")
        if self.max_event_size <= 0:
            raise ValueError(f"max_event_size must be positive, got {self.max_event_size}")


class SSESession:
    """One logical event stream (possibly over several connections). Iterate `incoming` once."""

    def __init__(
        self, client: HttpClient, method: str, url: Any, settings: SSEConfig, request_kwargs: dict[str, Any]
    ) -> None:
        self._client = client
        self._method = method
        self._url = url
        self._settings = settings
        self._kwargs = request_kwargs
        self._buffer: SSEBuffer = settings.buffer_policy.new_buffer()
        self._parser = SSEParser(settings.max_event_size, self._buffer.on_line)
        self.response: HttpResponse | None = None
        self._finished = False
        self._closed = False
        self._iterating = False

    @property
    def last_event_id(self) -> str:
        return self._parser.last_event_id

    async def _connect(self) -> None:
        builder = self._client.build_request(self._method, self._url, **self._kwargs)
        headers = builder.headers
        if "Accept" not in headers:
            headers["Accept"] = "text/event-stream"
        if "Cache-Control" not in headers:
            headers["Cache-Control"] = "no-cache"
        if self._parser.last_event_id:
            headers["Last-Event-ID"] = self._parser.last_event_id
        builder.set_capability(SSECapability, None)
        response = await self._client.execute(builder)
        self.response = response
        status = int(response.status)
        if status == 204:
            await response.aclose()
            self._finished = True  # the server says: no (more) events, do not reconnect
            return
        if not 200 <= status < 300:
            await response._read_fully()
            raise SSEClientException(
                response, None, f"Expected status code 2xx but was {status} {response.status.description}"
            )
        content_type = response.headers.get("Content-Type", "")
        if content_type.split(";", 1)[0].strip().lower() != "text/event-stream":
            await response.aclose()
            raise SSEClientException(
                response, None, f"Expected Content-Type text/event-stream but was {content_type or 'none'!r}"
            )

    def _failure(self, cause: BaseException | None, message: str | None = None) -> SSEClientException:
        snapshot = self.response._with_content(self._buffer.snapshot().encode()) if self.response else None
        return SSEClientException(snapshot, cause, message)

    @property
    def incoming(self) -> AsyncIterator[ServerSentEvent]:
        if self._iterating:
            raise RuntimeError("SSESession.incoming can be iterated only once")
        self._iterating = True
        return self._events()

    async def _events(self) -> AsyncIterator[ServerSentEvent]:
        settings = self._settings
        show_comments, show_retry = settings.show_comment_events, settings.show_retry_events
        failures = 0  # consecutive reconnections that brought no event
        while not self._finished and not self._closed:
            cause: TetherError | None = None
            response = self.response
            if response is not None:
                try:
                    async for chunk in response.body_as_channel():
                        for event in self._parser.feed(chunk):
                            if event.data is None and not (
                                (show_comments and event.comments) or (show_retry and event.retry is not None)
                            ):
                                continue
                            failures = 0
                            yield event
                    self._parser.close()
                except SSEEventTooLargeError as exc:
                    raise self._failure(exc) from exc
                except TetherError as exc:
                    self._parser.close()
                    cause = exc
                finally:
                    await response.aclose()
            if self._closed:
                return
            if settings.max_reconnection_attempts == 0:
                if cause is not None:
                    raise self._failure(cause, f"SSE stream failed: {cause}") from cause
                return  # the server ended the stream; reconnection is off
            while True:
                if failures >= settings.max_reconnection_attempts:
                    reason = cause or "the stream ended"
                    raise self._failure(cause, f"SSE reconnection failed after {failures} attempt(s): {reason}")
                failures += 1
                retry = self._parser.reconnection_time
                delay = retry / 1000 if retry is not None else settings.reconnection_time
                url = str(response.request.url) if response is not None else str(self._url)
                monitor = self._client.monitor
                await monitor.emit_new(SSEReconnecting, url, failures, delay, self.last_event_id, cause)
                await asyncio.sleep(delay)
                try:
                    await self._connect()  # through the whole pipeline again (auth included)
                    await monitor.emit_new(SSEReconnected, url, failures, self.last_event_id, self.response)
                    break
                except SSEClientException:
                    raise  # a wrong status or content type is an answer, not a network failure
                except TetherError as exc:
                    cause = exc

    async def close(self) -> None:
        self._closed = True
        if self.response is not None:
            await self.response.aclose()

    async def __aenter__(self) -> SSESession:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


async def open_session(
    client: HttpClient, method: str, url: Any, defaults: SSEConfig, kwargs: dict[str, Any]
) -> SSESession:
    overrides = {name: kwargs.pop(name) for name in SSE_OPTIONS if name in kwargs}
    settings = replace(defaults, **overrides)
    settings.validate()
    session = SSESession(client, method, url, settings, kwargs)
    try:
        await session._connect()
    except (SSEClientException, UnsupportedCapabilityError):
        raise  # a missing capability keeps its own class on every API (raised before any I/O)
    except TetherError as exc:
        raise SSEClientException(None, exc) from exc
    return session


class SSESessionContext:
    """`async with client.sse(url) as session:` — connects on entry, closes on exit.

    As in Ktor 3.3, an exception the block raises while handling events comes out as
    `SSEClientException` whose `response` holds what the buffer policy kept (so the caller can read
    what was processed) and whose cause is the original; cancellation (and any other `BaseException`
    that is not an `Exception`) passes through unchanged, as does an `SSEClientException` that
    already carries a response.
    """

    def __init__(self, opening: Any) -> None:
        self._opening = opening
        self._session: SSESession | None = None

    async def __aenter__(self) -> SSESession:
        self._session = await self._opening
        return self._session

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        session = self._session
        if session is None:
            return
        await session.close()
        if not isinstance(exc, Exception) or (isinstance(exc, SSEClientException) and exc.response is not None):
            return  # nothing raised, a cancellation, or already what the caller should see
        raise session._failure(exc) from exc
