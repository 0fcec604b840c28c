"""The blocking facade: the same client, for code that is not async.

    from tether.sync import HttpClient

    with HttpClient() as client:
        response = client.get("https://example.org/", params={"q": "x"})
        print(response.status, response.body_as_text())

        with client.prepare_get("https://example.org/big").execute() as streaming:   # streams
            with open("big.bin", "wb") as sink:
                streaming.body_as_channel().read_to(sink)

        with client.sse("https://example.org/events") as session:                   # SSE plugin
            for event in session.incoming:
                print(event.data)

The async client is the source of truth: every call runs on the async `tether.HttpClient` on a private
event loop in a background thread. That is also why it works inside a thread that already runs an
event loop (a Jupyter notebook): the caller's loop is never re-entered.

The surface is the async one, name for name, blocking (`aclose` is `close`, `async with` is `with`,
`async for` is `for`); `tests/test_sync_surface.py` compares the two so they cannot drift. Exceptions
are re-raised without the frames of the background thread's plumbing (asyncio, concurrent.futures).
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import io
import os
import threading
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Callable,
    Coroutine,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from concurrent.futures import Executor
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from yarl import URL

from tether.channel import ByteReadChannel as AsyncByteReadChannel
from tether.channel import WritableSink
from tether.client import HttpClient as AsyncHttpClient
from tether.config import HttpClientConfig
from tether.content import OutgoingContent
from tether.duplex import DuplexCall as AsyncDuplexCall
from tether.engine.base import HttpClientEngine
from tether.engine.config import HttpClientEngineConfig
from tether.engine.factory import HttpClientEngineFactory
from tether.events import Events
from tether.exceptions import ClientClosedError
from tether.http import Headers, HttpProtocolVersion, HttpStatusCode
from tether.plugins.api import ClientPlugin, PluginBuilder
from tether.request import HttpRequestBuilder, HttpRequestData
from tether.response import HttpResponse as AsyncHttpResponse
from tether.url import redact_userinfo

if TYPE_CHECKING:
    from tether.plugins.auth.providers import AuthProvider
    from tether.plugins.sse.parser import ServerSentEvent
    from tether.plugins.sse.session import SSESession as AsyncSSESession
    from tether.websockets.sync import WebSocketSession as SyncWebSocketSession

__all__ = ["ByteReadChannel", "DuplexCall", "HttpClient", "HttpResponse", "HttpStatement", "SSESession"]

T = TypeVar("T")
P = TypeVar("P")
A = TypeVar("A", bound="AuthProvider")

#: Source files whose frames are the background thread's plumbing, dropped from re-raised tracebacks.
_PLUMBING = (
    os.path.dirname(asyncio.__file__),
    os.path.dirname(concurrent.futures.__file__),
    threading.__file__,
)


def _without_plumbing(tb: TracebackType | None) -> TracebackType | None:
    """`tb` without the frames of asyncio, concurrent.futures and threading."""
    frames: list[TracebackType] = []
    while tb is not None:
        if not tb.tb_frame.f_code.co_filename.startswith(_PLUMBING):
            frames.append(tb)
        tb = tb.tb_next
    rebuilt: TracebackType | None = None
    for entry in reversed(frames):
        rebuilt = TracebackType(rebuilt, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return rebuilt


#: How long stopping the loop waits for the calls still on it to end by themselves (the engine's close
#: fails them at once; this is their time to unwind), and then again after cancelling the rest.
_SETTLE_LIMIT = 1.0


_END = object()
#: How much of a file object a blocking body reads per chunk.
_FILE_CHUNK = 64 * 1024


def _blocking_body(kwargs: dict[str, Any]) -> dict[str, Any]:
    """`content=` a blocking iterable (a generator, a list of chunks) or a binary file object, as
    `requests` and `httpx.Client` take it: turned into an async stream that pulls each chunk on the
    loop's executor (the iterable may block: reading a file, a pipe). A one-shot stream, like an
    async generator: a redirect or retry that must re-send it raises `BodyNotReplayableError`."""
    content = kwargs.get("content")
    if (
        content is None
        or isinstance(content, (bytes, bytearray, memoryview, str, OutgoingContent, AsyncIterable, Mapping))
        or callable(content)
    ):
        return kwargs  # a mapping is not a body of chunks: the async client names json=/data= for it
    read = getattr(content, "read", None)
    if callable(read):
        if isinstance(content, io.TextIOBase):
            raise TypeError("content= takes a binary file: open it with mode 'rb' (this one reads text)")
        return {**kwargs, "content": _pull(_read_chunks(read))}
    if isinstance(content, Iterable):
        return {**kwargs, "content": _pull(iter(content))}
    return kwargs  # the async client names what it cannot send


def _read_chunks(read: Callable[[int], Any]) -> Iterator[Any]:
    """A file's chunks up to its first empty read (b"", or "" from a text-like object that is not an
    `io.TextIOBase`, whose str chunks `chunks_of` then refuses)."""
    while chunk := read(_FILE_CHUNK):
        yield chunk


async def _pull(chunks: Iterator[Any]) -> AsyncIterator[Any]:
    loop = asyncio.get_running_loop()
    while (chunk := await loop.run_in_executor(None, next, chunks, _END)) is not _END:
        yield chunk


class _LoopThread:
    """An event loop running forever in a daemon thread."""

    def __init__(self) -> None:
        self.users = 0  # clients sharing this loop (client.config(...) shares it)
        self.clients: set[AsyncHttpClient] = set()  # those not closed yet: closed at exit if forgotten
        self.loop = asyncio.new_event_loop()
        self._calls: set[concurrent.futures.Future[Any]] = set()  # calls other threads are waiting on
        self._stopping = False
        self._thread = threading.Thread(target=self.loop.run_forever, name="tether-sync", daemon=True)
        self._thread.start()
        _LIVE_RUNNERS.add(self)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if threading.current_thread() is self._thread:
            coroutine.close()
            raise RuntimeError("tether.sync cannot be called from its own event loop thread (a plugin hook?)")
        if self._stopping or self.loop.is_closed() or not self._thread.is_alive():
            coroutine.close()  # never started: no "was never awaited" warning either
            raise ClientClosedError("This HttpClient is closed")
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        self._calls.add(future)
        try:
            return future.result()
        except concurrent.futures.CancelledError:
            if self._stopping:  # the client closed under this call and it did not end in time
                raise ClientClosedError("The HttpClient was closed while this call was running") from None
            raise
        except BaseException as exc:
            if not future.done():  # interrupted while waiting (Ctrl-C): stop the call too
                future.cancel()
            raise exc.with_traceback(_without_plumbing(exc.__traceback__))  # noqa: B904 -- the same exception: its chain stays
        finally:
            self._calls.discard(future)

    def stop(self) -> None:
        """Stop the loop without stranding a thread: the calls still running on it (another thread's
        request, in flight when the client closed) get time to end -- the engine's close fails them --,
        are cancelled if they do not, and a caller still waiting is woken; then the loop stops."""
        self._stopping = True
        _LIVE_RUNNERS.discard(self)
        if self._thread.is_alive() and not self.loop.is_closed():
            settled = asyncio.run_coroutine_threadsafe(_settle(), self.loop)
            with contextlib.suppress(concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
                settled.result(3 * _SETTLE_LIMIT)
            for call in list(self._calls):  # never left waiting on a loop that will not run again
                call.cancel()
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        if not self.loop.is_running():
            self.loop.close()


#: Background loops still running, and through them the clients nobody closed.
_LIVE_RUNNERS: set[_LoopThread] = set()


@atexit.register
def _close_forgotten_clients() -> None:
    """At interpreter exit, close the clients nobody closed (their loop threads are daemons: without
    this, the engine's library is torn down mid-session, and aiohttp prints "Unclosed client session"
    and "Unclosed connector" where the other engines say nothing)."""
    for runner in list(_LIVE_RUNNERS):
        for client in list(runner.clients):
            with contextlib.suppress(BaseException):
                runner.run(client.close())
        with contextlib.suppress(BaseException):
            runner.stop()


async def _settle() -> None:
    """Let the loop's other tasks end (within `_SETTLE_LIMIT`), then cancel what is left and wait once more."""
    current = asyncio.current_task()
    pending = [task for task in asyncio.all_tasks() if task is not current]
    if pending:
        _, left = await asyncio.wait(pending, timeout=_SETTLE_LIMIT)
        for task in left:
            task.cancel()
        if left:
            await asyncio.wait(left, timeout=_SETTLE_LIMIT)


