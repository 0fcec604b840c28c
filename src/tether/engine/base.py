"""The engine SPI: one `execute(HttpRequestData) -> HttpResponseData`, `capabilities`, `close`."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from tether.engine.capabilities import (
    DEFAULT_CAPABILITIES,
    HttpClientEngineCapability,
    SocksProxyCapability,
)
from tether.engine.config import HttpClientEngineConfig, ProxyType
from tether.exceptions import ClientClosedError, UnsafeHeaderException, UnsupportedCapabilityError
from tether.http import UNSAFE_HEADERS

if TYPE_CHECKING:
    from tether.request import HttpRequestData
    from tether.response import HttpResponseData

__all__ = ["HttpClientEngine", "HttpClientEngineBase", "check_request"]

C = TypeVar("C", bound=HttpClientEngineConfig)


class HttpClientEngine(ABC):
    """What an engine adapter implements. The core never imports an engine; engines see only
    `HttpRequestData` and return `HttpResponseData`, mapping their library's exceptions onto tether's
    hierarchy in one place."""

    name: str = "engine"
    config: HttpClientEngineConfig

    @property
    def capabilities(self) -> frozenset[HttpClientEngineCapability[Any]]:
        """What this engine can do; a request needing anything else fails before any I/O."""
        return DEFAULT_CAPABILITIES

    @abstractmethod
    async def execute(self, request: HttpRequestData) -> HttpResponseData:
        """Send one request and return as soon as the response head has arrived.

        The body is a `ByteReadChannel` that streams; closing it releases the connection.
        """

    @abstractmethod
    async def close(self) -> None:
        """Release every connection and worker. Called once, by the last client sharing the engine."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class HttpClientEngineBase(HttpClientEngine, Generic[C]):
    """A convenient base: keeps the typed config, guards against use after close."""

    def __init__(self, config: C) -> None:
        self.config: C = config
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def execute(self, request: HttpRequestData) -> Coroutine[Any, Any, HttpResponseData]:
        if self._closed:
            raise ClientClosedError(f"Engine {self.name} is already closed")
        return self._execute(request)  # returned, not awaited: no extra coroutine frame per request

    @abstractmethod
    async def _execute(self, request: HttpRequestData) -> HttpResponseData: ...

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._close()

    async def _close(self) -> None:
        """Override to release the library's resources."""
        await asyncio.sleep(0)


def check_request(engine: HttpClientEngine, request: HttpRequestData) -> None:
    """The central pre-flight check, run right before `engine.execute` and so before any I/O:
    engine-owned headers are rejected, and every required capability must be declared."""
    headers = request.headers
    fields = headers.multidict  # the C multidict: this runs for every request
    if "Transfer-Encoding" in fields or "Upgrade" in fields:
        raise UnsafeHeaderException(", ".join(name for name in headers if name in UNSAFE_HEADERS))
    supported = engine.capabilities
    for capability in request.capabilities:
        if capability not in supported:
            raise UnsupportedCapabilityError(engine.name, capability, f"needed by {request.method} {request.url}")
    proxy = getattr(engine.config, "proxy", None)
    if proxy is not None and proxy.type is ProxyType.SOCKS and SocksProxyCapability not in supported:
        raise UnsupportedCapabilityError(engine.name, SocksProxyCapability, f"configured {proxy}")
