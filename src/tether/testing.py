"""`MockEngine`: answer requests without a network, for testing code that uses tether (Ktor's
MockEngine; respx and pytest-httpx in spirit).

    from tether import HttpClient
    from tether.testing import MockEngine

    engine = MockEngine()
    engine.get("https://api.test/users/1").respond(json={"id": 1, "name": "Ada"})
    engine.post("https://api.test/users").respond(status=201, json={"id": 2})

    async with HttpClient(engine) as client:
        user = await (await client.get("https://api.test/users/1")).json()
        await client.post("https://api.test/users", json={"name": "Grace"})

    assert user["name"] == "Ada"
    engine.assert_called_once_with("POST", "https://api.test/users", json={"name": "Grace"})

Routes match by method and URL pattern (the full URL, a path such as "/users/*" with `*` globs, or a
compiled regular expression); the first route that matches answers. Handlers passed to the
constructor answer requests that no route matches, in order; when they run out, the last one keeps
answering (`reuse_handlers=True`). A request nothing answers fails loudly: the call raises
AssertionError naming it and the routes, and `engine.unmatched` keeps it (the pytest fixture
`tether_mock` fails the test at teardown even if the code under test swallowed the error).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import inspect
import json as jsonlib
import re
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from yarl import URL

from tether.channel import ByteReadChannel
from tether.content import ByteArrayContent, NoContent, OutgoingContent, StreamContent
from tether.engine.base import HttpClientEngineBase
from tether.engine.capabilities import DEFAULT_CAPABILITIES, HttpClientEngineCapability, SSECapability
from tether.engine.config import HttpClientEngineConfig
from tether.engine.factory import EngineFactory
from tether.engine.support import chunks_of
from tether.http import Headers, HeadersInit, HttpProtocolVersion, HttpStatusCode
from tether.request import HttpRequestData
from tether.response import HttpResponseData

__all__ = [
    "MockEngine",
    "MockEngineConfig",
    "MockHandler",
    "MockRoute",
    "read_body",
    "request_body",
    "request_json",
    "request_text",
    "respond",
    "respond_error",
    "respond_ok",
]

_UNSET: Any = object()

MockHandler = Callable[[HttpRequestData], HttpResponseData | Awaitable[HttpResponseData]]


def respond(
    content: bytes | str | AsyncIterable[bytes] = b"",
    status: int = 200,
    headers: HeadersInit = None,
    version: HttpProtocolVersion = HttpProtocolVersion.HTTP_1_1,
    *,
    json: Any = _UNSET,
    text: str | None = None,
) -> HttpResponseData:
    """A response with `content` (bytes, text, or an async iterable streamed as it is produced), or
    with `json=` (serialised, Content-Type application/json) or `text=` (text/plain; charset=utf-8).

    >>> respond(json={"id": 1}, status=201, headers={"Location": "/users/1"})
    """
    if json is not _UNSET or text is not None:
        if content != b"" or (json is not _UNSET and text is not None):
            raise TypeError("respond() takes one of content, json= and text=")
        kind = "application/json" if json is not _UNSET else "text/plain; charset=utf-8"
        content = jsonlib.dumps(json) if json is not _UNSET else text or ""
        merged = Headers(headers)
        if "Content-Type" not in merged:
            headers = [*merged.items(), ("Content-Type", kind)]
    now = time.monotonic()
    if isinstance(content, (bytes, str)):
        data = content.encode("utf-8") if isinstance(content, str) else content
        body = ByteReadChannel.from_bytes(data)
    elif isinstance(content, AsyncIterable):
        body = ByteReadChannel(aiter(content))
    else:
        hint = " (a JSON body: json=...)" if isinstance(content, (dict, list)) else ""
        raise TypeError(
            f"respond() content is bytes, str or an async iterable of bytes, got {type(content).__name__}{hint}"
        )
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
        # As every engine sends it: chunks checked (bytes, the declared content_length).
        return b"".join([chunk async for chunk in chunks_of(content)])
    raise TypeError(f"Cannot read a {type(content).__name__}")


def request_body(request: HttpRequestData) -> bytes:
    """The bytes a request recorded by `MockEngine` carried (streamed bodies are recorded as bytes)."""
    body = request.body
    if isinstance(body, ByteArrayContent):
        return body.data
    if isinstance(body, NoContent):
        return b""
    raise TypeError(f"A {type(body).__name__} body is not recorded as bytes")


def request_text(request: HttpRequestData) -> str:
    return request_body(request).decode("utf-8")


def request_json(request: HttpRequestData) -> Any:
    return jsonlib.loads(request_body(request))


UrlPattern = str | re.Pattern[str]


class MockRoute:
    """Requests matching a method and URL pattern, and how to answer them. Made by `engine.route(...)`
    or `engine.get(...)`/`post(...)`/...; answer with `respond(...)` or `mock(handler)`."""

    def __init__(self, method: str | None, pattern: UrlPattern) -> None:
        self.method = method.upper() if method else None
        self.pattern = pattern
        self._handler: MockHandler | None = None
        #: The requests this route answered, in order.
        self.calls: list[HttpRequestData] = []

    def matches(self, request: HttpRequestData) -> bool:
        if self.method is not None and request.method != self.method:
            return False
        pattern = self.pattern
        if isinstance(pattern, re.Pattern):
            return pattern.search(str(request.url)) is not None
        target = (
            str(request.url) if "://" in pattern else request.url.raw_path_qs if "?" in pattern else request.url.path
        )
        if "://" in pattern and "?" not in pattern:
            target = str(request.url.with_query(None).with_fragment(None))
        return fnmatch.fnmatchcase(target, pattern) if "*" in pattern else target == pattern

    def respond(
        self,
        content: bytes | str = b"",
        status: int = 200,
        headers: HeadersInit = None,
        *,
        json: Any = _UNSET,
        text: str | None = None,
    ) -> MockRoute:
        """Answer every matching request with this response (a fresh body each time)."""
        respond(content, status, headers, json=json, text=text)  # reject bad arguments now

        def handler(request: HttpRequestData) -> HttpResponseData:
            return respond(content, status, headers, json=json, text=text)

        self._handler = handler
        return self

    def mock(self, handler: MockHandler) -> MockRoute:
        """Answer matching requests with `handler(request)` (may be async, may raise)."""
        self._handler = handler
        return self

    @property
    def called(self) -> bool:
        return bool(self.calls)

    @property
    def call_count(self) -> int:
        return len(self.calls)

    def assert_called_once(self) -> None:
        if len(self.calls) != 1:
            raise AssertionError(f"Expected {self} to be called once, it was called {len(self.calls)} time(s)")

    def __repr__(self) -> str:
        pattern = self.pattern.pattern if isinstance(self.pattern, re.Pattern) else self.pattern
        return f"<MockRoute {self.method or '*'} {pattern}>"


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
        #: The routes, in the order they were added (the first that matches answers).
        self.routes: list[MockRoute] = []
        #: Requests that nothing answered (each also raised AssertionError in its call).
        self.unmatched: list[HttpRequestData] = []

    # -- routes -------------------------------------------------------------------------------------
    def route(self, method: str | None, url: UrlPattern) -> MockRoute:
        """A route for `method` (None: any) and `url`: a full URL (query ignored unless given), a path
        ("/users/1"), either with `*` globs, or a compiled regular expression searched in the URL."""
        route = MockRoute(method, url)
        self.routes.append(route)
        return route

    def get(self, url: UrlPattern) -> MockRoute:
        return self.route("GET", url)

    def post(self, url: UrlPattern) -> MockRoute:
        return self.route("POST", url)

    def put(self, url: UrlPattern) -> MockRoute:
        return self.route("PUT", url)

    def patch(self, url: UrlPattern) -> MockRoute:
        return self.route("PATCH", url)

    def delete(self, url: UrlPattern) -> MockRoute:
        return self.route("DELETE", url)

    def head(self, url: UrlPattern) -> MockRoute:
        return self.route("HEAD", url)

    # -- assertions ---------------------------------------------------------------------------------
    @property
    def last_request(self) -> HttpRequestData:
        if not self.requests:
            raise AssertionError("MockEngine received no request")
        return self.requests[-1]

    def assert_not_called(self) -> None:
        if self.requests:
            raise AssertionError(f"Expected no request, got {len(self.requests)}: {_describe(self.requests)}")

    def assert_called_with(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        json: Any = _UNSET,
        content: bytes | str | None = None,
    ) -> HttpRequestData:
        """The last request was `method url` (query included), with these headers and body; returns it."""
        request = self.last_request
        problems = _differences(request, method, url, headers, json, content)
        if problems:
            raise AssertionError(f"Last request {request.method} {request.url}: {'; '.join(problems)}")
        return request

    def assert_called_once_with(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        json: Any = _UNSET,
        content: bytes | str | None = None,
    ) -> HttpRequestData:
        """Exactly one request was sent, and it was this one; returns it."""
        if len(self.requests) != 1:
            raise AssertionError(f"Expected 1 request, got {len(self.requests)}: {_describe(self.requests)}")
        return self.assert_called_with(method, url, headers=headers, json=json, content=content)

    def assert_all_called(self) -> None:
        """Every route answered at least one request."""
        idle = [route for route in self.routes if not route.called]
        if idle:
            raise AssertionError(f"Routes never called: {', '.join(map(repr, idle))}")

    def assert_no_unmatched(self) -> None:
        if self.unmatched:
            raise AssertionError(f"Requests no route or handler answered: {_describe(self.unmatched)}")

    @property
    def capabilities(self) -> frozenset[HttpClientEngineCapability[Any]]:
        return self.config.capabilities

    async def _execute(self, request: HttpRequestData) -> HttpResponseData:
        if isinstance(request.body, StreamContent):
            # Consume the stream as a real engine sends it; handlers see the bytes that went out.
            sent = await read_body(request.body)
            request = dataclasses.replace(request, body=ByteArrayContent(sent, request.body.content_type))
        self.requests.append(request)
        handler = self._handler_for(request)
        result = handler(request)
        response = await result if inspect.isawaitable(result) else result
        self.responses.append(response)
        return self._track(response)

    def _handler_for(self, request: HttpRequestData) -> MockHandler:
        for route in self.routes:
            if route.matches(request):
                route.calls.append(request)
                if route._handler is None:
                    raise AssertionError(f"{route} has no response: add .respond(...) or .mock(handler)")
                return route._handler
        handlers = self.config.handlers
        index = len(self.requests) - 1 - sum(route.call_count for route in self.routes)
        if handlers and index >= len(handlers) and self.config.reuse_handlers:
            index = len(handlers) - 1
        if 0 <= index < len(handlers):
            return handlers[index]
        self.unmatched.append(request)
        if not handlers and not self.routes:
            raise AssertionError(f"MockEngine has no handler for {request.method} {request.url}")
        if handlers:
            raise AssertionError(
                f"MockEngine ran out of handlers at request {index + 1}: {request.method} {request.url}"
            )
        routes = "\n  ".join(map(repr, self.routes))
        raise AssertionError(f"MockEngine: no route matches {request.method} {request.url}; routes:\n  {routes}")

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


def _describe(requests: list[HttpRequestData]) -> str:
    return ", ".join(f"{request.method} {request.url}" for request in requests) or "none"


def _differences(
    request: HttpRequestData,
    method: str,
    url: str,
    headers: Mapping[str, str] | None,
    json: Any,
    content: bytes | str | None,
) -> list[str]:
    problems = []
    if request.method != method.upper():
        problems.append(f"method {request.method}, expected {method.upper()}")
    if str(request.url) != str(URL(url)):
        problems.append(f"URL {request.url}, expected {url}")
    for name, value in (headers or {}).items():
        if request.headers.get(name) != value:
            problems.append(f"header {name}: {request.headers.get(name)!r}, expected {value!r}")
    if json is not _UNSET:
        try:
            sent = request_json(request)
        except ValueError:
            sent = f"<not JSON: {request_body(request)[:80]!r}>"
        if sent != json:
            problems.append(f"JSON body {sent!r}, expected {json!r}")
    if content is not None:
        expected = content.encode() if isinstance(content, str) else content
        if request_body(request) != expected:
            problems.append(f"body {request_body(request)[:200]!r}, expected {expected[:200]!r}")
    return problems
