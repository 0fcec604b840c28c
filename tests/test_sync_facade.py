"""The blocking facade runs the async client on a background loop, so it works inside a running loop."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator

from tether.sync import HttpClient
from tether.testing import MockEngine, respond


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
