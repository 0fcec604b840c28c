"""The Httpx engine's HTTP/2 connection (engines/tether_httpx/http2.py): RFC 9113's GOAWAY (6.8) and
response head (8.1.1) rules, on the engine's own pools only. The end-to-end verdicts are conformance
cases (conformance/tether_conformance/cases/test_http2_faults.py); these pin the pieces."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import httpcore
import httpx
import pytest
from httpcore._async.http2 import AsyncHTTP2Connection
from hyperframe.frame import GoAwayFrame
from tether_httpx.engine import HttpxConfig, HttpxEngine
from tether_httpx.http2 import SUPPORTED, Http2Connection, _GoawayKeepsStreams, head_problem, use_http2_connections

from tether.engine import Http2Capability

_OK_HEAD = [(b":status", b"200"), (b"content-type", b"text/plain"), (b"content-length", b"2"), (b"te", b"trailers")]


def test_the_installed_httpcore_and_h2_are_the_ones_the_hooks_are_written_for() -> None:
    assert SUPPORTED


@pytest.mark.parametrize(
    "head",
    [
        _OK_HEAD,
        [(b":status", b"204")],
        [(b":status", b"200"), (b"connection-id", b"1"), (b"upgrade-insecure-requests", b"1"), (b"tea", b"x")],
        [(b":status", b"200"), (b"te", b"Trailers"), (b"x-value", b"Mixed Case Value")],
    ],
)
def test_well_formed_heads_pass(head: list[tuple[bytes, bytes]]) -> None:
    assert head_problem(head) is None


@pytest.mark.parametrize(
    ("head", "problem"),
    [
        ([], "no :status"),
        ([(b"content-length", b"2")], "no :status"),
        ([(b"content-length", b"2"), (b":status", b"200")], ":status not first"),
        ([(b":status", b"200"), (b":status", b"200")], "more than one :status"),
        ([(b":status", b"+200")], "invalid :status"),
        ([(b":status", b"20")], "invalid :status"),
        ([(b":status", b"2_00")], "invalid :status"),
        ([(b":status", b"200"), (b":path", b"/")], "pseudo-header b':path'"),
        ([(b":status", b"200"), (b"X-Upper", b"v")], "uppercase field name"),
        ([(b":status", b"200"), (b"connection", b"keep-alive")], "connection-specific field 'connection'"),
        ([(b":status", b"200"), (b"keep-alive", b"5")], "connection-specific field 'keep-alive'"),
        ([(b":status", b"200"), (b"proxy-connection", b"x")], "connection-specific field 'proxy-connection'"),
        ([(b":status", b"200"), (b"transfer-encoding", b"chunked")], "connection-specific field 'transfer-encoding'"),
        ([(b":status", b"200"), (b"upgrade", b"h2c")], "connection-specific field 'upgrade'"),
        ([(b":status", b"200"), (b"te", b"gzip")], "te: b'gzip'"),
    ],
)
def test_malformed_heads_are_named(head: list[tuple[bytes, bytes]], problem: str) -> None:
    found = head_problem(head)
    assert found is not None and problem in found, found


def _exchange(client: h2.connection.H2Connection) -> list[h2.events.Event]:
    """A server answers stream 1 with a head and 100 bytes, sends GOAWAY(NO_ERROR, last stream 1), then
    the rest of the body with END_STREAM: the events `client` reports."""
    config = h2.config.H2Configuration(client_side=False)
    server = h2.connection.H2Connection(config=config)
    server.initiate_connection()
    client.initiate_connection()
    client.send_headers(1, [(":method", "GET"), (":scheme", "https"), (":authority", "a"), (":path", "/")], True)
    server.receive_data(client.data_to_send())
    server.send_headers(1, [(":status", "200"), ("content-length", "1000")])
    server.send_data(1, b"x" * 100)
    goaway = GoAwayFrame(0)
    goaway.last_stream_id = 1
    events = client.receive_data(server.data_to_send() + goaway.serialize())
    server.send_data(1, b"x" * 900, end_stream=True)
    return events + client.receive_data(server.data_to_send())


def test_a_goaway_leaves_the_streams_up_to_its_last_stream_id_open() -> None:
    config = h2.config.H2Configuration(validate_inbound_headers=False)
    events = _exchange(_GoawayKeepsStreams(config=config))
    terminated = [e for e in events if isinstance(e, h2.events.ConnectionTerminated)]
    assert len(terminated) == 1 and terminated[0].last_stream_id == 1 and terminated[0].error_code == 0
    assert sum(len(e.data or b"") for e in events if isinstance(e, h2.events.DataReceived)) == 1000
    assert any(isinstance(e, h2.events.StreamEnded) for e in events)


def test_h2_itself_closes_every_stream_on_a_goaway() -> None:
    """Why `_GoawayKeepsStreams` exists: with h2's own connection the rest of the stream is an error."""
    with pytest.raises(h2.exceptions.ProtocolError):
        _exchange(h2.connection.H2Connection(config=h2.config.H2Configuration(validate_inbound_headers=False)))


class _Stream(httpcore.AsyncNetworkStream):
    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        return None

    async def aclose(self) -> None:
        return None


def _pool_of(client: httpx.AsyncClient) -> Any:
    return client._transport._pool  # type: ignore[attr-defined]


def _http2_connection_made_by(pool: Any) -> Any:
    """What a connection of `pool` keeps as its HTTP/2 connection (httpcore assigns it on connecting)."""
    origin = httpcore.Origin(b"https", b"example.com", 443)
    connection = pool.create_connection(origin)
    connection._connection = AsyncHTTP2Connection(origin, _Stream())
    return connection._connection


async def test_only_the_engines_pools_use_the_http2_connection() -> None:
    engine = HttpxEngine(HttpxConfig())
    try:
        shard = engine._shard(SimpleNamespace(capabilities={Http2Capability: None}))  # type: ignore[arg-type]
        assert type(_http2_connection_made_by(_pool_of(shard.client))) is Http2Connection
    finally:
        await engine._close()
    async with httpx.AsyncClient(http2=True) as plain:  # another httpx user in the same process
        assert type(_http2_connection_made_by(_pool_of(plain))) is AsyncHTTP2Connection


async def test_wrapping_a_pool_twice_wraps_it_once() -> None:
    async with httpx.AsyncClient(http2=True) as client:
        use_http2_connections(client)
        wrapped = _pool_of(client).create_connection
        use_http2_connections(client)
        assert _pool_of(client).create_connection is wrapped
