"""`HttpClient`: the facade. One pipeline, any engine, composable plugins."""

from __future__ import annotations

import functools
import json as jsonlib
import weakref
from collections.abc import AsyncIterable, Awaitable, Callable, Coroutine, Generator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, cast, overload

from yarl import URL

from tether.attributes import AttributeKey
from tether.channel import ByteReadChannel
from tether.config import HttpClientConfig
from tether.content import (
    NO_CONTENT,
    ByteArrayContent,
    FileField,
    FormDataContent,
    FormFields,
    MultiPartFormDataContent,
    OutgoingContent,
    PendingMultiPartContent,
    StreamContent,
    TextContent,
    WriterChannelContent,
)
from tether.duplex import DuplexCall
from tether.engine.base import HttpClientEngine, check_request
from tether.engine.config import HttpClientEngineConfig
from tether.engine.factory import HttpClientEngineFactory, default_engine_factory, engine_factory_named
from tether.engine.upgrade import UPGRADE_CALL
from tether.events import (
    Events,
    HttpClientClosed,
    HttpRequestCreated,
    HttpRequestIsReadyForSending,
    HttpResponseReceived,
)
from tether.exceptions import (
    BodyNotReplayableError,
    ClientClosedError,
    ConnectError,
    InvalidUrlError,
    ProtocolError,
    SendCountExceedException,
    SSEClientException,
)
from tether.http import HeadersInit, build_headers
from tether.plugins.api import (
    NOT_HANDLED,
    ClientPlugin,
    PluginBuilder,
    PluginHandlers,
    ResponseSend,
    Sender,
    SendHandler,
    call_handler,
)
from tether.request import HttpRequestBuilder
from tether.response import MISSING_TRANSFORM, HttpResponse
from tether.url import QueryParams, redact_userinfo, take_userinfo, with_params

if TYPE_CHECKING:
    from tether.plugins.auth.providers import AuthProvider
    from tether.plugins.sse.session import SSESession, SSESessionContext
    from tether.websockets.connect import WebSocketSessionContext
    from tether.websockets.session import WebSocketSession

__all__ = ["HttpClient", "HttpStatement"]

C = TypeVar("C", bound=HttpClientEngineConfig)
P = TypeVar("P")
A = TypeVar("A", bound="AuthProvider")

_UNSET: Any = object()

#: Keywords every request accepts; anything else must be a per-call option of an installed plugin.
REQUEST_KEYWORDS = frozenset(
    {"params", "headers", "cookies", "json", "data", "content", "files", "expect_success", "timeout"}
)
SUPPORTED_SCHEMES = frozenset({"http", "https", "ws", "wss"})


class _EngineHolder:
    """Counts the clients that share an engine; the last one to close closes a managed engine."""

    def __init__(self, engine: HttpClientEngine, managed: bool) -> None:
        self.engine = engine
        self.managed = managed
        self.references = 0

    async def release(self) -> None:
        self.references -= 1
        if self.references == 0 and self.managed:
            await self.engine.close()


class _SendState:
    """Per-call bookkeeping for the innermost sender."""

    __slots__ = ("count", "last_response")

    def __init__(self) -> None:
        self.count = 0
        self.last_response: HttpResponse | None = None


_CLOSED_DURING_CALL = "the HttpClient was closed while this call was running"
_SEND_STATE: AttributeKey[_SendState] = AttributeKey("SendState")
_SEND_LIMIT: AttributeKey[int] = AttributeKey("SendLimit")


def raise_send_limit(request: HttpRequestBuilder, limit: int) -> None:
    """Allow this call up to `limit` sends (never lowers it): for plugins that re-send on purpose,
    like HttpRequestRetry, so their sends do not count against the redirect-loop guard."""
    request.attributes[_SEND_LIMIT] = max(limit, request.attributes.get(_SEND_LIMIT, 0))


