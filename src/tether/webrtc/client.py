"""`WebRtcClient`: the facade (Ktor's `WebRtcClient(engineFactory) { config }`).

async with WebRtcClient(Aiortc) as client:
    peer = await client.create_peer_connection(lambda c: c.ice_servers.append(IceServer("stun:...")))
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any, Generic, TypeVar, Union

from tether.webrtc.config import WebRtcConfig, WebRtcConnectionConfig
from tether.webrtc.engine import WebRtcEngine, WebRtcEngineFactory
from tether.webrtc.peer import WebRtcPeerConnection

__all__ = ["WebRtcClient"]

C = TypeVar("C", bound=WebRtcConfig)

ConnectionConfigure = Union[WebRtcConnectionConfig, Callable[[WebRtcConnectionConfig], None], None]


class WebRtcClient(Generic[C]):
    """The WebRTC client. `configure` receives the engine's config (e.g. `AiortcConfig`); set
    `config.default_connection_config` there for every connection."""

    def __init__(self, engine_factory: WebRtcEngineFactory[C, Any], configure: Callable[[C], None] | None = None):
        config = engine_factory.create_config()
        if configure is not None:
            configure(config)
        self.config: C = config
        self.engine: WebRtcEngine = engine_factory.create(config)

    async def create_peer_connection(self, configure: ConnectionConfigure = None) -> WebRtcPeerConnection:
        """A new peer connection: the default connection config, changed by `configure` (a block
        that edits a copy) or replaced by a `WebRtcConnectionConfig`."""
        if isinstance(configure, WebRtcConnectionConfig):
            config = configure.copy()
        else:
            config = self.config.default_connection_config.copy()
            if configure is not None:
                configure(config)
        return await self.engine.create_peer_connection(config)

    async def close(self) -> None:
        """Close the engine and every connection it made (idempotent)."""
        await self.engine.close()

    async def __aenter__(self) -> WebRtcClient[C]:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
