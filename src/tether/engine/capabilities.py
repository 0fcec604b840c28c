"""Capability markers: what an engine declares it can do, and what a request may require.

A request requires a capability when a plugin or API puts a value for it on the request
(`builder.set_capability(cap, value)`); the client checks `engine.capabilities` before any I/O and
raises `UnsupportedCapabilityError` when the engine lacks one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = [
    "DEFAULT_CAPABILITIES",
    "DuplexStreamingCapability",
    "Http2Capability",
    "Http3Capability",
    "HttpClientEngineCapability",
    "HttpTimeoutCapability",
    "HttpTimeoutConfig",
    "ProxyCapability",
    "SSECapability",
    "SocksProxyCapability",
    "WebSocketCapability",
]

T = TypeVar("T")


class HttpClientEngineCapability(Generic[T]):
    """A marker; `T` is the type of the per-request value stored under it. Compared by identity."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"{self.name}Capability"

    __str__ = __repr__


@dataclass(frozen=True)
class HttpTimeoutConfig:
    """Timeouts for one request, in seconds; None means no limit.

    `request_timeout` bounds the whole exchange, `connect_timeout` establishing the connection,
    `socket_timeout` the longest wait for a single read or write.
    """

    request_timeout: float | None = None
    connect_timeout: float | None = None
    socket_timeout: float | None = None

    def __post_init__(self) -> None:
        for name in ("request_timeout", "connect_timeout", "socket_timeout"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"Only positive timeout values are allowed, {name}={value!r}")


HttpTimeoutCapability: HttpClientEngineCapability[HttpTimeoutConfig] = HttpClientEngineCapability("HttpTimeout")
SSECapability: HttpClientEngineCapability[None] = HttpClientEngineCapability("SSE")
WebSocketCapability: HttpClientEngineCapability[None] = HttpClientEngineCapability("WebSocket")
DuplexStreamingCapability: HttpClientEngineCapability[None] = HttpClientEngineCapability("DuplexStreaming")
#: The request must travel over HTTP/2 (ALPN over TLS, or prior knowledge on cleartext).
Http2Capability: HttpClientEngineCapability[None] = HttpClientEngineCapability("Http2")
Http3Capability: HttpClientEngineCapability[None] = HttpClientEngineCapability("Http3")
ProxyCapability: HttpClientEngineCapability[None] = HttpClientEngineCapability("Proxy")
SocksProxyCapability: HttpClientEngineCapability[None] = HttpClientEngineCapability("Socks")

DEFAULT_CAPABILITIES = frozenset({HttpTimeoutCapability})