class HttpClient:
    """An HTTP client over a swappable engine.

    >>> async def main() -> None:
    ...     async with HttpClient(Aiohttp, configure) as client:
    ...         response = await client.get("users", params={"page": 2})
    ...         users = await response.json()

    `HttpClient()` picks the default engine (see `tether.engine.ENGINE_PRIORITY`). Passing an engine
    *factory* makes the client own the engine; passing an engine *instance* leaves closing it to you.
    """

    @overload
    def __init__(
        self,
        engine_factory: HttpClientEngineFactory[C],
        configure: Callable[[HttpClientConfig[C]], None] | None = None,
    ) -> None: ...
    @overload
    def __init__(
        self,
        engine_factory: HttpClientEngine | None = None,
        configure: Callable[[HttpClientConfig[Any]], None] | None = None,
    ) -> None: ...
    @overload
    def __init__(
        self,
        engine_factory: str,
        configure: Callable[[HttpClientConfig[Any]], None] | None = None,
    ) -> None: ...
    def __init__(
        self,
        engine_factory: HttpClientEngineFactory[Any] | HttpClientEngine | str | None = None,
        configure: Callable[[HttpClientConfig[Any]], None] | None = None,
    ) -> None:
        if isinstance(engine_factory, str):  # an entry-point name: HttpClient("httpx")
            engine_factory = engine_factory_named(engine_factory)
        elif not isinstance(engine_factory, (HttpClientEngine, HttpClientEngineFactory, type(None))):
            hint = " (a configure function goes second, or as configure=...)" if callable(engine_factory) else ""
            raise TypeError(
                f"HttpClient(...) takes an engine factory (e.g. tether_aiohttp.Aiohttp), an engine instance, "
                f"an installed engine's name ('aiohttp') or nothing, got {engine_factory!r}{hint}"
            )
        if isinstance(configure, (HttpClientEngineFactory, HttpClientEngine)):
            name = getattr(configure, "name", type(configure).__name__)
            raise TypeError(
                f"configure= got the engine {name}; the engine is the first argument: HttpClient({name}, configure), "
                "configure being a function that takes the HttpClientConfig"
            )
        if configure is not None and not callable(configure):
            raise TypeError(f"configure must be a function taking the HttpClientConfig, got {configure!r}")
        if isinstance(engine_factory, HttpClientEngine):
            config: HttpClientConfig[Any] = HttpClientConfig(engine_factory.config)
            if configure is not None:
                configure(config)
            holder = _EngineHolder(engine_factory, managed=False)
        else:
            factory = engine_factory if engine_factory is not None else default_engine_factory()
            config = HttpClientConfig(factory.create_config())
            if configure is not None:
                configure(config)
            holder = _EngineHolder(factory.create(config.engine), managed=True)
        self._setup(config, holder)

    @classmethod
    def _sharing(cls, config: HttpClientConfig[Any], holder: _EngineHolder) -> HttpClient:
        client = cls.__new__(cls)
        client._setup(config, holder)
        return client

    def _setup(self, config: HttpClientConfig[Any], holder: _EngineHolder) -> None:
        config.validate()
        self._config = config
        self._holder = holder
        holder.references += 1
        self._closed = False
        #: Streamed bodies not read to the end yet, closed by `close()` (a read waiting on one would
        #: otherwise wait on a connection some engines never fail when they close).
        self._open_bodies: weakref.WeakSet[ByteReadChannel] = weakref.WeakSet()
        #: Open WebSocket sessions: `close()` closes them first (1001), as Ktor cancels them with the client.
        self._websocket_sessions: weakref.WeakSet[WebSocketSession] = weakref.WeakSet()
        #: The client's events (`client.monitor.subscribe(HttpResponseReceived, handler)`).
        self.monitor = Events()
        self._subscribers = self.monitor.subscribers  # empty while nobody listens: events cost nothing
        self._executor = holder.engine.executor  # where blocking work on response bodies runs
        self.plugins: dict[ClientPlugin[Any], PluginBuilder[Any]] = {}
        self._build_pipeline()

    def _build_pipeline(self) -> None:
        from tether.plugins.redirect import HttpRedirect
        from tether.plugins.validator import HttpCallValidator

        # Ktor's fixed order: validation outermost, then redirects, then the user's plugins.
        defaults: list[ClientPlugin[Any]] = [HttpCallValidator]
        if self._config.follow_redirects:
            defaults.append(HttpRedirect)
        by_plugin = {installation.plugin: installation for installation in self._config.installations}
        order = defaults + [plugin for plugin in by_plugin if plugin not in defaults]
        handlers: list[PluginHandlers] = []
        for plugin in order:
            installation = by_plugin.get(plugin)
            plugin_config = installation.build_config() if installation else plugin.config_factory()
            builder = PluginBuilder(self, plugin_config, plugin)
            plugin.body(builder)
            self.plugins[plugin] = builder
            handlers.append(builder.handlers)
        self._setup_request = [h for hs in handlers for h in hs.setup_request]
        self._on_request = [h for hs in handlers for h in hs.on_request]
        self._transform_request_body = [h for hs in handlers for h in hs.transform_request_body]
        self._send = [h for hs in handlers for h in hs.send]
        self._sending_request = [h for hs in handlers for h in hs.sending_request]
        self._on_response = [h for hs in handlers for h in hs.on_response]
        self._transform_response_body = [h for hs in handlers for h in hs.transform_response_body]
        self._on_close = [h for hs in handlers for h in hs.on_close]
        # `timeout=` works on every request: without HttpTimeout installed, such a request goes
        # through a second chain with a default HttpTimeout innermost, as if installed last (so
        # HttpRequestRetry's retry_on_timeout sees its timeouts, one limit per attempt).
        self._call_options = frozenset({"timeout"}).union(*(plugin.call_options for plugin in order))
        self._timeout_chain: SendFunction | None = None
        # The Send chain is built once; per-call state travels in the request's attributes.
        self._chain = _send_chain(self._send, self._send_to_engine)

    def _chain_for(self, builder: HttpRequestBuilder) -> SendFunction:
        """The send chain for a request with per-call options."""
        from tether.plugins.timeout import HttpTimeout

        if "timeout" not in builder.call_options or HttpTimeout in self.plugins:
            return self._chain
        if self._timeout_chain is None:
            timeout = PluginBuilder(self, HttpTimeout.config_factory(), HttpTimeout)
            HttpTimeout.body(timeout)
            self._timeout_chain = _send_chain([*self._send, *timeout.handlers.send], self._send_to_engine)
        return self._timeout_chain

    # -- properties -------------------------------------------------------------------------------
    @property
    def engine(self) -> HttpClientEngine:
        return self._holder.engine

    @property
    def engine_config(self) -> HttpClientEngineConfig:
        return self._holder.engine.config

    @property
    def expect_success(self) -> bool:
        return self._config.expect_success

    @property
    def max_send_count(self) -> int:
        return self._config.max_send_count

    @property
    def is_closed(self) -> bool:
        return self._closed

    def plugin(self, plugin: ClientPlugin[P]) -> PluginBuilder[P]:
        """The installed instance of `plugin`; KeyError naming it when it is not installed."""
        try:
            return self.plugins[plugin]
        except KeyError:
            raise KeyError(f"Plugin {plugin.name} is not installed") from None

    def plugin_or_none(self, plugin: ClientPlugin[P]) -> PluginBuilder[P] | None:
        return self.plugins.get(plugin)

    @property
    def auth_providers(self) -> list[AuthProvider]:
        """The providers of the installed Auth plugin (empty without it)."""
        from tether.plugins.auth.plugin import Auth

        instance = self.plugins.get(Auth)
        return list(instance.plugin_config.providers) if instance is not None else []

    def auth_provider(self, kind: type[A]) -> A | None:
        """The installed provider of class `kind` (e.g. `BearerAuthProvider`), or None."""
        return next((p for p in self.auth_providers if isinstance(p, kind)), None)

    def clear_auth_tokens(self) -> None:
        """Make every provider load its credentials or tokens again when next needed."""
        for provider in self.auth_providers:
            provider.clear_token()

    # -- lifecycle --------------------------------------------------------------------------------
    def config(self, configure: Callable[[HttpClientConfig[Any]], None]) -> HttpClient:
        """A new client on the same engine, with this client's configuration plus `configure`.

        Nothing already applied runs twice; the engine stays open until every client sharing it is
        closed.
        """
        self._check_open()
        config = self._config.copy()
        configure(config)
        return HttpClient._sharing(config, self._holder)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            for body in list(self._open_bodies):
                await body._close_for_client()
            if self._websocket_sessions:
                from tether.websockets.session import close_going_away

                await close_going_away(self._websocket_sessions)
            for handler in self._on_close:
                await call_handler(handler())
        finally:
            await self._holder.release()
        if self._subscribers:
            await self.monitor.emit_new(HttpClientClosed, self)

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise ClientClosedError("This HttpClient is closed")

    # -- building requests ------------------------------------------------------------------------
    def build_request(
        self,
        method: str,
        url: str | URL = "",
        *,
        params: QueryParams = None,
        headers: HeadersInit = None,
        cookies: Mapping[str, str] | None = None,
        json: Any = _UNSET,
        data: FormFields | bytes | str | None = None,
        content: Any = None,
        files: Mapping[str, FileField] | None = None,
        expect_success: bool | None = None,
        **call_options: Any,
    ) -> HttpRequestBuilder:
        """A request builder from httpx-style keywords (what every request method uses)."""
        unknown = sorted(set(call_options) - self._call_options) if call_options else None
        if unknown:
            allowed = sorted(self._call_options - REQUEST_KEYWORDS)
            raise TypeError(
                f"Unexpected request keyword(s) {', '.join(unknown)}; accepted: "
                f"{', '.join(sorted(REQUEST_KEYWORDS))}"
                + (f", and for the installed plugins: {', '.join(allowed)}" if allowed else "")
            )
        builder = HttpRequestBuilder(method, url, build_headers(headers))
        if params is not None:
            builder.url = with_params(builder.url, params)
        if cookies:
            pairs = "; ".join(f"{name}={value}" for name, value in cookies.items())
            existing = builder.headers.get("Cookie")
            builder.headers["Cookie"] = f"{existing}; {pairs}" if existing else pairs
        if json is not _UNSET or data is not None or content is not None or files is not None:
            builder.body = _body_from(json, data, content, files)
        builder.expect_success = expect_success
        if call_options:
            builder.call_options = call_options
        return builder

    def prepare_request(self, method: str, url: str | URL = "", **kwargs: Any) -> HttpStatement:
        """A statement: nothing is sent until it is executed (and it can be executed again)."""
        return HttpStatement(self, self.build_request(method, url, **kwargs))

    def prepare(self, builder: HttpRequestBuilder) -> HttpStatement:
        """A statement for a request built by hand."""
        return HttpStatement(self, builder)

    def prepare_get(self, url: str | URL = "", **kwargs: Any) -> HttpStatement:
        return self.prepare_request("GET", url, **kwargs)

    def prepare_post(self, url: str | URL = "", **kwargs: Any) -> HttpStatement:
        return self.prepare_request("POST", url, **kwargs)

    def prepare_put(self, url: str | URL = "", **kwargs: Any) -> HttpStatement:
        return self.prepare_request("PUT", url, **kwargs)

    def prepare_patch(self, url: str | URL = "", **kwargs: Any) -> HttpStatement:
        return self.prepare_request("PATCH", url, **kwargs)

    def prepare_delete(self, url: str | URL = "", **kwargs: Any) -> HttpStatement:
        return self.prepare_request("DELETE", url, **kwargs)

    def prepare_head(self, url: str | URL = "", **kwargs: Any) -> HttpStatement:
        return self.prepare_request("HEAD", url, **kwargs)

    def prepare_options(self, url: str | URL = "", **kwargs: Any) -> HttpStatement:
        return self.prepare_request("OPTIONS", url, **kwargs)

    def sse(self, url: str | URL = "", *, method: str = "GET", **kwargs: Any) -> SSESessionContext:
        """`async with client.sse(url) as session:` iterate `session.incoming` (needs the SSE plugin).

        Keywords: the request keywords, plus per-call SSE settings (`buffer_policy`,
        `reconnection_time`, `max_reconnection_attempts`, `show_comment_events`, `show_retry_events`,
        `max_event_size`).
        """
        from tether.plugins.sse.session import SSESessionContext

        return SSESessionContext(self.sse_session(url, method=method, **kwargs))

    async def sse_session(self, url: str | URL = "", *, method: str = "GET", **kwargs: Any) -> SSESession:
        """A connected SSE session; the caller closes it (`await session.close()` or `async with`)."""
        from tether.plugins.sse.plugin import SSE
        from tether.plugins.sse.session import open_session

        instance = self.plugin_or_none(SSE)
        if instance is None:
            raise SSEClientException(None, None, "The SSE plugin is not installed: config.install(SSE)")
        return await open_session(self, method, url, instance.plugin_config, kwargs)

    def duplex(self, method: str, url: str | URL = "", **kwargs: Any) -> DuplexCall:
        """A duplex call: write the request body while the response streams (see `tether.duplex`)."""
        content_type = kwargs.pop("content_type", "application/octet-stream")
        body = WriterChannelContent(content_type)
        builder = self.build_request(method, url, content=body, **kwargs)
        return DuplexCall(self, builder, body)

    def websocket(
        self, url: str | URL = "", *, subprotocols: Sequence[str] = (), **kwargs: Any
    ) -> WebSocketSessionContext:
        """`async with client.websocket(url) as ws:` (needs the WebSockets plugin; see `tether.websockets`)."""
        from tether.websockets.connect import WebSocketSessionContext

        return WebSocketSessionContext(self.websocket_session(url, subprotocols=subprotocols, **kwargs))

    async def websocket_session(
        self, url: str | URL = "", *, subprotocols: Sequence[str] = (), **kwargs: Any
    ) -> WebSocketSession:
        """A connected WebSocket session; the caller closes it (`await ws.close()` or `async with`)."""
        from tether.websockets.connect import connect

        return await connect(self, url, subprotocols, kwargs)

    # -- sending ----------------------------------------------------------------------------------
    # request(), the verbs and execute() hand back the coroutine of `_call`, which runs the whole
    # call (building the request included) when awaited: one coroutine frame per call in all.
    def request(self, method: str, url: str | URL = "", **kwargs: Any) -> Coroutine[Any, Any, HttpResponse]:
        """Send a request and read the whole body (the response can be read again and again)."""
        return self._call(None, method, url, kwargs)

    def get(self, url: str | URL = "", **kwargs: Any) -> Coroutine[Any, Any, HttpResponse]:
        return self._call(None, "GET", url, kwargs)

    def post(self, url: str | URL = "", **kwargs: Any) -> Coroutine[Any, Any, HttpResponse]:
        return self._call(None, "POST", url, kwargs)

    def put(self, url: str | URL = "", **kwargs: Any) -> Coroutine[Any, Any, HttpResponse]:
        return self._call(None, "PUT", url, kwargs)

    def patch(self, url: str | URL = "", **kwargs: Any) -> Coroutine[Any, Any, HttpResponse]:
        return self._call(None, "PATCH", url, kwargs)

    def delete(self, url: str | URL = "", **kwargs: Any) -> Coroutine[Any, Any, HttpResponse]:
        return self._call(None, "DELETE", url, kwargs)

    def head(self, url: str | URL = "", **kwargs: Any) -> Coroutine[Any, Any, HttpResponse]:
        return self._call(None, "HEAD", url, kwargs)

    def options(self, url: str | URL = "", **kwargs: Any) -> Coroutine[Any, Any, HttpResponse]:
        return self._call(None, "OPTIONS", url, kwargs)

    def execute(self, builder: HttpRequestBuilder) -> Coroutine[Any, Any, HttpResponse]:
        """Run the whole pipeline for `builder`; the response body streams (close it, or read it)."""
        return self._call(builder)

    async def _call(
        self,
        builder: HttpRequestBuilder | None,
        method: str = "",
        url: str | URL = "",
        kwargs: dict[str, Any] | None = None,
        read: bool = False,
    ) -> HttpResponse:
        """One call. With `builder` the body streams unless `read` (execute, statements); without one
        the request is built from `method`, `url` and `kwargs` and its body read whole (request and
        the verbs)."""
        if builder is None:
            read = True
            # No keywords: the builder needs none of build_request's steps.
            builder = self.build_request(method, url, **kwargs) if kwargs else HttpRequestBuilder(method, url)
        self._check_open()
        if self._subscribers:
            await self.monitor.emit_new(HttpRequestCreated, builder)
        state = _SendState()
        values = builder.attributes._values  # the package's own attributes: no accessor calls
        try:
            if type(builder.body) is PendingMultiPartContent:  # files= with file objects: read them now
                builder.body = await builder.body.load(self._executor)
            for setup in self._setup_request:
                await call_handler(setup(builder))
            if builder._url.raw_user is not None:  # after DefaultRequest, before any other plugin sees it
                _userinfo_to_credentials(builder)
            for on_request in self._on_request:
                await call_handler(on_request(builder, builder.body))
            if self._transform_request_body or not isinstance(builder.body, OutgoingContent):
                await self._transform_body(builder)
            if builder._url.raw_user is not None:  # a plugin's on_request set a URL with userinfo
                _userinfo_to_credentials(builder)
            _check_url(builder._url)
            values = builder.attributes._values  # a hook may have replaced the attributes
            values[_SEND_STATE] = state
            response = await (self._chain(builder) if not builder.call_options else self._chain_for(builder)(builder))
            if read:
                try:
                    await response._read_fully()
                except BaseException:
                    await response.aclose()
                    raise
            return response
        except BaseException as cause:
            try:
                if self._subscribers:
                    await self.monitor.emit_call_ended(builder, state.last_response, cause)
            finally:
                if state.last_response is not None:
                    await state.last_response.aclose()
            if self._closed and isinstance(cause, (ProtocolError, ConnectError)):
                # The client closed under the call: its engine failed the call, each in its own words
                # (aiohttp "Connector is closed", httpx nothing at all, libcurl "engine closed").
                raise ClientClosedError(f"{builder.method} {builder.url}: {_CLOSED_DURING_CALL}") from cause
            raise
        finally:
            # The call is over: no more sends. Dropping the state breaks the cycle
            # state -> response -> request data -> attributes -> state, so the call's objects are
            # freed by reference counting instead of waiting for the garbage collector.
            values.pop(_SEND_STATE, None)
            builder.attributes._values.pop(_SEND_STATE, None)  # a plugin may have swapped in a copy
            state.last_response = None

    async def _transform_body(self, builder: HttpRequestBuilder) -> None:
        body = builder.body
        for transform in self._transform_request_body:
            if isinstance(body, OutgoingContent):
                break
            result = await call_handler(transform(builder, body, builder.body_type))
            if result is not None:
                body = result
        builder.body = _default_content(body)

    async def _send_to_engine(self, builder: HttpRequestBuilder) -> HttpResponse:
        """The innermost sender: counts sends, releases the previous hop, checks, runs the engine."""
        if self._closed:  # closed during the call: no further send (a redirect, a retry, an auth round)
            raise ClientClosedError(f"{builder.method} {builder.url}: {_CLOSED_DURING_CALL}")
        values = builder.attributes._values  # the package's own attributes: no accessor calls per send
        state = values[_SEND_STATE]
        state.count += 1
        limit = max(self._config.max_send_count, values.get(_SEND_LIMIT, 0))
        if state.count > limit:
            raise SendCountExceedException(limit, builder.url)
        previous, state.last_response = state.last_response, None
        if previous is not None:
            await previous.aclose()
        if builder._url.raw_user is not None:  # a Send interceptor (a retry's modify_request) set one
            _userinfo_to_credentials(builder)
        for sending in self._sending_request:
            await call_handler(sending(builder, builder.body))  # type: ignore[arg-type]
        if self._subscribers:
            await self.monitor.emit_new(HttpRequestIsReadyForSending, builder, state.count)
        data = builder.build()
        engine = self._holder.engine
        data = check_request(engine, data)
        if isinstance(data.body, (StreamContent, WriterChannelContent)) and data.body.consumed:
            raise BodyNotReplayableError(
                f"Cannot re-send {data.method} {data.url}: its body is a one-shot stream that was "
                "already sent (pass a callable returning a fresh stream to make it replayable)"
            )
        upgrade = values.get(UPGRADE_CALL)  # set by client.websocket: the engine upgrades instead
        try:
            response_data = await (engine.execute(data) if upgrade is None else upgrade(engine, data))
        except Exception:
            failure = getattr(data.body, "failure", None)  # a streamed body's source failed: its error
            if failure is not None:
                raise failure.with_traceback(failure.__traceback__) from failure.__cause__
            raise
        body = response_data.body
        body._client = self  # a body read the client's close interrupts: ClientClosedError
        if not body._eof:
            self._open_bodies.add(body)  # closed with the client: a read waiting on it wakes at once
        response = HttpResponse(response_data, data, self._convert_body, self._executor)
        state.last_response = response
        if self._subscribers:
            await self.monitor.emit_new(HttpResponseReceived, response)
        for on_response in self._on_response:
            await call_handler(on_response(response))
        return response

    async def _convert_body(self, response: HttpResponse, channel: ByteReadChannel, type_: type) -> object:
        for transform in self._transform_response_body:
            result = await call_handler(transform(response, channel, type_))
            if result is not NOT_HANDLED:
                return result
        return MISSING_TRANSFORM

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<HttpClient engine={self._holder.engine.name} {state}>"


