"""The Aiohttp engine's own machinery: the default connect timeout it applies through the session, and
the protocol subclass that gives aiohttp the framing verdicts of every engine."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from tether_aiohttp import Aiohttp
from tether_aiohttp.engine import _ResponseHandler
from tether_conformance import ServerEnvironment

from tether import HttpClient
from tether.exceptions import ConnectTimeoutException
from tether.plugins import HttpTimeout


@pytest.fixture(scope="module")
def env() -> Iterator[ServerEnvironment]:
    with ServerEnvironment() as environment:
        yield environment


def _engine(connect_timeout: float, timeout: aiohttp.ClientTimeout | None = None) -> Any:
    def configure(config: Any) -> None:
        config.engine.connect_timeout = connect_timeout
        config.engine.response_head_timeout = 5
        if timeout is not None:
            config.engine.customize_session = lambda kwargs: kwargs.__setitem__("timeout", timeout)

    return configure


async def test_a_session_timeout_of_the_hook_keeps_the_engine_connect_timeout(env: ServerEnvironment) -> None:
    # customize_session replaced the session's timeout (to add a read timeout): connecting is still
    # bounded by the engine's connect_timeout, reported as such -- not left to the head timeout.
    url = f"http://127.0.0.1:{env.blackhole_port}/"
    async with HttpClient(Aiohttp, _engine(0.3, aiohttp.ClientTimeout(sock_read=30))) as client:
        with pytest.raises(ConnectTimeoutException) as caught:
            await client.get(url)
    assert caught.value.timeout == 0.3


async def test_a_connect_timeout_the_hook_sets_is_the_one_in_force_and_reported(env: ServerEnvironment) -> None:
    url = f"http://127.0.0.1:{env.blackhole_port}/"
    async with HttpClient(Aiohttp, _engine(30, aiohttp.ClientTimeout(sock_connect=0.2))) as client:
        with pytest.raises(ConnectTimeoutException) as caught:
            await client.get(url)
        assert caught.value.timeout == 0.2

    def with_own_timeout(config: Any) -> None:
        _engine(30, aiohttp.ClientTimeout(sock_connect=0.2))(config)
        config.install(HttpTimeout, socket_timeout=30)  # no connect timeout of its own: the session's

    async with HttpClient(Aiohttp, with_own_timeout) as client:
        with pytest.raises(ConnectTimeoutException) as caught:
            await client.get(url)
        assert caught.value.timeout == 0.2


async def test_closed_connections_are_freed_without_the_cycle_collector(env: ServerEnvironment) -> None:
    # The protocol remembers the parser of the response it last saw; aiohttp drops its own reference
    # to the parser when the connection is lost (the parser refers back to the protocol), and so must
    # the engine, or every closed connection waits for the cycle collector.
    def live_handlers() -> int:
        return sum(1 for obj in gc.get_objects() if type(obj) is _ResponseHandler)

    async with HttpClient(Aiohttp) as client:
        gc.collect()
        before = live_handlers()
        gc.disable()
        try:
            for _ in range(20):
                response = await client.get(env.raw_url("ok"))  # Connection: close
                assert await response.body_as_bytes() == b"ok"
            left = live_handlers() - before
        finally:
            gc.enable()
    assert left <= 1, f"{left} closed connections still alive"
