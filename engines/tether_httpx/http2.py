"""HTTP/2 as the Curl engine (libcurl over nghttp2) speaks it, on the engine's own httpcore pools.

httpcore 1.0's HTTP/2 connection departs from RFC 9113 in two ways the engine cannot see from outside:

- A GOAWAY fails every open stream, the ones the server promised to finish too (6.8: streams up to the
  GOAWAY's last stream id may still complete; only the ones above it were not processed, and are
  retried on a new connection). h2 makes it worse: on a GOAWAY it closes its whole connection state, so
  the frames that finish those streams become protocol errors. Here the streams up to the last stream
  id are read to their end, the ones above it are retried (httpcore's ConnectionNotAvailable, as
  before), and the connection takes no new request.
- It builds h2 with inbound header validation off and reads a head loosely: a head without `:status`
  becomes a 200, an uppercase field name or a connection-specific field is taken as it came. A
  malformed head (8.1.1, 8.2.1, 8.2.2, 8.3, 8.3.2) is refused here, for its stream only (a
  RST_STREAM(PROTOCOL_ERROR), as nghttp2 does), and never retried. Field names and values are
  otherwise checked where every engine checks them (`tether.engine.support.response_headers`).

Only the pools the engine makes get this connection: their `create_connection` is wrapped, and the
connection objects it returns (direct, CONNECT tunnel, SOCKS) put `Http2Connection` where httpcore
would put its own HTTP/2 connection. Nothing of httpcore's or h2's is changed for other users. The
hooks are private API of httpcore 1.0 and h2 4: with other versions the pools are left as they are.
"""

from __future__ import annotations

import contextlib
import logging
import re
import typing

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import httpcore
import httpx
from httpcore._async.connection import AsyncHTTPConnection
from httpcore._async.http2 import AsyncHTTP2Connection
from httpcore._async.http_proxy import AsyncTunnelHTTPConnection
from httpcore._async.socks_proxy import AsyncSocks5Connection
from httpcore._exceptions import ConnectionNotAvailable, RemoteProtocolError
from httpcore._trace import Trace

__all__ = ["Http2Connection", "MalformedHead", "head_problem", "use_http2_connections"]

_logger = logging.getLogger("httpcore.http2")  # httpcore's, for its trace events

#: The private hooks this module relies on (httpcore 1.0.x, h2 4.x).
SUPPORTED = (
    httpcore.__version__.startswith("1.0.")
    and all(
        hasattr(AsyncHTTP2Connection, name)
        for name in ("_receive_events", "_receive_response", "_receive_stream_event", "_read_incoming_data")
    )
    and hasattr(h2.connection.H2Connection, "_receive_goaway_frame")
)

