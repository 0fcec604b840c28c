"""The blocking facade runs the async client on a background loop, so it works inside a running loop."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Iterator

import pytest

from tether.request import HttpRequestData
from tether.response import HttpResponseData
from tether.sync import HttpClient
from tether.testing import MockEngine, request_body, respond


def test_requests_block_and_return_read_responses() -> None:
    engine = MockEngine(lambda r: respond('{"ok": true}', headers={"Content-Type": "application/json"}))
    with HttpClient(engine, lambda c: c.default_request(url="http://api.test/")) as client:
        response = client.get("items", params={"a": 1})
        assert response.status == 200
        assert response.json() == {"ok": True}
        assert response.body_as_text() == '{"ok": true}'
    assert str(engine.requests[0].url) == "http://api.test/items?a=1"


def test_it_works_inside_a_thread_that_runs_an_event_loop() -> None:
    async def notebook_cell() -> str:
        with HttpClient(MockEngine(lambda r: respond("from a notebook"))) as client:
            return client.get("http://h/").body_as_text()

    assert asyncio.run(notebook_cell()) == "from a notebook"


def test_statements_stream_inside_with_and_read_fully_otherwise() -> None:
    async def body() -> AsyncIterator[bytes]:
        for i in range(3):
            yield bytes([i]) * 4

    engine = MockEngine(lambda r: respond(body()))
    with HttpClient(engine) as client:
        statement = client.prepare_get("http://h/")
        with statement.execute() as streaming:
            sink = io.BytesIO()
            assert streaming.read_to(sink) == 12
        assert sink.getvalue() == b"\x00" * 4 + b"\x01" * 4 + b"\x02" * 4
        assert statement.execute().body_as_bytes() == sink.getvalue()
        with statement.execute() as streaming:
            assert list(streaming.iter_bytes()) == [b"\x00" * 4, b"\x01" * 4, b"\x02" * 4]
    assert engine.open_bodies == 0


def test_a_child_client_outlives_its_parent() -> None:
    engine = MockEngine(lambda r: respond("ok"))
    parent = HttpClient(engine)
    child = parent.config(lambda c: c.default_request(headers={"X-Child": "1"}))
    parent.close()
    assert child.get("http://h/").body_as_text() == "ok"
    child.close()
    assert engine.requests[-1].headers["X-Child"] == "1"


def _echo_body(request: HttpRequestData) -> HttpResponseData:
    return respond(request_body(request))  # MockEngine read a streamed body as an engine sends it


def test_the_blocking_client_sends_blocking_iterables_and_files_as_streams() -> None:
    # requests and httpx.Client take these; the async client takes only async iterables.
    def produce() -> Iterator[bytes]:
        yield b"one,"
        yield b"two"

    with HttpClient(MockEngine(_echo_body)) as client:
        assert client.post("http://h/", content=produce()).body_as_bytes() == b"one,two"
        assert client.post("http://h/", content=[b"a", b"b"]).body_as_bytes() == b"ab"
        assert client.post("http://h/", content=io.BytesIO(b"x" * 200_000)).body_as_bytes() == b"x" * 200_000
        statement = client.prepare_post("http://h/", content=iter([b"c", b"d"]))
        assert statement.execute().body_as_bytes() == b"cd"
        with pytest.raises(TypeError, match="must yield bytes"):
            client.post("http://h/", content=["text, not bytes"])
        for text in (io.StringIO("text"), io.StringIO("")):  # refused up front, empty or not (never a hang)
            with pytest.raises(TypeError, match="binary file: open it with mode 'rb'"):
                client.post("http://h/", content=text)
        with pytest.raises(TypeError, match="Cannot send dict as a request body"):
            client.post("http://h/", content={"a": 1})  # not a stream of its keys


def test_the_async_client_names_the_blocking_client_for_a_blocking_iterable() -> None:
    from tether import HttpClient as AsyncHttpClient

    async def attempt() -> None:
        async with AsyncHttpClient(MockEngine(_echo_body)) as client:
            await client.post("http://h/", content=iter([b"a"]))

    with pytest.raises(TypeError, match="tether.sync.HttpClient also takes a blocking iterable"):
        asyncio.run(attempt())
