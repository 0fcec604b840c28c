"""HttpTimeout's pipeline logic on the MockEngine (real-engine behaviour is in the conformance suite)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tether import HttpClient, HttpClientConfig, HttpRequestTimeoutException, SocketTimeoutException
from tether.engine import HttpTimeoutCapability, HttpTimeoutConfig, SSECapability
from tether.plugins import HttpTimeout
from tether.request import HttpRequestData
from tether.response import HttpResponseData
from tether.testing import MockEngine, respond


def install(**values: Any) -> Any:
    def configure(config: HttpClientConfig[Any]) -> None:
        config.install(HttpTimeout, **values)

    return configure


async def slow(request: HttpRequestData) -> HttpResponseData:
    await asyncio.sleep(5)
    return respond("late")


async def test_timeouts_reach_the_engine_through_the_capability() -> None:
    engine = MockEngine(lambda r: respond())
    async with HttpClient(engine, install(connect_timeout=1, socket_timeout=2)) as client:
        await client.get("http://h/")
        await client.get("http://h/", timeout=HttpTimeoutConfig(socket_timeout=9))
        await client.get("http://h/", timeout=3)
    first, second, third = (r.get_capability(HttpTimeoutCapability) for r in engine.requests)
    assert first == HttpTimeoutConfig(None, 1, 2)
    assert second == HttpTimeoutConfig(None, 1, 9)
    assert third == HttpTimeoutConfig(3, 1, 2)


async def test_request_timeout_is_enforced_centrally() -> None:
    async with HttpClient(MockEngine(slow), install(request_timeout=0.05)) as client:
        with pytest.raises(HttpRequestTimeoutException, match="request_timeout=50 ms"):
            await client.get("http://h/")


async def test_request_timeout_also_bounds_reading_the_body() -> None:
    async def trickle() -> AsyncIterator[bytes]:
        yield b"first"
        await asyncio.sleep(5)
        yield b"never"

    engine = MockEngine(lambda r: respond(trickle()))
    async with HttpClient(engine, install(request_timeout=0.1)) as client:
        with pytest.raises(HttpRequestTimeoutException):
            await client.get("http://h/")
    assert engine.open_bodies == 0


async def test_an_engine_socket_timeout_keeps_its_class_under_a_request_timeout() -> None:
    async def handler(request: HttpRequestData) -> HttpResponseData:
        raise SocketTimeoutException(request.url, 0.01)

    async with HttpClient(MockEngine(handler), install(request_timeout=5)) as client:
        with pytest.raises(SocketTimeoutException):
            await client.get("http://h/")


async def test_sse_requests_get_no_request_timeout() -> None:
    async def handler(request: HttpRequestData) -> HttpResponseData:
        await asyncio.sleep(0.2)
        return respond("events")

    async with HttpClient(MockEngine(handler), install(request_timeout=0.05)) as client:
        builder = client.build_request("GET", "http://h/stream")
        builder.set_capability(SSECapability, None)
        response = await client.prepare(builder).execute()
    assert await response.body_as_text() == "events"


@pytest.mark.parametrize("field", ["request_timeout", "connect_timeout", "socket_timeout"])
def test_non_positive_values_are_rejected_at_construction(field: str) -> None:
    with pytest.raises(ValueError, match=f"Only positive timeout values are allowed, {field}=0"):
        HttpClient(MockEngine(), install(**{field: 0}))


async def test_a_bad_per_request_value_is_rejected() -> None:
    async with HttpClient(MockEngine(lambda r: respond()), install()) as client:
        with pytest.raises(ValueError, match="timeout=-1"):
            await client.get("http://h/", timeout=-1)
        with pytest.raises(TypeError, match="number of seconds"):
            await client.get("http://h/", timeout="soon")


async def test_a_per_call_timeout_without_the_plugin_is_retried_like_an_installed_one() -> None:
    # `timeout=` with no HttpTimeout installed behaves as if HttpTimeout were installed last: one
    # limit per attempt, so HttpRequestRetry(retry_on_timeout=True) retries the attempt that ran out.
    from tether.plugins import HttpRequestRetry

    engine = MockEngine(slow, lambda r: respond("second"))

    def configure(config: HttpClientConfig[Any]) -> None:
        config.install(HttpRequestRetry, retry_on_timeout=True, base_delay=0, jitter=0)

    async with HttpClient(engine, configure) as client:
        response = await client.get("http://h/", timeout=0.05)
        assert await response.body_as_text() == "second"
    assert len(engine.requests) == 2