SendFunction = Callable[[HttpRequestBuilder], Awaitable[HttpResponse]]


def _send_chain(handlers: list[SendHandler], innermost: SendFunction) -> SendFunction:
    """The Send handlers (outermost first) around `innermost`, each run of `ResponseSend`s fused."""
    chain = innermost
    end = len(handlers)
    while end:
        if isinstance(handlers[end - 1], ResponseSend):
            start = end - 1
            while start and isinstance(handlers[start - 1], ResponseSend):
                start -= 1
            chain = _fused(cast(list[ResponseSend], handlers[start:end]), chain)
            end = start
        else:
            end -= 1
            chain = _wrap(handlers[end], chain)
    return chain


def _fused(handlers: list[ResponseSend], inner: SendFunction) -> SendFunction:
    """One coroutine for `handlers` (outermost first) around `inner`: one send, then each handler,
    innermost first, passes the response on or follows it -- with the sender it would have had, the
    ones inside it chained as usual -- as the nested handlers would."""
    steps: list[tuple[ResponseSend, Sender]] = []
    proceed = inner
    for handler in reversed(handlers):
        steps.append((handler, Sender(proceed)))
        proceed = _wrap(handler, proceed)

    async def send(request: HttpRequestBuilder) -> HttpResponse:
        response = await inner(request)
        for handler, sender in steps:
            if not handler.passes(request, response):
                response = await handler.follow(sender, request, response)
        return response

    return send


