"""WebSockets without engines' I/O: the handshake values, the plugin's checks, the capability gate, and the
blocking facade against a real local server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tether_conformance import ServerEnvironment
from wsproto.connection import Connection, ConnectionType
from wsproto.events import Message, Ping

import tether.sync
from tether import HttpClient, HttpClientConfig, UnsupportedCapabilityError
from tether.engine import WebSocketCapability
from tether.engine.upgrade import UpgradedStream
from tether.http import Headers
from tether.testing import MockEngine, respond
from tether.websockets import (
    JsonWebSocketConverter,
    MessageType,
    WebSocketClosedException,
    WebSocketException,
    WebSocketMessage,
    WebSocketProtocolException,
    WebSockets,
    WebSocketsConfig,
    WebSocketSession,
)
from tether.websockets.connect import _check_deflate, accept_token
from tether.websockets.session import _client_frame


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
    [
        {"ping_interval": 0},
        {"ping_timeout": -1},
        {"max_frame_size": 0},
        {"max_message_size": -5},
        {"client_max_window_bits": 8},
        {"server_max_window_bits": 16},
    ],
)
def test_bad_settings_fail_when_the_client_is_built(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(fields))):
        HttpClient(MockEngine(), lambda config: config.install(WebSockets, **fields))


@pytest.mark.parametrize(
    "fields",
    [
        {"compression": "yes"},
        {"client_no_context_takeover": 1},
        {"server_no_context_takeover": None},
        {"server_max_window_bits": True},
        {"client_max_window_bits": 9.5},
    ],
)
async def test_deflate_settings_of_the_wrong_type_fail_at_install_and_per_call(fields: dict[str, Any]) -> None:
    with pytest.raises(TypeError, match=next(iter(fields))):
        HttpClient(MockEngine(), lambda config: config.install(WebSockets, **fields))
    async with HttpClient(MockEngine(), websockets) as client:
        with pytest.raises(TypeError, match=next(iter(fields))):
            await client.websocket_session("ws://example.test/", **fields)


def test_the_deflate_offer_carries_the_settings() -> None:
    assert WebSocketsConfig(compression=False, server_no_context_takeover=True).deflate_offer() is None
    default = WebSocketsConfig().deflate_offer()
    assert default is not None and default.offer() == "client_max_window_bits=15; server_max_window_bits=15"
    offer = WebSocketsConfig(
        client_no_context_takeover=True,
        server_no_context_takeover=True,
        client_max_window_bits=10,
        server_max_window_bits=9,
    ).deflate_offer()
    assert offer is not None
    assert offer.offer() == (
        "client_max_window_bits=10; server_max_window_bits=9; client_no_context_takeover; server_no_context_takeover"
    )


@pytest.mark.parametrize(
    ("settings", "answer"),
    [
        ({"server_no_context_takeover": True}, "permessage-deflate"),
        ({"server_max_window_bits": 10}, "permessage-deflate"),
        ({"server_max_window_bits": 10}, "permessage-deflate; server_max_window_bits=12"),
    ],
)
def test_a_server_that_ignores_what_the_client_asked_fails_the_handshake(settings: dict[str, Any], answer: str) -> None:
    config = WebSocketsConfig(**settings)
    extension = config.deflate_offer()
    assert extension is not None
    extension.finalize(answer)
    with pytest.raises(WebSocketProtocolException, match="server"):
        _check_deflate(extension, answer, config)


def test_the_client_keeps_to_its_own_window_when_the_server_allows_more() -> None:
    config = WebSocketsConfig(client_max_window_bits=10, server_max_window_bits=11)
    extension = config.deflate_offer()
    assert extension is not None
    answer = "permessage-deflate; client_max_window_bits=15; server_max_window_bits=9; server_no_context_takeover"
    extension.finalize(answer)
    _check_deflate(extension, answer, config)
    assert (extension.client_max_window_bits, extension.server_max_window_bits) == (10, 9)


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


class _ScriptedStream(UpgradedStream):
    """Reads hand out `chunks` in order, then the end of the stream; writes are recorded."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = list(chunks)
        self.written: list[bytes] = []

    async def read(self, max_bytes: int) -> bytes:
        await asyncio.sleep(0)
        return self.chunks.pop(0) if self.chunks else b""

    async def write(self, data: bytes) -> None:
        self.written.append(data)

    def abort(self) -> None:
        self.chunks.clear()