class ByteReadChannel:
    """A response body as a blocking stream: `read(n)`, `read_all()`, `read_to(sink)`, iteration."""

    def __init__(self, inner: AsyncByteReadChannel, runner: _LoopThread) -> None:
        self._inner = inner
        self._runner = runner

    @property
    def is_closed_for_read(self) -> bool:
        return self._inner.is_closed_for_read

    @property
    def bytes_received(self) -> int:
        return self._inner.bytes_received

    def read(self, n: int = -1) -> bytes:
        """Up to `n` bytes (all remaining when n < 0); b"" only at the end of the stream."""
        return self._runner.run(self._inner.read(n))

    def read_exactly(self, n: int) -> bytes:
        """Exactly `n` bytes; `ProtocolError` if the stream ends first."""
        return self._runner.run(self._inner.read_exactly(n))

    def read_all(self) -> bytes:
        return self._runner.run(self._inner.read_all())

    @property
    def executor(self) -> Executor | None:
        """Where `read_to` writes into a blocking sink (the engine's executor)."""
        return self._inner.executor

    def read_to(self, sink: WritableSink, limit: int | None = None, *, blocking: bool | None = None) -> int:
        """Copy the stream into `sink` (a binary file, or anything with `write`), chunk by chunk."""
        return self._runner.run(self._inner.read_to(sink, limit, blocking=blocking))

    def discard(self) -> int:
        return self._runner.run(self._inner.discard())

    def close(self) -> None:
        """Stop reading and release the connection."""
        self._runner.run(self._inner.aclose())

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self._runner.run(self._inner.read(256 * 1024)):
            yield chunk

    def __repr__(self) -> str:
        return repr(self._inner)


