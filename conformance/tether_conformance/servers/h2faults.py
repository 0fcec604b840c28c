"""An HTTP/2 server for the faults a library server will not show on demand (the `h2` package, server
side, on raw sockets, TLS with ALPN h2): malformed response heads, a GOAWAY while streams are open, a
stream reset without END_STREAM. Loopback only.

Paths (`https://127.0.0.1:<port>/<name>`):
- `ok`: 200 with the body `ok`.
- `goaway-graceful`: a head (Content-Length: 1000) and 100 bytes, then GOAWAY(NO_ERROR, last stream id =
  this stream), then the other 900 bytes with END_STREAM (RFC 9113 6.8: streams up to the last stream
  id may complete). The connection stays open; a stream the client opens on it afterwards is never
  answered (counted in `ignored_after_goaway`).
- `hold?tag=T`: answered (`held`) once `goaway-newer?tag=T` arrived on the same connection (5 s at most).
- `goaway-newer?tag=T`: the first time for T, GOAWAY(NO_ERROR, last stream id = the `hold?tag=T` stream)
  and no answer (the stream was not processed: the client may retry it); `retried` afterwards.
- `rst-no-error-mid-body`: a head without Content-Length, 100 bytes, then RST_STREAM(NO_ERROR) without
  END_STREAM: the response is incomplete.
- `head/<name>`: a malformed response head (`MALFORMED_HEADS`), then the body `ok`.

Any other path: 404.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ssl
from urllib.parse import parse_qsl, urlsplit

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
from hyperframe.frame import GoAwayFrame

from tether_conformance.servers.app import Counter

__all__ = ["MALFORMED_HEADS", "H2FaultServer"]

_Head = list[tuple[bytes, bytes]]

#: Response heads RFC 9113 calls malformed (8.1.1: a stream error, never a response), by `head/<name>`.
MALFORMED_HEADS: dict[str, _Head] = {
    "no-status": [(b"content-length", b"2")],  # 8.3.2: :status is mandatory
    "duplicate-status": [(b":status", b"200"), (b":status", b"200"), (b"content-length", b"2")],
    "signed-status": [(b":status", b"+200"), (b"content-length", b"2")],  # 8.3.2: a three-digit code
    "request-pseudo-header": [(b":status", b"200"), (b":path", b"/"), (b"content-length", b"2")],  # 8.3
    "pseudo-header-after-field": [(b"content-length", b"2"), (b":status", b"200")],  # 8.3
    "uppercase-name": [(b":status", b"200"), (b"X-Upper", b"v"), (b"content-length", b"2")],  # 8.2.1
    "connection": [(b":status", b"200"), (b"connection", b"keep-alive"), (b"content-length", b"2")],  # 8.2.2
    "keep-alive": [(b":status", b"200"), (b"keep-alive", b"timeout=5"), (b"content-length", b"2")],
    "proxy-connection": [(b":status", b"200"), (b"proxy-connection", b"close"), (b"content-length", b"2")],
    "transfer-encoding": [(b":status", b"200"), (b"transfer-encoding", b"chunked")],
    "upgrade": [(b":status", b"200"), (b"upgrade", b"h2c"), (b"content-length", b"2")],
    "te": [(b":status", b"200"), (b"te", b"gzip"), (b"content-length", b"2")],  # 8.2.2: only "trailers"
}

_BODY = b"x" * 1000


class H2FaultServer:
    def __init__(self, counter: Counter) -> None:
        self.counter = counter
        self.port = 0
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        #: Connections accepted so far.
        self.connections = 0
        #: Streams opened on a connection after it sent GOAWAY (never answered, RFC 9113 6.8).
        self.ignored_after_goaway = 0
        #: Tags of `goaway-newer` whose GOAWAY was sent.
        self.goaway_sent: set[str] = set()
        #: Requests received, by path without its query (`head/no-status`, `ok`).
        self.paths: collections.Counter[str] = collections.Counter()
        #: Tags of the `hold` streams waiting for their `goaway-newer`.
        self.holding: set[str] = set()

    async def start(self, ssl_context: ssl.SSLContext) -> None:
        ssl_context.set_alpn_protocols(["h2"])
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        peer = _Connection(self, writer)
        try:
            await peer.run(reader)
        except (OSError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        finally:
            for stream_task in list(peer.tasks):
                stream_task.cancel()
            self._tasks.discard(task)
            writer.close()


class _Connection:
    def __init__(self, server: H2FaultServer, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.writer = writer
        config = h2.config.H2Configuration(
            client_side=False,
            validate_outbound_headers=False,  # the heads are malformed on purpose
            normalize_outbound_headers=False,
            validate_inbound_headers=False,
        )
        self.h2 = h2.connection.H2Connection(config=config)
        self.tasks: set[asyncio.Task[None]] = set()
        #: The last stream id of the GOAWAY this connection sent (None: none sent).
        self.goaway_last: int | None = None
        self.held: dict[str, tuple[int, asyncio.Event]] = {}

    async def run(self, reader: asyncio.StreamReader) -> None:
        self.h2.initiate_connection()
        await self.flush()
        while True:
            data = await reader.read(65536)
            if not data:
                return
            try:
                events = self.h2.receive_data(data)
            except h2.exceptions.ProtocolError:
                return
            for event in events:
                if isinstance(event, h2.events.RequestReceived):
                    self.server.counter.requests += 1
                    headers = dict(event.headers or [])
                    path = headers.get(b":path", b"/").decode("latin-1")
                    self.server.paths[urlsplit(path).path.strip("/")] += 1
                    stream_id = event.stream_id
                    if self.goaway_last is not None and stream_id > self.goaway_last:
                        self.server.ignored_after_goaway += 1
                        continue
                    task = asyncio.ensure_future(self._answer(stream_id, path))
                    self.tasks.add(task)
                    task.add_done_callback(self.tasks.discard)
                elif isinstance(event, h2.events.DataReceived) and event.stream_id and event.flow_controlled_length:
                    with contextlib.suppress(h2.exceptions.ProtocolError):
                        self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            await self.flush()

    async def flush(self) -> None:
        data = self.h2.data_to_send()
        if data:
            self.writer.write(data)
            await self.writer.drain()

    async def goaway(self, last_stream_id: int) -> None:
        """GOAWAY(NO_ERROR) written by hand: h2 would close its own state, and the streams up to
        `last_stream_id` are still to be finished."""
        self.goaway_last = last_stream_id
        frame = GoAwayFrame(0)
        frame.last_stream_id = last_stream_id
        frame.error_code = 0
        await self.flush()
        self.writer.write(frame.serialize())
        await self.writer.drain()

    async def _answer(self, stream_id: int, path: str) -> None:
        with contextlib.suppress(h2.exceptions.ProtocolError, h2.exceptions.StreamClosedError, OSError):
            await self._run(stream_id, path)

    async def _run(self, sid: int, path: str) -> None:
        parts = urlsplit(path)
        name = parts.path.strip("/")
        tag = dict(parse_qsl(parts.query)).get("tag", "")
        conn = self.h2
        if name == "ok":
            conn.send_headers(sid, [(b":status", b"200"), (b"content-length", b"2")])
            conn.send_data(sid, b"ok", end_stream=True)
        elif name == "goaway-graceful":
            conn.send_headers(sid, [(b":status", b"200"), (b"content-length", str(len(_BODY)).encode())])
            conn.send_data(sid, _BODY[:100])
            await self.goaway(sid)
            await asyncio.sleep(0.1)
            conn.send_data(sid, _BODY[100:], end_stream=True)
        elif name == "hold":
            event = asyncio.Event()
            self.held[tag] = (sid, event)
            self.server.holding.add(tag)
            try:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(event.wait(), 5)
            finally:
                self.server.holding.discard(tag)
            await asyncio.sleep(0.05)
            conn.send_headers(sid, [(b":status", b"200"), (b"content-length", b"4")])
            conn.send_data(sid, b"held", end_stream=True)
        elif name == "goaway-newer":
            held = self.held.get(tag)
            if tag in self.server.goaway_sent or held is None:
                conn.send_headers(sid, [(b":status", b"200"), (b"content-length", b"7")])
                conn.send_data(sid, b"retried", end_stream=True)
            else:
                self.server.goaway_sent.add(tag)
                await self.goaway(held[0])  # this stream is above the last one: not processed
                held[1].set()
                return
        elif name == "rst-no-error-mid-body":
            conn.send_headers(sid, [(b":status", b"200")])
            conn.send_data(sid, _BODY[:100])
            await self.flush()
            await asyncio.sleep(0.1)
            conn.reset_stream(sid, h2.errors.ErrorCodes.NO_ERROR)
        elif name.startswith("head/") and name[5:] in MALFORMED_HEADS:
            conn.send_headers(sid, MALFORMED_HEADS[name[5:]])
            conn.send_data(sid, b"ok", end_stream=True)
        else:
            conn.send_headers(sid, [(b":status", b"404"), (b"content-length", b"0")], end_stream=True)
        await self.flush()