class _Head:
    headers = Headers()


async def _received(chunks: list[bytes], fast: bool) -> list[WebSocketMessage]:
    stream = _ScriptedStream(chunks)
    session = WebSocketSession(stream, _Head(), None, [], WebSocketsConfig())  # type: ignore[arg-type]
    if not fast:
        session._fast_messages = lambda data: (data, 0)  # type: ignore[method-assign]
    messages = []
    with contextlib.suppress(WebSocketClosedException):
        async for message in session:
            messages.append(message)
    session._abort()
    return messages


_MESSAGES = st.lists(
    st.tuples(
        st.one_of(st.text(max_size=300), st.binary(max_size=300), st.sampled_from([b"x" * 70_000, "é" * 40_000])),
        st.integers(1, 3),  # fragments
        st.booleans(),  # a ping before it
    ),
    max_size=8,
)


@settings(max_examples=40, deadline=None)
@given(messages=_MESSAGES, cut=st.integers(1, 5000))
async def test_the_fast_frame_path_receives_what_wsproto_receives(
    messages: list[tuple[str | bytes, int, bool]], cut: int
) -> None:
    server = Connection(ConnectionType.SERVER)
    wire = b""
    for data, fragments, ping in messages:
        if ping:
            wire += server.send(Ping(b"p"))
        step = max(1, -(-len(data) // fragments))
        pieces = [data[i : i + step] for i in range(0, len(data), step)] or [data]
        for index, piece in enumerate(pieces):
            wire += server.send(Message(data=piece, message_finished=index == len(pieces) - 1))
    cut = max(cut, len(wire) // 200)  # at most about 200 reads per stream: bounded run time
    chunks = [wire[i : i + cut] for i in range(0, len(wire), cut)]
    fast, plain = await _received(chunks, fast=True), await _received(chunks, fast=False)
    assert (
        fast
        == plain
        == [WebSocketMessage(MessageType.TEXT if isinstance(d, str) else MessageType.BINARY, d) for d, _, _ in messages]
    )


@settings(max_examples=60, deadline=None)
@given(data=st.one_of(st.text(max_size=70_000), st.binary(max_size=70_000)))
def test_frames_built_without_wsproto_decode_as_the_message(data: str | bytes) -> None:
    server = Connection(ConnectionType.SERVER)
    payload = data.encode() if isinstance(data, str) else data
    server.receive_data(_client_frame(0x81 if isinstance(data, str) else 0x82, payload))
    events = list(server.events())
    assert len(events) == 1 and events[0].data == data and events[0].message_finished


async def test_the_fast_frame_path_waits_for_the_reader_when_its_queue_is_full() -> None:
    server = Connection(ConnectionType.SERVER)
    sent = [bytes([i % 256]) * (i % 300) for i in range(300)]  # far more than the incoming queue holds
    wire = b"".join(server.send(Message(data=data)) for data in sent)
    fast, plain = await _received([wire], fast=True), await _received([wire], fast=False)
    assert [m.data for m in fast] == [m.data for m in plain] == sent


async def test_httpx_sessions_take_over_the_transport_on_plain_tcp(env: ServerEnvironment) -> None:
    # The fast path (the asyncio transport under anyio adopted, no anyio checkpoint per message) must
    # see through the engine's head-recording stream; without it a session cost ~20x the CPU per message.
    async with (
        HttpClient("httpx", lambda config: config.install(WebSockets)) as client,
        client.websocket(env.ws("echo")) as ws,
    ):
        assert ws._stream._adopted is not None
        await ws.send_text("hi")
        assert await ws.receive_text() == "hi"