#: RFC 9113 8.2.2: fields that are connection-specific in HTTP/1.1 have no place in HTTP/2.
_CONNECTION_SPECIFIC = frozenset({b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"})
#: Field names that are connection-specific (8.2.2), or may be (`te`: only "trailers" is allowed).
_SUSPECT_NAMES = _CONNECTION_SPECIFIC | {b"te"}
_STATUS = re.compile(rb"[0-9]{3}")
#: The events httpcore queues for the stream they belong to.
_STREAM_EVENTS = (h2.events.ResponseReceived, h2.events.DataReceived, h2.events.StreamEnded, h2.events.StreamReset)


class MalformedHead(RemoteProtocolError):
    """A malformed response head: httpx reports it as a RemoteProtocolError caused by this one, which
    the engine never retries (the server answered)."""


def head_problem(headers: list[tuple[bytes, bytes]]) -> str | None:
    """What makes a response head malformed (RFC 9113 8.1.1), None when nothing does. A common head
    costs a join, two scans of the joined names and a set look-up (about 2 us for 8 fields)."""
    if not headers or headers[0][0] != b":status":
        return "no :status pseudo-header" if all(n != b":status" for n, _ in headers) else ":status not first"
    status = headers[0][1]
    if _STATUS.fullmatch(status) is None:
        return f"invalid :status {status!r}"
    names = [name for name, _ in headers[1:]]
    joined = b"\x00".join(names)
    if b":" not in joined and joined.lower() == joined and _SUSPECT_NAMES.isdisjoint(names):
        return None
    for name, value in headers[1:]:
        if name[:1] == b":":
            return f"pseudo-header {name!r} after :status" if name != b":status" else "more than one :status"
        if name != name.lower():
            return f"uppercase field name {name!r}"
        if name in _CONNECTION_SPECIFIC:
            return f"connection-specific field {name.decode('latin-1')!r}"
        if name == b"te" and value.lower() != b"trailers":
            return f"te: {value!r} (only 'trailers' is allowed)"
    return None


class _GoawayKeepsStreams(h2.connection.H2Connection):
    """h2's connection, except that a GOAWAY does not close its state: the streams up to the GOAWAY's
    last stream id go on to their end (RFC 9113 6.8). The GOAWAY is still reported as h2 reports it
    (a ConnectionTerminated event); no new stream is opened afterwards (`Http2Connection`)."""

    def _receive_goaway_frame(self, frame: typing.Any) -> tuple[list[typing.Any], list[h2.events.Event]]:
        event = h2.events.ConnectionTerminated()
        try:
            event.error_code = h2.errors.ErrorCodes(frame.error_code)
        except ValueError:
            event.error_code = frame.error_code
        event.last_stream_id = frame.last_stream_id
        event.additional_data = frame.additional_data or None
        return [], [event]


class Http2Connection(AsyncHTTP2Connection):
    """httpcore's HTTP/2 connection with RFC 9113's GOAWAY (6.8) and response head rules (8.1.1)."""

    def __init__(
        self,
        origin: httpcore.Origin,
        stream: httpcore.AsyncNetworkStream,
        keepalive_expiry: float | None = None,
    ) -> None:
        super().__init__(origin, stream, keepalive_expiry)
        self._h2_state = _GoawayKeepsStreams(config=self.CONFIG)

    def is_available(self) -> bool:
        return self._connection_terminated is None and super().is_available()

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        if self._connection_terminated is not None:  # GOAWAY: streams of this connection only end
            raise ConnectionNotAvailable()
        return await super().handle_async_request(request)

    async def _receive_response(
        self, request: httpcore.Request, stream_id: int
    ) -> tuple[int, list[tuple[bytes, bytes]]]:
        while True:
            event = await self._receive_stream_event(request, stream_id)
            if isinstance(event, h2.events.ResponseReceived):
                break
        headers = typing.cast("list[tuple[bytes, bytes]]", event.headers or [])
        problem = head_problem(headers)
        if problem is not None:
            # A stream error (8.1.1): this stream is reset, the connection's other streams go on.
            with contextlib.suppress(h2.exceptions.StreamClosedError):  # the server ended it already
                self._h2_state.reset_stream(stream_id, h2.errors.ErrorCodes.PROTOCOL_ERROR)
                await self._write_outgoing_data(request)
            message = f"malformed HTTP/2 response head: {problem}"
            raise MalformedHead(message)
        return int(headers[0][1]), headers[1:]

    async def _receive_events(self, request: httpcore.Request, stream_id: int | None = None) -> None:
        """httpcore's, except for a stream at or below a GOAWAY's last stream id: it reads on."""
        async with self._read_lock:
            terminated = self._connection_terminated
            if terminated is not None and not (stream_id and stream_id <= (terminated.last_stream_id or 0)):
                last_stream_id = terminated.last_stream_id
                if stream_id and last_stream_id and stream_id > last_stream_id:
                    self._request_count -= 1
                    raise ConnectionNotAvailable()
                raise RemoteProtocolError(terminated)
            if stream_id is None or not self._events.get(stream_id):
                for event in await self._read_incoming_data(request):
                    if isinstance(event, h2.events.RemoteSettingsChanged):
                        async with Trace("receive_remote_settings", _logger, request) as trace:
                            await self._receive_remote_settings_change(event)
                            trace.return_value = event
                    elif isinstance(event, _STREAM_EVENTS):
                        if event.stream_id in self._events:
                            self._events[event.stream_id].append(event)
                    elif isinstance(event, h2.events.ConnectionTerminated):
                        self._connection_terminated = event
        await self._write_outgoing_data(request)


class _AdoptsHttp2:
    """Mixed into httpcore's connection classes: the HTTP/2 connection they make becomes ours."""

    def __setattr__(self, name: str, value: object) -> None:
        if name == "_connection" and type(value) is AsyncHTTP2Connection:
            made = typing.cast("typing.Any", value)  # fresh: not used yet
            value = Http2Connection(made._origin, made._network_stream, made._keepalive_expiry)
        object.__setattr__(self, name, value)


#: httpcore's connection classes that make an HTTP/2 connection, and their adopting subclasses.
_ADOPTING: dict[type[typing.Any], type[typing.Any]] = {
    cls: type(cls.__name__, (_AdoptsHttp2, cls), {"__module__": __name__})
    for cls in (AsyncHTTPConnection, AsyncTunnelHTTPConnection, AsyncSocks5Connection)
}


def use_http2_connections(client: httpx.AsyncClient) -> None:
    """Make every httpcore pool of `client` (proxies included) use `Http2Connection` for HTTP/2; a
    custom transport given through `customize_client` is left alone."""
    if not SUPPORTED:
        return
    for transport in [client._transport, *client._mounts.values()]:
        pool = getattr(transport, "_pool", None)
        if isinstance(pool, httpcore.AsyncConnectionPool) and "create_connection" not in vars(pool):
            pool.create_connection = _adopting(pool.create_connection)  # type: ignore[method-assign,assignment]


def _adopting(
    create: typing.Callable[[httpcore.Origin], typing.Any],
) -> typing.Callable[[httpcore.Origin], typing.Any]:
    def create_connection(origin: httpcore.Origin) -> typing.Any:
        connection = create(origin)
        adopting = _ADOPTING.get(type(connection))
        if adopting is not None:
            connection.__class__ = adopting  # a fresh object, not yet connected nor shared
        return connection

    return create_connection
