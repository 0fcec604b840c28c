"""Notebook display: binary bodies by type and size, images inline, JSON pretty-printed; sync = async."""

from __future__ import annotations

import base64

import pytest

import tether.sync
from tether import HttpClient
from tether.testing import MockEngine, respond

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


async def html_of(content: bytes, content_type: str | None) -> str:
    headers = {"Content-Type": content_type} if content_type else None
    async with HttpClient(MockEngine(lambda request: respond(content, headers=headers))) as client:
        return (await client.get("http://h/x"))._repr_html_()


async def test_a_binary_body_shows_type_and_size_not_bytes_as_text() -> None:
    shown = await html_of(bytes(range(256)) * 40, "application/octet-stream")
    assert "binary body: application/octet-stream, 10,240 bytes" in shown
    assert "\x00" not in shown and "\ufffd" not in shown


async def test_a_body_without_content_type_is_sniffed() -> None:
    assert "binary body: no Content-Type, 3 bytes" in await html_of(b"\x00\x01\x02", None)
    assert "plain words" in await html_of(b"plain words", None)


async def test_an_image_is_shown_inline() -> None:
    shown = await html_of(PNG, "image/png")
    assert f"<img src='data:image/png;base64,{base64.b64encode(PNG).decode()}'" in shown


async def test_json_is_pretty_printed() -> None:
    shown = await html_of(b'{"user":{"name":"Ada","langs":["en"]}}', "application/json; charset=utf-8")
    assert "{\n  &quot;user&quot;: {\n    &quot;name&quot;: &quot;Ada&quot;" in shown


async def test_invalid_json_falls_back_to_text() -> None:
    assert "not json" in await html_of(b"not json", "application/problem+json")


@pytest.mark.parametrize(("content", "content_type"), [(PNG, "image/png"), (b'{"a": 1}', "application/json")])
async def test_sync_and_async_responses_look_the_same(content: bytes, content_type: str) -> None:
    engine = MockEngine(lambda request: respond(content, headers={"Content-Type": content_type}))
    async with HttpClient(engine) as client:
        async_html = (await client.get("http://h/x"))._repr_html_()
    with tether.sync.HttpClient(engine) as sync_client:
        sync_html = sync_client.get("http://h/x")._repr_html_()
    assert sync_html == async_html
