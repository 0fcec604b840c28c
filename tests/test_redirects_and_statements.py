"""HttpRedirect rules and HttpStatement streaming vs full reads, on the MockEngine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tether import (
    BodyAlreadyConsumedError,
    BodyNotReplayableError,
    HttpClient,
    HttpClientConfig,
    SendCountExceedException,
)
from tether.plugins import HttpRedirect
from tether.request import HttpRequestData
from tether.response import HttpResponseData
from tether.testing import MockEngine, read_body, respond


def redirecting(routes: dict[str, tuple[int, str]]) -> MockEngine:
    """path -> (status, Location); any other path answers 200 with "<METHOD> <url>"."""

    def handler(request: HttpRequestData) -> HttpResponseData:
        route = routes.get(request.url.path)
        if route is None:
            return respond(f"{request.method} {request.url}")
        status, location = route
        return respond(status=status, headers={"Location": location} if location else {})

    return MockEngine(handler)


async def test_relative_and_absolute_redirects_are_followed() -> None:
    engine = redirecting({"/a": (302, "b?x=1"), "/b": (301, "https://other.test/c")})
    async with HttpClient(engine) as client:
        response = await client.get("https://h.test/a")
    assert await response.body_as_text() == "GET https://other.test/c"
    assert [str(r.url) for r in engine.requests] == [
        "https://h.test/a",
        "https://h.test/b?x=1",
        "https://other.test/c",
    ]
    assert engine.open_bodies == 0


async def test_303_becomes_get_without_a_body_and_307_keeps_method_and_body() -> None:
    engine = redirecting({"/see-other": (303, "/done"), "/temp": (307, "/done")})
    async with HttpClient(engine) as client:
        await client.post("http://h/see-other", content=b"payload", headers={"Content-Type": "text/plain"})
        await client.post("http://h/temp", content=b"payload")
    _, after_303, _, after_307 = engine.requests
    assert (after_303.method, await read_body(after_303.body)) == ("GET", b"")
    assert "Content-Type" not in after_303.headers
    assert (after_307.method, await read_body(after_307.body)) == ("POST", b"payload")


async def test_credentials_are_dropped_when_the_origin_changes() -> None:
    engine = redirecting({"/same": (302, "/next"), "/next": (302, "https://evil.test/steal")})
    async with HttpClient(engine) as client:
        await client.get(
            "https://h.test/same",
            headers={"Authorization": "Bearer t", "Proxy-Authorization": "p", "X-Other": "kept"},
            cookies={"sid": "1"},
        )
    _, same_origin, other_origin = engine.requests
    assert same_origin.headers["Authorization"] == "Bearer t"
    assert same_origin.headers["Cookie"] == "sid=1"
    for name in ("Authorization", "Cookie", "Proxy-Authorization"):
        assert name not in other_origin.headers
    assert other_origin.headers["X-Other"] == "kept"


async def test_https_to_http_is_refused_unless_allowed() -> None:
    engine = redirecting({"/down": (302, "http://h.test/plain")})
    async with HttpClient(engine) as client:
        response = await client.get("https://h.test/down")
    assert response.status == 302
    assert len(engine.requests) == 1

    engine = redirecting({"/down": (302, "http://h.test/plain")})
    async with HttpClient(engine, lambda c: c.install(HttpRedirect, allow_https_downgrade=True)) as client:
        response = await client.get("https://h.test/down")
    assert response.status == 200


async def test_a_redirect_without_location_is_returned_as_is() -> None:
    engine = redirecting({"/nowhere": (302, "")})
    async with HttpClient(engine) as client:
        assert (await client.get("http://h/nowhere")).status == 302


async def test_a_redirect_loop_raises_send_count_exceeded() -> None:
    engine = redirecting({"/loop": (302, "/loop")})
    async with HttpClient(engine) as client:
        with pytest.raises(SendCountExceedException, match="Max send count 20 exceeded"):
            await client.get("http://h/loop")
    assert len(engine.requests) == 20
    assert engine.open_bodies == 0


async def test_follow_redirects_false_returns_the_3xx() -> None:
    engine = redirecting({"/a": (302, "/b")})

    def configure(config: HttpClientConfig[Any]) -> None:
        config.follow_redirects = False

    async with HttpClient(engine, configure) as client:
        assert (await client.get("http://h/a")).status == 302


async def test_a_one_shot_stream_body_is_not_silently_resent() -> None:
    async def stream() -> AsyncIterator[bytes]:
        yield b"once"

    engine = redirecting({"/temp": (307, "/done")})
    async with HttpClient(engine) as client:
        with pytest.raises(BodyNotReplayableError, match="one-shot stream"):
            await client.post("http://h/temp", content=stream())
    assert len(engine.requests) == 1

    engine = redirecting({"/temp": (307, "/done")})
    async with HttpClient(engine) as client:
        await client.post("http://h/temp", content=stream)  # a factory replays
    assert await read_body(engine.requests[1].body) == b"once"


async def test_statement_executes_again_and_streams_inside_async_with() -> None:
    async def body() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b"chunk"

    engine = MockEngine(lambda r: respond(body()))
    async with HttpClient(engine) as client:
        statement = client.prepare_get("http://h/stream")
        async with statement.execute() as response:
            assert not response.is_body_in_memory
            channel = response.body_as_channel()
            assert await channel.read(5) == b"chunk"
            with pytest.raises(BodyAlreadyConsumedError):
                response.body_as_channel()
        assert engine.open_bodies == 0  # leaving the block released the rest

        full = await statement.execute()
        assert full.is_body_in_memory
        assert await full.body_as_bytes() == b"chunk" * 3
        assert await full.body_as_text() == "chunk" * 3
        assert await full.body_as_channel().read_all() == b"chunk" * 3
    assert len(engine.requests) == 2


async def test_response_reads_text_with_its_charset_and_json() -> None:
    engine = MockEngine(
        lambda r: respond("é".encode("latin-1"), headers={"Content-Type": "text/plain; charset=latin-1"}),
        lambda r: respond('{"a": [1, 2]}', headers={"Content-Type": "application/json"}),
    )
    async with HttpClient(engine) as client:
        assert await (await client.get("http://h/")).body_as_text() == "é"
        response = await client.get("http://h/")
        assert await response.json() == {"a": [1, 2]}
        assert await response.body(dict) == {"a": [1, 2]}
        with pytest.raises(TypeError, match="Expected a JSON list"):
            await response.body(list)
        with pytest.raises(TypeError, match="No transformation found"):
            await response.body(set)


async def test_response_renders_for_notebooks() -> None:
    engine = MockEngine(lambda r: respond("<b>hi</b>", headers={"Content-Type": "text/html"}))
    async with HttpClient(engine) as client:
        response = await client.get("http://h/")
    html = response._repr_html_()
    assert "200 OK" in html and "&lt;b&gt;hi&lt;/b&gt;" in html

    class Printer:
        def __init__(self) -> None:
            self.out: list[str] = []

        def text(self, obj: str) -> None:
            self.out.append(obj)

        def break_(self) -> None:
            self.out.append("\n")

    printer = Printer()
    response._repr_pretty_(printer, False)
    assert "".join(printer.out).startswith("HTTP/1.1 200 OK")


async def test_request_body_keywords_follow_httpx_conventions() -> None:
    engine = MockEngine(lambda r: respond())
    async with HttpClient(engine) as client:
        await client.post("http://h/", json={"a": "é"})
        await client.post("http://h/", data={"k": "v w"})
        await client.post("http://h/", data={"k": "v"}, files={"f": ("f.txt", b"data")})
        await client.post("http://h/", content="text")
    json_body, form, multipart, text = (r.body for r in engine.requests)
    assert json_body.content_type == "application/json"
    assert await read_body(json_body) == '{"a": "é"}'.encode()
    assert await read_body(form) == b"k=v+w"
    assert multipart.content_type is not None and multipart.content_type.startswith("multipart/form-data")
    assert text.content_type == "text/plain; charset=utf-8"