class HttpResponse:
    """A response with blocking body access. Returned by request methods with the body in memory;
    inside `with statement.execute() as response:` the body streams."""

    def __init__(self, inner: AsyncHttpResponse, runner: _LoopThread) -> None:
        self._inner = inner
        self._runner = runner

    @property
    def status(self) -> HttpStatusCode:
        return self._inner.status

    @property
    def headers(self) -> Headers:
        return self._inner.headers

    @property
    def version(self) -> HttpProtocolVersion:
        return self._inner.version

    @property
    def request(self) -> HttpRequestData:
        return self._inner.request

    @property
    def request_time(self) -> float:
        return self._inner.request_time

    @property
    def response_time(self) -> float:
        return self._inner.response_time

    @property
    def url(self) -> str:
        return self._inner.url

    @property
    def content_type(self) -> str | None:
        return self._inner.content_type

    @property
    def is_body_in_memory(self) -> bool:
        return self._inner.is_body_in_memory

    def _read(self, read: Callable[[], Coroutine[Any, Any, T]]) -> T:
        # A body in memory is read right here: no round trip to the loop thread, and it still
        # works after the client closed. Anything that would wait goes to the loop.
        if self._inner.is_body_in_memory:
            coroutine = read()
            try:
                coroutine.send(None)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
            coroutine.close()
        return self._runner.run(read())

    def body_as_bytes(self) -> bytes:
        return self._read(self._inner.body_as_bytes)

    def body_as_text(self, fallback_charset: str = "utf-8") -> str:
        return self._read(lambda: self._inner.body_as_text(fallback_charset))

    def json(self) -> Any:
        return self._read(self._inner.json)

    def body(self, type_: type[T]) -> T:
        return self._runner.run(self._inner.body(type_))

    def body_as_channel(self) -> ByteReadChannel:
        """The body as a blocking stream (a body in memory gives a fresh one every time)."""
        return ByteReadChannel(self._inner.body_as_channel(), self._runner)

    def raise_for_status(self) -> HttpResponse:
        """Raise what `expect_success` would for this response (3xx, 4xx, 5xx), else return it."""
        self._inner.raise_for_status()
        return self

    def iter_bytes(self) -> Iterator[bytes]:
        """The body chunk by chunk, as it arrives (`iter(response.body_as_channel())`)."""
        return iter(self.body_as_channel())

    @property
    def executor(self) -> Executor | None:
        """Where blocking work on this body runs (`read_to` into a file): the engine's executor."""
        return self._inner.executor

    def read_to(self, sink: WritableSink, limit: int | None = None, *, blocking: bool | None = None) -> int:
        """Stream the body into `sink` (`response.body_as_channel().read_to(sink)`)."""
        return self.body_as_channel().read_to(sink, limit, blocking=blocking)

    def close(self) -> None:
        """Release the connection without reading the rest of the body (`aclose` on the async one)."""
        if self._inner.is_body_in_memory:
            return
        self._runner.run(self._inner.aclose())

    def _repr_html_(self) -> str:
        return self._inner._repr_html_()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        self._inner._repr_pretty_(printer, cycle)

    def __repr__(self) -> str:
        return repr(self._inner)


