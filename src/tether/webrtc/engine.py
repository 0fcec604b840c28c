"""The WebRTC engine SPI: `WebRtcEngine` (one per client) and `WebRtcEngineFactory` (what
`WebRtcClient(factory, configure)` takes, like `HttpClient(Aiohttp, configure)`)."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Generic, TypeVar

from tether.exceptions import ClientClosedError
from tether.webrtc.config import WebRtcConfig, WebRtcConnectionConfig
from tether.webrtc.peer import WebRtcPeerConnection

__all__ = ["WebRtcEngine", "WebRtcEngineFactory"]

C = TypeVar("C", bound=WebRtcConfig)
E = TypeVar("E", bound="WebRtcEngine")


class WebRtcEngine(ABC):
    """Creates peer connections with one library and closes them all at `close()`."""

    name: str = "WebRtcEngine"

    def __init__(self, config: WebRtcConfig) -> None:
        self.config = config
        self._connections: set[WebRtcPeerConnection] = set()
        self._closed = False

    @abstractmethod
    async def _create_peer_connection(self, config: WebRtcConnectionConfig) -> WebRtcPeerConnection:
        """A new connection for `config` (validated); raise `UnsupportedCapabilityError` for settings
        the library cannot honour."""

    async def create_peer_connection(self, config: WebRtcConnectionConfig | None = None) -> WebRtcPeerConnection:
        if self._closed:
            raise ClientClosedError(f"The {self.name} WebRTC engine is closed")
        config = (config or self.config.default_connection_config).copy()
        config.validate()
        connection = await self._create_peer_connection(config)
        self._connections.add(connection)
        connection._on_close.append(lambda: self._connections.discard(connection))
        connection._start()
        return connection

    async def close(self) -> None:
        """Close every connection this engine made (idempotent)."""
        self._closed = True
        connections, self._connections = list(self._connections), set()
        await asyncio.gather(*(connection.close() for connection in connections), return_exceptions=True)

    @property
    def closed(self) -> bool:
        return self._closed


class WebRtcEngineFactory(Generic[C, E]):
    """`WebRtcEngineFactory("Aiortc", AiortcEngine, AiortcConfig)`."""

    def __init__(self, name: str, engine_type: Callable[[C], E], config_type: Callable[[], C]) -> None:
        self.name = name
        self._engine_type = engine_type
        self._config_type = config_type

    def create_config(self) -> C:
        return self._config_type()

    def create(self, config: C) -> E:
        config.validate()
        return self._engine_type(config)

    def __repr__(self) -> str:
        return self.name
