"""WebSockets without engines' I/O: the handshake values, the plugin's checks, the capability gate, and the
blocking facade against a real local server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tether_conformance import ServerEnvironment

import tether.sync
from tether import HttpClient, HttpClientConfig, UnsupportedCapabilityError
from tether.engine import WebSocketCapability
from tether.testing import MockEngine, respond
from tether.websockets import (
    JsonWebSocketConverter,
    MessageType,
    WebSocketException,
    WebSocketMessage,
    WebSockets,
)
from tether.websockets.connect import accept_token


@pytest.fixture(scope="module")
def env() -> Iterator[ServerEnvironment]:
    with ServerEnvironment() as environment:
        yield environment


def websockets(config: HttpClientConfig[Any]) -> None:
    config.install(WebSockets)


def test_accept_token_is_the_rfc_6455_example() -> None:
    assert accept_token("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


@pytest.mark.parametrize(
    "fields",
    [{"ping_interval": 0}, {"ping_timeout": -1}, {"max_frame_size": 0}, {"max_message_size": -5}],
)
def test_bad_settings_fail_when_the_client_is_built(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(fields))):
        HttpClient(MockEngine(), lambda config: config.install(WebSockets, **fields))


async def test_an_engine_without_the_capability_fails_before_any_io() -> None:
    engine = MockEngine(lambda request: respond("never"))
    async with HttpClient(engine, websockets) as client:
        with pytest.raises(UnsupportedCapabilityError, match="WebSocket"):
            await client.websocket_session("ws://example.test/")
    assert engine.requests == []
    assert WebSocketCapability not in engine.capabilities


async def test_the_plugin_must_be_installed() -> None:
    async with HttpClient(MockEngine()) as client:
        with pytest.raises(WebSocketException, match=r"config.install\(WebSockets\)"):
            await client.websocket_session("ws://example.test/")


def test_messages_say_what_they_hold() -> None:
    text = WebSocketMessage(MessageType.TEXT, "hi")
    assert (text.is_text, text.text) == (True, "hi")
    with pytest.raises(WebSocketException, match="binary"):
        _ = text.bytes


def test_the_json_converter_round_trips_and_checks_the_type() -> None:
    converter = JsonWebSocketConverter()
    message = WebSocketMessage(MessageType.TEXT, converter.serialize({"a": 1}))
    assert converter.deserialize(message, dict) == {"a": 1}
    with pytest.raises(TypeError, match="list"):
        converter.deserialize(message, list)


def test_the_blocking_facade_sends_receives_and_iterates(env: ServerEnvironment) -> None:
    with tether.sync.HttpClient(None, websockets) as client:
        with client.websocket(env.ws("echo")) as ws:
            ws.send_text("sync")
            ws.send_bytes(b"\x01")
            assert (ws.receive_text(), ws.receive_bytes()) == ("sync", b"\x01")
        assert ws.close_code == 1000
        with client.websocket(env.ws("close?code=4001&reason=bye")) as closing:
            assert list(closing) == []
        assert (closing.close_code, closing.close_reason) == (4001, "bye")