def _wrap(
    interceptor: Callable[[Sender, HttpRequestBuilder], Awaitable[HttpResponse]],
    next_: Callable[[HttpRequestBuilder], Awaitable[HttpResponse]],
) -> Callable[[HttpRequestBuilder], Awaitable[HttpResponse]]:
    # A partial, not a closure: calling it runs the interceptor without another Python frame.
    return functools.partial(interceptor, Sender(next_))


def _userinfo_to_credentials(builder: HttpRequestBuilder) -> None:
    """`http://user:pw@host/`: the userinfo leaves the URL (never logged, never in a message, never
    sent by an engine) and becomes Basic credentials of this request, unless it sets Authorization
    itself. HttpRedirect drops them on a hop to another origin, as any Authorization."""
    builder._url, authorization = take_userinfo(builder._url)
    if authorization is not None and "Authorization" not in builder.headers:
        builder.headers["Authorization"] = authorization


def _check_url(url: URL) -> None:
    if url.scheme not in SUPPORTED_SCHEMES or not url.raw_host:
        hint = " (a relative URL needs a base: config.default_request(url=...))" if not url.scheme else ""
        raise InvalidUrlError(f"Cannot send a request to {str(url)!r}: it needs http(s)://host{hint}")


def _body_from(json: Any, data: Any, content: Any, files: Any) -> object:
    given = [name for name, value in (("json", json is not _UNSET), ("content", content is not None)) if value]
    if data is not None or files is not None:
        given.append("data/files")
    if len(given) > 1:
        raise TypeError(f"Give at most one request body, got {' and '.join(given)}")
    if json is not _UNSET:
        return TextContent(jsonlib.dumps(json, ensure_ascii=False), "application/json")
    if files is not None:
        fields = data if isinstance(data, (Mapping, list)) else None
        if PendingMultiPartContent.needed(files):  # file objects: read on the executor when the call starts
            return PendingMultiPartContent(fields, files)
        return MultiPartFormDataContent.from_fields(fields, files)
    if data is not None:
        if isinstance(data, (bytes, str)):
            return _default_content(data)
        return FormDataContent(data)
    if content is None:
        return NO_CONTENT
    return content