class _Execution:
    """`statement.execute()`: used directly it reads the whole body; in `with` it streams."""

    def __init__(self, client: HttpClient, builder: HttpRequestBuilder) -> None:
        self._client = client
        self._builder = builder
        self._full: HttpResponse | None = None
        self._streaming: HttpResponse | None = None

    def _response(self) -> HttpResponse:
        if self._full is None:
            inner = self._client._run(self._read_fully())
            self._full = HttpResponse(inner, self._client._runner)
        return self._full

    async def _read_fully(self) -> AsyncHttpResponse:
        return await self._client._async.prepare(self._builder).execute()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._response(), name)

    def __enter__(self) -> HttpResponse:
        inner = self._client._run(self._client._async.execute(self._builder.copy()))
        self._streaming = HttpResponse(inner, self._client._runner)
        return self._streaming

    def __exit__(self, *exc: object) -> None:
        if self._streaming is not None:
            self._streaming.close()


class HttpStatement:
    """A prepared request: `statement.execute()` reads the whole body; `with statement.execute() as r:`
    streams it."""

    def __init__(self, client: HttpClient, builder: HttpRequestBuilder) -> None:
        self.client = client
        self.builder = builder

    def execute(self) -> _Execution:
        return _Execution(self.client, self.builder)

    def __repr__(self) -> str:
        return f"<HttpStatement {self.builder.method} {redact_userinfo(str(self.builder.url))}>"


class SSESession:
    """A connected SSE session: `for event in session.incoming:` (blocking), `close()`."""

    def __init__(self, inner: AsyncSSESession, runner: _LoopThread) -> None:
        self._inner = inner
        self._runner = runner

    @property
    def response(self) -> HttpResponse | None:
        inner = self._inner.response
        return HttpResponse(inner, self._runner) if inner is not None else None

    @property
    def last_event_id(self) -> str:
        return self._inner.last_event_id

    @property
    def incoming(self) -> Iterator[ServerSentEvent]:
        """The events, as they arrive (iterate once)."""
        events = self._inner.incoming
        runner = self._runner

        async def next_event() -> ServerSentEvent | None:
            return await anext(events, None)

        def blocking() -> Iterator[ServerSentEvent]:
            while (event := runner.run(next_event())) is not None:
                yield event

        return blocking()

    def close(self) -> None:
        self._runner.run(self._inner.close())

    def __enter__(self) -> SSESession:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class _SSESessionContext:
    """`with client.sse(url) as session:` connects on entry and closes on exit."""

    def __init__(self, client: HttpClient, url: str | URL, kwargs: dict[str, Any]) -> None:
        self._client = client
        self._url = url
        self._kwargs = kwargs
        self._session: SSESession | None = None

    def __enter__(self) -> SSESession:
        self._session = self._client.sse_session(self._url, **self._kwargs)
        return self._session

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            self._session.close()


