"""`MockEngine`: answer requests with functions, for testing code that uses tether (Ktor's MockEngine).

    from tether.testing import MockEngine, respond

    engine = MockEngine(lambda request: respond('{"id": 1}', headers={"Content-Type": "application/json"}))
    async with HttpClient(engine) as client:
        assert (await (await client.get("https://api.test/users/1")).json()) == {"id": 1}
    assert engine.requests[0].url.path == "/users/1"

Handlers answer in order; when they run out, the last one keeps answering (`reuse_handlers=True`) or
the request fails with an AssertionError naming it.
"""

from __future__ import annotations

import dataclasses
import inspect
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tether.channel import ByteReadChannel
from tether.content import ByteArrayContent, NoContent, OutgoingContent, StreamContent
from tether.engine.base import HttpClientEngineBase
from tether.engine.capabilities import DEFAULT_CAPABILITIES, HttpClientEngineCapability, SSECapability
from tether.engine.config import HttpClientEngineConfig
from tether.engine.factory import EngineFactory
from tether.http import Headers, HeadersInit, HttpProtocolVersion, HttpStatusCode
from tether.request import HttpRequestData
from tether.response import HttpResponseData

__all__ = [
    "MockEngine",
    "MockEngineConfig",
    "MockHandler",
    "read_body",
    "respond",
    "respond_error",
    "respond_ok",
]

MockHandler = Callable[[HttpRequestData], HttpResponseData | Awaitable[HttpResponseData]]


def respond(
    content: bytes | str | AsyncIterable[bytes] = b"",
    status: int = 200,
    headers: HeadersInit = None,
    version: HttpProtocolVersion = HttpProtocolVersion.HTTP_1_1,
) -> HttpResponseData:
    """A response with `content` (bytes, text, or an async iterable streamed as it is produced)."""
    now = time.monotonic()
    if isinstance(content, (bytes, str)):
        data = content.encode("utf-8") if isinstance(content, str) else content
        body = ByteReadChannel.from_bytes(data)
    else:
        body = ByteReadChannel(aiter(content))
    return HttpResponseData(HttpStatusCode(status), Headers(headers), version, body, now, now)


def respond_ok(content: bytes | str = b"") -> HttpResponseData:
    return respond(content)


def respond_error(status: int, content: bytes | str = b"") -> HttpResponseData:
    return respond(content, status)


async def read_body(content: OutgoingContent) -> bytes:
    """The bytes a request body carries (streams are read, so a one-shot stream is used up)."""
    if isinstance(content, ByteArrayContent):
        return content.data
    if isinstance(content, NoContent):
        return b""
    if isinstance(content, StreamContent):
        return b"".join([chunk async for chunk in content.open()])
    raise TypeError(f"Cannot read a {type(content).__name__}")


@dataclass
class MockEngineConfig(HttpClientEngineConfig):
    handlers: list[MockHandler] = field(default_factory=list)
    reuse_handlers: bool = True
    #: What the mock claims it can do; narrow it to test `UnsupportedCapabilityError` paths.
    capabilities: frozenset[HttpClientEngineCapability[Any]] = DEFAULT_CAPABILITIES | {SSECapability}

    def add_handler(self, handler: MockHandler) -> None:
        self.handlers.append(handler)


class MockEngine(HttpClientEngineBase[MockEngineConfig]):
    """An engine that calls handlers instead of doing I/O; it records every request it gets."""

    name = "Mock"

    def __init__(
        self,
        *handlers: MockHandler,
        config: MockEngineConfig | None = None,
        capabilities: Iterable[HttpClientEngineCapability[Any]] | None = None,
        reuse_handlers: bool | None = None,
    ) -> None:
        config = config or MockEngineConfig()
        config.handlers.extend(handlers)
        if capabilities is not None:
            config.capabilities = frozenset(capabilities)
        if reuse_handlers is not None:
            config.reuse_handlers = reuse_handlers
        super().__init__(config)
        #: Every request the engine received, in order.
        self.requests: list[HttpRequestData] = []
        #: Every response it returned, in order.
        self.responses: list[HttpResponseData] = []
        #: Response bodies handed out and not yet closed or read to the end.
        self.open_bodies = 0

    @property
    def capabilities(self) -> frozenset[HttpClientEngineCapability[Any]]:
        return self.config.capabilities

    async def _execute(self, request: HttpRequestData) -> HttpResponseData:
        if isinstance(request.body, StreamContent):
            # Consume the stream as a real engine sends it; handlers see the bytes that went out.
            sent = await read_body(request.body)
            request = dataclasses.replace(request, body=ByteArrayContent(sent, request.body.content_type))
        handlers = self.config.handlers
        index = len(self.requests)
        self.requests.append(request)
        if not handlers:
            raise AssertionError(f"MockEngine has no handler for {request.method} {request.url}")
        if index >= len(handlers):
            if not self.config.reuse_handlers:
                raise AssertionError(
                    f"MockEngine ran out of handlers at request {index + 1}: {request.method} {request.url}"
                )
            index = len(handlers) - 1
        result = handlers[index](request)
        response = await result if inspect.isawaitable(result) else result
        self.responses.append(response)
        return self._track(response)

    def _track(self, response: HttpResponseData) -> HttpResponseData:
        self.open_bodies += 1
        body = response.body
        closed = False

        def on_close() -> None:
            nonlocal closed
            if not closed:
                closed = True
                self.open_bodies -= 1

        tracked = ByteReadChannel(aiter(body), on_close=on_close, expected_length=_content_length(response.headers))
        return HttpResponseData(
            response.status,
            response.headers,
            response.version,
            tracked,
            response.request_time,
            response.response_time,
        )


def _content_length(headers: Headers) -> int | None:
    value = headers.get("Content-Length")
    return int(value) if value is not None and value.isdigit() else None


#: A factory for `HttpClient(MockEngineFactory, configure)` when a typed `config.engine` is wanted.
MockEngineFactory: EngineFactory[MockEngineConfig, MockEngine] = EngineFactory(
    "Mock", lambda config: MockEngine(config=config), MockEngineConfig
)
