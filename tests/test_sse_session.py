"""SSE sessions on the MockEngine: validation, buffer policies after an error, reconnection,
per-call overrides (real engines and servers: the conformance suite)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tether import ConnectError, HttpClient, HttpClientConfig, ProtocolError, SSEClientException
from tether.plugins import SSE
from tether.plugins.sse import SSEBufferPolicy, SSEEventTooLargeError
from tether.request import HttpRequestData
from tether.response import HttpResponseData
from tether.testing import MockEngine, respond

SSE_HEADERS = {"Content-Type": "text/event-stream"}
URL = "http://h/stream"


def stream_then_fail(*chunks: bytes) -> Any:
    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk
        raise ProtocolError("connection reset mid-stream")

    return lambda request: respond(body(), headers=SSE_HEADERS)


def install(**fields: Any) -> Any:
    def configure(config: HttpClientConfig[Any]) -> None:
        config.install(SSE, **fields)

    return configure


async def collect(client: HttpClient, **kwargs: Any) -> list[str | None]:
    async with client.sse(URL, **kwargs) as session:
        return [event.data async for event in session.incoming]


async def test_a_session_yields_events_and_sends_the_sse_headers() -> None:
    engine = MockEngine(lambda r: respond(b"data: a\n\nevent: e\ndata: b\n\n: c\n\n", headers=SSE_HEADERS))
    async with HttpClient(engine, install()) as client, client.sse(URL) as session:
        events = [(e.event, e.data) async for e in session.incoming]
    assert events == [(None, "a"), ("e", "b")]
    sent = engine.requests[0].headers
    assert (sent["Accept"], sent["Cache-Control"]) == ("text/event-stream", "no-cache")


async def test_comment_and_retry_blocks_are_shown_on_request() -> None:
    engine = MockEngine(lambda r: respond(b": hi\n\nretry: 5\n\ndata: x\n\n", headers=SSE_HEADERS))
    client = HttpClient(engine, install(show_comment_events=True, show_retry_events=True))
    async with client, client.sse(URL) as session:
        events = [(e.data, e.comments, e.retry) async for e in session.incoming]
    assert events == [(None, "hi", None), (None, None, 5), ("x", None, None)]


async def test_the_plugin_must_be_installed() -> None:
    async with HttpClient(MockEngine(lambda r: respond())) as client:
        with pytest.raises(SSEClientException, match=r"config.install\(SSE\)"):
            await client.sse_session(URL)


async def test_a_non_2xx_status_raises_with_the_response_and_its_body() -> None:
    engine = MockEngine(lambda r: respond("no access", status=403))
    async with HttpClient(engine, install()) as client:
        with pytest.raises(SSEClientException, match="Expected status code 2xx but was 403") as caught:
            await client.sse_session(URL)
    assert caught.value.response is not None
    assert await caught.value.response.body_as_text() == "no access"


async def test_a_wrong_content_type_raises_and_yields_nothing() -> None:
    engine = MockEngine(lambda r: respond(b"data: x\n\n", headers={"Content-Type": "text/x-bogus"}))
    async with HttpClient(engine, install(max_reconnection_attempts=3, reconnection_time=0)) as client:
        with pytest.raises(SSEClientException, match="text/event-stream but was 'text/x-bogus'"):
            await client.sse_session(URL)
    assert len(engine.requests) == 1  # no reconnection on a wrong content type


async def test_charset_parameters_are_accepted_and_ignored() -> None:
    body = "data: ok…\n\n".encode()
    engine = MockEngine(lambda r: respond(body, headers={"Content-Type": "Text/Event-Stream; charset=windows-1252"}))
    async with HttpClient(engine, install()) as client:
        assert await collect(client) == ["ok…"]


@pytest.mark.parametrize(
    ("policy", "kept"),
    [
        (SSEBufferPolicy.off(), ""),
        (SSEBufferPolicy.last_lines(2), "data: c\n\n"),
        (SSEBufferPolicy.last_event(), "id: 3\ndata: c\n\n"),
        (SSEBufferPolicy.last_events(2), "data: b\n\nid: 3\ndata: c\n\n"),
        (SSEBufferPolicy.all(), "data: a\n\ndata: b\n\nid: 3\ndata: c\n\n"),
    ],
)
async def test_each_buffer_policy_keeps_its_snapshot_after_a_mid_stream_error(
    policy: SSEBufferPolicy, kept: str
) -> None:
    engine = MockEngine(stream_then_fail(b"data: a\n\ndata: b\n\nid: 3\nda", b"ta: c\n\n"))
    async with HttpClient(engine, install(buffer_policy=policy)) as client:
        received: list[str | None] = []
        with pytest.raises(SSEClientException, match="connection reset mid-stream") as caught:
            async with client.sse(URL) as session:
                async for event in session.incoming:
                    received.append(event.data)
    assert received == ["a", "b", "c"]
    assert isinstance(caught.value.cause, ProtocolError)
    assert caught.value.response is not None
    assert await caught.value.response.body_as_text() == kept


async def test_per_call_settings_override_the_plugin() -> None:
    engine = MockEngine(stream_then_fail(b"data: a\n\n"))
    async with HttpClient(engine, install(buffer_policy=SSEBufferPolicy.off())) as client:
        with pytest.raises(SSEClientException) as caught:
            await collect(client, buffer_policy=SSEBufferPolicy.all())
    assert caught.value.response is not None
    assert await caught.value.response.body_as_text() == "data: a\n\n"


async def test_non_positive_buffer_sizes_are_rejected() -> None:
    with pytest.raises(ValueError, match="n >= 1"):
        SSEBufferPolicy.last_events(0)
    with pytest.raises(ValueError, match="n >= 1"):
        SSEBufferPolicy.last_lines(-1)


async def test_reconnection_sends_last_event_id_and_honours_retry() -> None:
    def handler(request: HttpRequestData) -> HttpResponseData:
        if "Last-Event-ID" not in request.headers:
            return respond(b"retry: 10\nid: 1\ndata: first\n\n", headers=SSE_HEADERS)
        if request.headers["Last-Event-ID"] == "1":
            return respond(b"id: 2\ndata: second\n\n", headers=SSE_HEADERS)
        return respond(status=204)

    engine = MockEngine(handler)
    async with HttpClient(engine, install(max_reconnection_attempts=2, reconnection_time=60)) as client:
        assert await collect(client) == ["first", "second"]
    assert [r.headers.get("Last-Event-ID") for r in engine.requests] == [None, "1", "2"]


async def test_exhausted_reconnections_raise() -> None:
    def handler(request: HttpRequestData) -> HttpResponseData:
        if len(engine.requests) == 1:
            return respond(b"retry: 1\ndata: x\n\n", headers=SSE_HEADERS)
        raise ConnectError("connection refused")

    engine = MockEngine(handler)
    async with HttpClient(engine, install(max_reconnection_attempts=2)) as client:
        with pytest.raises(SSEClientException, match="reconnection failed after 2 attempt") as caught:
            await collect(client)
    assert isinstance(caught.value.cause, ConnectError)
    assert len(engine.requests) == 3


async def test_a_server_that_keeps_closing_without_events_is_given_up_on() -> None:
    engine = MockEngine(lambda r: respond(b"retry: 1\n\n", headers=SSE_HEADERS))
    async with HttpClient(engine, install(max_reconnection_attempts=3)) as client:
        with pytest.raises(SSEClientException, match="after 3 attempt\\(s\\): the stream ended"):
            await collect(client)
    assert len(engine.requests) == 4


async def test_without_reconnection_a_closed_stream_just_ends() -> None:
    engine = MockEngine(lambda r: respond(b"data: only\n\n", headers=SSE_HEADERS))
    async with HttpClient(engine, install()) as client:
        assert await collect(client) == ["only"]
    assert len(engine.requests) == 1


async def test_a_204_ends_the_session_without_events() -> None:
    engine = MockEngine(lambda r: respond(status=204))
    async with HttpClient(engine, install(max_reconnection_attempts=5)) as client:
        assert await collect(client) == []
    assert len(engine.requests) == 1


async def test_an_oversized_event_fails_the_session_naming_the_limit() -> None:
    engine = MockEngine(lambda r: respond(b"data: " + b"x" * 5000 + b"\n\n", headers=SSE_HEADERS))
    async with HttpClient(engine, install(max_event_size=1024)) as client:
        with pytest.raises(SSEClientException, match="max_event_size=1024") as caught:
            await collect(client)
    assert isinstance(caught.value.cause, SSEEventTooLargeError)