def _default_content(body: object) -> OutgoingContent:
    """Built-in conversions applied after the plugins' transform_request_body handlers."""
    if isinstance(body, OutgoingContent):
        return body
    if body is None:
        return NO_CONTENT
    if isinstance(body, (bytes, bytearray, memoryview)):
        return ByteArrayContent(bytes(body))
    if isinstance(body, str):
        return TextContent(body)
    if isinstance(body, AsyncIterable) or callable(body):
        return StreamContent(body)
    raise TypeError(
        f"Cannot send {type(body).__name__} as a request body: pass bytes, str, an async iterable "
        "of bytes, json=..., or install ContentNegotiation (tether.sync.HttpClient also takes a "
        "blocking iterable of bytes or a binary file)"
    )


class _Execution:
    """`await statement.execute()` reads the body; `async with statement.execute() as r:` streams."""

    def __init__(self, client: HttpClient, builder: HttpRequestBuilder) -> None:
        self._client = client
        self._builder = builder
        self._response: HttpResponse | None = None

    def __await__(self) -> Generator[Any, None, HttpResponse]:
        return self._client._call(self._builder.copy(), read=True).__await__()

    async def __aenter__(self) -> HttpResponse:
        self._response = await self._client.execute(self._builder.copy())
        return self._response

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._response is not None:
            await self._response.aclose()


class HttpStatement:
    """A prepared request. Nothing is sent until `execute()`; it can be executed any number of times.

    >>> async with client.prepare_get("/big").execute() as response:   # streams
    ...     await response.body_as_channel().read_to(open("big.bin", "wb"))
    >>> response = await client.prepare_get("/small").execute()          # reads the whole body
    """

    def __init__(self, client: HttpClient, builder: HttpRequestBuilder) -> None:
        self.client = client
        self.builder = builder

    def execute(self) -> _Execution:
        return _Execution(self.client, self.builder)

    def __repr__(self) -> str:
        return f"<HttpStatement {self.builder.method} {redact_userinfo(str(self.builder.url))}>"
