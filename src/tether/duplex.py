"""Duplex (bidirectional) streaming: send the request body while reading the response.

    async with client.duplex("POST", url) as call:
        await call.send(b"ping")
        response = await call.response        # as soon as the server sent its head
        reply = await response.body_as_channel().read(4)
        await call.close_send()

Needs an engine with `DuplexStreamingCapability` (Curl with `duplex_streaming_enabled=True`,
Aiohttp over HTTP/1.1); others raise `UnsupportedCapabilityError` before any I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from typing import TYPE_CHECKING

from tether.content import WriterChannelContent
from tether.engine.base import unsupported_capability
from tether.engine.capabilities import DuplexStreamingCapability
from tether.request import HttpRequestBuilder
from tether.response import HttpResponse

if TYPE_CHECKING:
    from tether.client import HttpClient

__all__ = ["DuplexCall"]


class DuplexCall:
    """One duplex exchange. `response` is awaitable; `send`/`close_send` write the request body."""

    def __init__(self, client: HttpClient, builder: HttpRequestBuilder, body: WriterChannelContent) -> None:
        self._client = client
        self._builder = builder
        self._body = body
        self._task: asyncio.Task[HttpResponse] | None = None

    async def __aenter__(self) -> DuplexCall:
        engine = self._client.engine
        if DuplexStreamingCapability not in engine.capabilities:
            raise unsupported_capability(
                engine, DuplexStreamingCapability, f"needed by client.duplex({self._builder.method!r}, ...)"
            )
        self._builder.set_capability(DuplexStreamingCapability, None)
        self._task = asyncio.ensure_future(self._client.execute(self._builder))
        return self

    @property
    def response(self) -> asyncio.Future[HttpResponse]:
        """Await it for the response; its body streams while the request body is still being sent."""
        if self._task is None:
            raise RuntimeError("use the call inside `async with client.duplex(...) as call:`")
        return self._task

    async def send(self, data: bytes) -> None:
        """Queue `data` for sending; waits while the engine is behind (bounded memory)."""
        if self._task is not None and self._task.done() and self._task.exception() is not None:
            raise self._task.exception()  # type: ignore[misc]
        await self._body.write(data)

    async def close_send(self) -> None:
        """End the request body. The response can still be read."""
        await self._body.close()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        task = self._task
        if task is None:
            return
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):  # the call is abandoned: its outcome is moot
                await task
            return
        if not task.cancelled() and task.exception() is None:
            await task.result().aclose()
