"""The blocking facade against real local servers: SSE, channels, duplex, closing, tracebacks."""

from __future__ import annotations

import gc
import io
import traceback
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from tether_aiohttp import Aiohttp
from tether_conformance import ServerEnvironment

from tether import ClientClosedError, ClientRequestException, HttpClientConfig, ServerResponseException
from tether.plugins import SSE
from tether.sync import HttpClient


@pytest.fixture(scope="module")
def env() -> Iterator[ServerEnvironment]:
    with ServerEnvironment() as environment:
        yield environment


def with_sse(config: HttpClientConfig[Any]) -> None:
    config.install(SSE)


def test_sse_events_arrive_through_a_blocking_iterator(env: ServerEnvironment) -> None:
    with HttpClient(Aiohttp, with_sse) as client, client.sse(env.http("/sse/basic")) as session:
        events = [(event.event, event.data) for event in session.incoming]
    assert events == [("greeting", "hello"), (None, "multi\nline"), ("bye", '{"done": true}')]


def test_sse_session_without_with_is_closed_by_the_caller(env: ServerEnvironment) -> None:
    with HttpClient(Aiohttp, with_sse) as client:
        session = client.sse_session(env.http("/sse/basic"))
        assert session.response is not None and session.response.status == 200
        first = next(iter(session.incoming))
        session.close()
    assert first.data == "hello"


def test_body_as_channel_streams_in_reads_of_any_size(env: ServerEnvironment) -> None:
    with HttpClient(Aiohttp) as client, client.prepare_get(env.http("/bytes"), params={"size": 300_000}).execute() as r:
        channel = r.body_as_channel()
        head = channel.read_exactly(10)
        sink = io.BytesIO()
        rest = channel.read_to(sink)
        assert channel.is_closed_for_read
    assert len(head) == 10 and rest == 300_000 - 10


def test_duplex_reads_the_echo_while_the_request_body_is_still_open(env: ServerEnvironment) -> None:
    with HttpClient(Aiohttp) as client, client.duplex("POST", env.http("/duplex/echo")) as call:
        call.send(b"ping")
        channel = call.response.body_as_channel()
        first = channel.read_exactly(4)  # before close_send: truly duplex
        call.send(b"pong")
        second = channel.read_exactly(4)
        call.close_send()
        rest = channel.read_all()
    assert (first, second, rest) == (b"ping", b"pong", b"")


def test_calls_after_close_raise_client_closed_error_and_warn_nothing(env: ServerEnvironment) -> None:
    client = HttpClient(Aiohttp)
    response = client.get(env.http("/text/utf8"))
    client.close()
    gc.collect()  # earlier tests' garbage is not this test's business
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ClientClosedError):
            client.get(env.http("/"))
        with pytest.raises(ClientClosedError):
            client.prepare_get(env.http("/")).execute().body_as_text()
        with pytest.raises(ClientClosedError):
            client.sse_session(env.http("/sse/basic"))
        gc.collect()
    assert [str(w.message) for w in caught] == []
    assert response.body_as_text()  # a body in memory stays readable after close


def test_a_failure_traceback_has_no_thread_plumbing(env: ServerEnvironment) -> None:
    with HttpClient(Aiohttp) as client, pytest.raises(ClientRequestException) as caught:
        client.get(env.http("/status/404"), expect_success=True)
    files = [frame.filename for frame in traceback.extract_tb(caught.value.__traceback__)]
    assert files[0] == __file__
    assert not [f for f in files if "asyncio" in f or "concurrent" in f or f.endswith("threading.py")], files


def test_raise_for_status_is_the_per_response_expect_success(env: ServerEnvironment) -> None:
    with HttpClient(Aiohttp) as client:
        ok = client.get(env.http("/text/utf8"))
        assert ok.raise_for_status() is ok
        with pytest.raises(ServerResponseException, match="503"):
            client.get(env.http("/status/503")).raise_for_status()


async def test_raise_for_status_on_the_async_client(env: ServerEnvironment) -> None:
    from tether import HttpClient as AsyncHttpClient

    async with AsyncHttpClient(Aiohttp) as client:
        response = await client.get(env.http("/status/418"))
        with pytest.raises(ClientRequestException) as caught:
            response.raise_for_status()
        assert caught.value.response is response


def test_a_failure_keeps_its_cause_and_context() -> None:
    from tether.testing import MockEngine

    def explicit(request: object) -> Any:
        try:
            raise KeyError("inner")
        except KeyError as inner:
            raise ValueError("outer") from inner

    def implicit(request: object) -> Any:
        try:
            raise KeyError("inner")
        except KeyError:
            raise ValueError("outer")  # noqa: B904 -- the implicit chain is what is tested

    with HttpClient(MockEngine(explicit, implicit)) as client:
        with pytest.raises(ValueError) as first:
            client.get("http://h/")
        with pytest.raises(ValueError) as second:
            client.get("http://h/")
    assert isinstance(first.value.__cause__, KeyError)
    assert isinstance(second.value.__context__, KeyError) and not second.value.__suppress_context__