class DuplexCall:
    """`with client.duplex("POST", url) as call:` `call.send(data)`, `call.close_send()`, and
    `call.response` (blocks until the server sent its head; the body streams while sending goes on)."""

    def __init__(self, inner: AsyncDuplexCall, runner: _LoopThread) -> None:
        self._inner = inner
        self._runner = runner
        self._response: HttpResponse | None = None

    @property
    def response(self) -> HttpResponse:
        if self._response is None:

            async def head() -> AsyncHttpResponse:
                return await self._inner.response

            self._response = HttpResponse(self._runner.run(head()), self._runner)
        return self._response

    def send(self, data: bytes) -> None:
        self._runner.run(self._inner.send(data))

    def close_send(self) -> None:
        self._runner.run(self._inner.close_send())

    def __enter__(self) -> DuplexCall:
        self._runner.run(self._inner.__aenter__())
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._runner.run(self._inner.__aexit__(exc_type, exc, tb))


class HttpClient:
    """Blocking twin of `tether.HttpClient`: same constructor, same methods, same keywords."""

    def __init__(
        self,
        engine_factory: HttpClientEngineFactory[Any] | HttpClientEngine | str | None = None,
        configure: Callable[[HttpClientConfig[Any]], None] | None = None,
        *,
        _runner: _LoopThread | None = None,
        _client: AsyncHttpClient | None = None,
    ) -> None:
        # The async client first: a configuration error must not leave a loop thread behind.
        self._async = _client if _client is not None else AsyncHttpClient(engine_factory, configure)
        self._runner = _runner or _LoopThread()
        self._runner.users += 1
        self._runner.clients.add(self._async)
        self._closed = False

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if self._closed:
            coroutine.close()
            raise ClientClosedError("This HttpClient is closed")
        return self._runner.run(coroutine)

    # -- properties -------------------------------------------------------------------------------
    @property
    def engine(self) -> HttpClientEngine:
        return self._async.engine

    @property
    def engine_config(self) -> HttpClientEngineConfig:
        return self._async.engine_config

    @property
    def expect_success(self) -> bool:
        return self._async.expect_success

    @property
    def max_send_count(self) -> int:
        return self._async.max_send_count

    @property
    def is_closed(self) -> bool:
        return self._closed

    @property
    def monitor(self) -> Events:
        """The client's events (`tether.events`); handlers run on the client's background loop."""
        return self._async.monitor

    @property
    def plugins(self) -> dict[ClientPlugin[Any], PluginBuilder[Any]]:
        return self._async.plugins

    def plugin(self, plugin: ClientPlugin[P]) -> PluginBuilder[P]:
        return self._async.plugin(plugin)

    def plugin_or_none(self, plugin: ClientPlugin[P]) -> PluginBuilder[P] | None:
        return self._async.plugin_or_none(plugin)

    @property
    def auth_providers(self) -> list[AuthProvider]:
        return self._async.auth_providers

    def auth_provider(self, kind: type[A]) -> A | None:
        return self._async.auth_provider(kind)

    def clear_auth_tokens(self) -> None:
        self._async.clear_auth_tokens()

    # -- lifecycle --------------------------------------------------------------------------------
    def config(self, configure: Callable[[HttpClientConfig[Any]], None]) -> HttpClient:
        """A client sharing the engine (and the background loop) with extra configuration."""
        if self._closed:
            raise ClientClosedError("This HttpClient is closed")
        return HttpClient(_runner=self._runner, _client=self._async.config(configure))

    def websocket(
        self, url: str | URL = "", *, subprotocols: Sequence[str] = (), **kwargs: Any
    ) -> SyncWebSocketSession:
        """`with client.websocket(url) as ws:` -- a blocking session (see `tether.websockets.sync`)."""
        return self.websocket_session(url, subprotocols=subprotocols, **kwargs)

    def websocket_session(
        self, url: str | URL = "", *, subprotocols: Sequence[str] = (), **kwargs: Any
    ) -> SyncWebSocketSession:
        """A connected blocking WebSocket session; the caller closes it (`ws.close()` or `with`)."""
        from tether.websockets.sync import WebSocketSession

        inner = self._run(self._async.websocket_session(url, subprotocols=subprotocols, **kwargs))
        return WebSocketSession(inner, self._runner)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._runner.run(self._async.close())
        finally:
            self._runner.clients.discard(self._async)
            self._runner.users -= 1
            if self._runner.users == 0:  # the last client sharing the loop stops it
                self._runner.stop()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- building requests ------------------------------------------------------------------------
    def build_request(self, method: str, url: str | URL = "", **kwargs: Any) -> HttpRequestBuilder:
        return self._async.build_request(method, url, **_blocking_body(kwargs))

    def prepare_request(self, method: str, url: str | URL = "", **kwargs: Any) -> HttpStatement:
        return HttpStatement(self, self._async.build_request(method, url, **_blocking_body(kwargs)))

    def prepare(self, builder: HttpRequestBuilder) -> HttpStatement:
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

    # -- streams ------------------------------------------------------------------------------------
    def sse(self, url: str | URL = "", *, method: str = "GET", **kwargs: Any) -> _SSESessionContext:
        """`with client.sse(url) as session:` iterate `session.incoming` (needs the SSE plugin)."""
        return _SSESessionContext(self, url, {"method": method, **kwargs})

    def sse_session(self, url: str | URL = "", *, method: str = "GET", **kwargs: Any) -> SSESession:
        """A connected SSE session; the caller closes it (`session.close()` or `with`)."""
        return SSESession(self._run(self._async.sse_session(url, method=method, **kwargs)), self._runner)

    def duplex(self, method: str, url: str | URL = "", **kwargs: Any) -> DuplexCall:
        """A duplex call: write the request body while the response streams."""
        if self._closed:
            raise ClientClosedError("This HttpClient is closed")
        return DuplexCall(self._async.duplex(method, url, **kwargs), self._runner)

    # -- sending ----------------------------------------------------------------------------------
    def request(self, method: str, url: str | URL = "", **kwargs: Any) -> HttpResponse:
        """Send a request and read the whole body."""
        return HttpResponse(self._run(self._async.request(method, url, **_blocking_body(kwargs))), self._runner)

    def get(self, url: str | URL = "", **kwargs: Any) -> HttpResponse:
        return self.request("GET", url, **kwargs)

    def post(self, url: str | URL = "", **kwargs: Any) -> HttpResponse:
        return self.request("POST", url, **kwargs)

    def put(self, url: str | URL = "", **kwargs: Any) -> HttpResponse:
        return self.request("PUT", url, **kwargs)

    def patch(self, url: str | URL = "", **kwargs: Any) -> HttpResponse:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str | URL = "", **kwargs: Any) -> HttpResponse:
        return self.request("DELETE", url, **kwargs)

    def head(self, url: str | URL = "", **kwargs: Any) -> HttpResponse:
        return self.request("HEAD", url, **kwargs)

    def options(self, url: str | URL = "", **kwargs: Any) -> HttpResponse:
        return self.request("OPTIONS", url, **kwargs)

    def execute(self, builder: HttpRequestBuilder) -> HttpResponse:
        """Run the whole pipeline for `builder`; the body streams (close the response, or read it)."""
        return HttpResponse(self._run(self._async.execute(builder)), self._runner)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<tether.sync.HttpClient engine={self._async.engine.name} {state}>"
