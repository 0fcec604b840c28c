"""The engine SPI: what an engine adapter implements, its config, and capabilities."""

from tether.engine.base import HttpClientEngine, HttpClientEngineBase, check_request
from tether.engine.capabilities import (
    DEFAULT_CAPABILITIES,
    DuplexStreamingCapability,
    Http2Capability,
    Http3Capability,
    HttpClientEngineCapability,
    HttpTimeoutCapability,
    HttpTimeoutConfig,
    ProxyCapability,
    SocksProxyCapability,
    SSECapability,
    WebSocketCapability,
)
from tether.engine.config import HttpClientEngineConfig, ProxyBuilder, ProxyConfig, ProxyType
from tether.engine.factory import (
    ENGINE_ENTRY_POINT_GROUP,
    ENGINE_PRIORITY,
    EngineFactory,
    HttpClientEngineFactory,
    default_engine_factory,
    discover_engines,
)

__all__ = [
    "DEFAULT_CAPABILITIES",
    "ENGINE_ENTRY_POINT_GROUP",
    "ENGINE_PRIORITY",
    "DuplexStreamingCapability",
    "EngineFactory",
    "Http2Capability",
    "Http3Capability",
    "HttpClientEngine",
    "HttpClientEngineBase",
    "HttpClientEngineCapability",
    "HttpClientEngineConfig",
    "HttpClientEngineFactory",
    "HttpTimeoutCapability",
    "HttpTimeoutConfig",
    "ProxyBuilder",
    "ProxyCapability",
    "ProxyConfig",
    "ProxyType",
    "SSECapability",
    "SocksProxyCapability",
    "WebSocketCapability",
    "check_request",
    "default_engine_factory",
    "discover_engines",
]
