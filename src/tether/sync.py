"""The blocking facade: the same client, for code that is not async.

    from tether.sync import HttpClient

    with HttpClient() as client:
        response = client.get("https://example.org/", params={"q": "x"})
        print(response.status, response.body_as_text())

        with client.prepare_get("https://example.org/big").execute() as streaming:   # streams
            with open("big.bin", "wb") as sink:
                streaming.read_to(sink)

The async client is the source of truth: every call runs on the async `tether.HttpClient` on a private
event loop in a background thread. That is also why it works inside a thread that already runs an
event loop (a Jupyter notebook): the caller's loop is never re-entered.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from tether.channel import ByteReadChannel, WritableSink
from tether.client import HttpClient as AsyncHttpClient
from tether.config import HttpClientConfig
from tether.engine.base import HttpClientEngine
from tether.engine.factory import HttpClientEngineFactory
from tether.http import Headers, HttpProtocolVersion, HttpStatusCode
from tether.request import HttpRequestBuilder, HttpRequestData
from tether.response import HttpResponse as AsyncHttpResponse

if TYPE_CHECKING:
    from tether.websockets.sync import WebSocketSession as SyncWebSocketSession

__all__ = ["HttpClient", "HttpResponse", "HttpStatement"]

T = TypeVar("T")


class _LoopThread:
    """An event loop running forever in a daemon thread."""

    def __init__(self) -> None:
        self.users = 0  # clients sharing this loop (client.config(...) shares it)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="tether-sync", daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if threading.current_thread() is self._thread:
            coroutine.close()
            raise RuntimeError("tether.sync cannot be called from its own event loop thread (a plugin hook?)")
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        if not self.loop.is_running():
            self.loop.close()


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

    def body_as_bytes(self) -> bytes:
        return self._runner.run(self._inner.body_as_bytes())

    def body_as_text(self, fallback_charset: str = "utf-8") -> str:
        return self._runner.run(self._inner.body_as_text(fallback_charset))

    def json(self) -> Any:
        return self._runner.run(self._inner.json())

    def body(self, type_: type[T]) -> T:
        return self._runner.run(self._inner.body(type_))

    def iter_bytes(self) -> Iterator[bytes]:
        """The body chunk by chunk, as it arrives."""
        channel = self._inner.body_as_channel()
        while chunk := self._runner.run(channel.read(256 * 1024)):
            yield chunk

    def read_to(self, sink: WritableSink, limit: int | None = None) -> int:
        """Stream the body into `sink` (a binary file, or anything with `write`)."""
        channel: ByteReadChannel = self._inner.body_as_channel()
        return self._runner.run(channel.read_to(sink, limit))

    def close(self) -> None:
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
    def __init__(self, client: HttpClient, builder: HttpRequestBuilder) -> None:
        self._client = client
        self.builder = builder

    def execute(self) -> _Execution:
        return _Execution(self._client, self.builder)


class HttpClient:
    """Blocking twin of `tether.HttpClient`: same constructor, same request methods."""

    def __init__(
        self,
        engine_factory: HttpClientEngineFactory[Any] | HttpClientEngine | None = None,
        configure: Callable[[HttpClientConfig[Any]], None] | None = None,
        *,
        _runner: _LoopThread | None = None,
        _client: AsyncHttpClient | None = None,
    ) -> None:
        self._runner = _runner or _LoopThread()
        self._runner.users += 1
        self._closed = False
        self._async = _client if _client is not None else AsyncHttpClient(engine_factory, configure)

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self._runner.run(coroutine)

    @property
    def engine(self) -> HttpClientEngine:
        return self._async.engine

    def config(self, configure: Callable[[HttpClientConfig[Any]], None]) -> HttpClient:
        """A client sharing the engine (and the background loop) with extra configuration."""
        return HttpClient(_runner=self._runner, _client=self._async.config(configure))

    def request(self, method: str, url: str = "", **kwargs: Any) -> HttpResponse:
        return HttpResponse(self._run(self._async.request(method, url, **kwargs)), self._runner)

    def get(self, url: str = "", **kwargs: Any) -> HttpResponse:
        return self.request("GET", url, **kwargs)

    def post(self, url: str = "", **kwargs: Any) -> HttpResponse:
        return self.request("POST", url, **kwargs)

    def put(self, url: str = "", **kwargs: Any) -> HttpResponse:
        return self.request("PUT", url, **kwargs)

    def patch(self, url: str = "", **kwargs: Any) -> HttpResponse:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str = "", **kwargs: Any) -> HttpResponse:
        return self.request("DELETE", url, **kwargs)

    def head(self, url: str = "", **kwargs: Any) -> HttpResponse:
        return self.request("HEAD", url, **kwargs)

    def options(self, url: str = "", **kwargs: Any) -> HttpResponse:
        return self.request("OPTIONS", url, **kwargs)

    def prepare_request(self, method: str, url: str = "", **kwargs: Any) -> HttpStatement:
        return HttpStatement(self, self._async.build_request(method, url, **kwargs))

    def prepare_get(self, url: str = "", **kwargs: Any) -> HttpStatement:
        return self.prepare_request("GET", url, **kwargs)

    def prepare_post(self, url: str = "", **kwargs: Any) -> HttpStatement:
        return self.prepare_request("POST", url, **kwargs)

    def websocket(self, url: str = "", **kwargs: Any) -> SyncWebSocketSession:
        """`with client.websocket(url) as ws:` -- a blocking session (see `tether.websockets.sync`)."""
        return self.websocket_session(url, **kwargs)

    def websocket_session(self, url: str = "", **kwargs: Any) -> SyncWebSocketSession:
        from tether.websockets.sync import WebSocketSession

        return WebSocketSession(self._run(self._async.websocket_session(url, **kwargs)), self._run)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._run(self._async.close())
        finally:
            self._runner.users -= 1
            if self._runner.users == 0:  # the last client sharing the loop stops it
                self._runner.stop()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<tether.sync.HttpClient engine={self._async.engine.name}>"
