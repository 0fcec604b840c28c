"""The engine defaults that stop a request from hanging forever (issue 15, section 2), on the MockEngine:
a default connect timeout handed to engines, and a response-head timeout enforced centrally."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tether import HttpClient, HttpClientConfig, SocketTimeoutException
from tether.content import StreamContent
from tether.engine import HttpClientEngineConfig, HttpTimeoutConfig
from tether.plugins import HttpTimeout
from tether.request import HttpRequestData
from tether.response import HttpResponseData
from tether.testing import MockEngine, MockEngineConfig, respond_ok

URL_ = "http://api.test/x"


def engine_with(handler: Any, **settings: Any) -> MockEngine:
    config = MockEngineConfig()
    for name, value in settings.items():
        setattr(config, name, value)
    return MockEngine(handler, config=config)


async def slow_head(request: HttpRequestData) -> HttpResponseData:
    await asyncio.sleep(0.3)
    return respond_ok("late")


def test_defaults_are_set_and_checked() -> None:
    config = HttpClientEngineConfig()
    assert (config.connect_timeout, config.response_head_timeout) == (10.0, 60.0)
    for name in ("connect_timeout", "response_head_timeout"):
        with pytest.raises(ValueError, match=name):
            HttpClientEngineConfig(**{name: 0}).validate()
        HttpClientEngineConfig(**{name: None}).validate()  # None: no limit


async def test_the_default_connect_timeout_reaches_the_engine_unless_the_request_sets_one() -> None:
    engine = engine_with(lambda request: respond_ok())
    async with HttpClient(engine, lambda config: config.install(HttpTimeout)) as client:
        await client.get(URL_)
        await client.get(URL_, timeout=HttpTimeoutConfig(connect_timeout=2))
    assert [request.timeout.connect_timeout for request in engine.requests] == [10.0, 2]


async def test_a_late_head_raises_socket_timeout_at_the_head_timeout() -> None:
    async with HttpClient(engine_with(slow_head, response_head_timeout=0.05)) as client:
        with pytest.raises(SocketTimeoutException) as raised:
            await asyncio.wait_for(client.get(URL_), 10)
    assert raised.value.timeout == 0.05
    assert "response_head_timeout" in str(raised.value)


async def test_the_head_timeout_stays_out_of_the_way() -> None:
    async def stream() -> AsyncIterator[bytes]:
        yield b"up"

    def configure(config: HttpClientConfig[Any]) -> None:
        config.install(HttpTimeout, request_timeout=5)

    engine = engine_with(slow_head, response_head_timeout=0.05)
    async with HttpClient(engine) as client:
        upload = StreamContent(stream)
        streamed = await client.post(URL_, content=upload)  # a streamed body: its head may come late
        assert await streamed.body_as_text() == "late"
    async with HttpClient(engine_with(slow_head, response_head_timeout=0.05), configure) as client:
        bounded = await client.get(URL_)  # the request's own request_timeout bounds the head instead
        assert await bounded.body_as_text() == "late"
    async with HttpClient(engine_with(slow_head, response_head_timeout=None)) as client:
        unlimited = await client.get(URL_)
        assert await unlimited.body_as_text() == "late"


async def test_a_cancellation_from_outside_is_not_a_head_timeout() -> None:
    async with HttpClient(engine_with(slow_head, response_head_timeout=5)) as client:
        task = asyncio.ensure_future(client.get(URL_))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


@pytest.mark.skipif(not hasattr(asyncio.Task, "uncancel"), reason="Python 3.11+ counts cancellations")
async def test_a_cancellation_in_the_same_tick_as_the_head_timeout_is_kept() -> None:
    from tether.engine import base

    blocked = asyncio.Event()

    async def never(request: HttpRequestData) -> HttpResponseData:
        blocked.set()
        await asyncio.sleep(30)
        return respond_ok("late")

    async with HttpClient(engine_with(never, response_head_timeout=10)) as client:
        task = asyncio.ensure_future(client.get(URL_))
        await blocked.wait()
        deadlines = base._head_deadlines[asyncio.get_running_loop()]
        for wait in deadlines._waiting:
            wait.deadline = 0  # the head deadline is due ...
        deadlines._check()
        task.cancel()  # ... and the caller cancels in the same tick: the caller's cancellation wins
        with pytest.raises(asyncio.CancelledError):
            await task
