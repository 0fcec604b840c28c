"""Fixtures for the WebRTC tests: real aiortc peers on loopback.

aioice never gathers 127.0.0.1, so `loopback_ice` (autouse, tests only, never shipped) makes it gather
exactly that: every ICE candidate, and so every packet, stays on this machine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aioice.ice
import pytest
from tether_aiortc import Aiortc, AiortcConfig

from tether.webrtc import WebRtcClient


@pytest.fixture(autouse=True)
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


@pytest.fixture
async def client() -> AsyncIterator[WebRtcClient[AiortcConfig]]:
    async with WebRtcClient(Aiortc) as client:
        yield client
