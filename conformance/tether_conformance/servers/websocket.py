"""A WebSocket server for the behaviours a library server will not show on demand (wsproto, server
side, on raw sockets): a close code of the case's choosing, a dropped connection, a peer that never
answers pings, invalid UTF-8, oversized frames, a bad `Sec-WebSocket-Accept`, refusals with a body.

Paths (`ws://127.0.0.1:<port>/ws/<name>`):
- `echo`: echoes every message; `?subprotocol=x` picks x when offered; `?compression=off` refuses
  permessage-deflate; the first message it sends is a JSON report of the handshake when `?report=1`.
- `close?code=4001&reason=bye`: closes right after the handshake.
- `drop`: drops TCP after the first message it receives (no close frame).
- `silent`: reads and ignores everything, pings included.
- `invalid-utf8`: sends a text frame holding invalid UTF-8.
- `frame?size=N`: sends one binary frame of N bytes; `fragments?count=N&size=M` one message in N
  fragments of M bytes.
- `ping`: pings the client with b"are you there", then sends `pong:<payload>` once the pong arrived.
- `bad-accept`: a 101 with a wrong `Sec-WebSocket-Accept`.
- `auth`: 401 (`WWW-Authenticate: Bearer`, a body) unless `Authorization: Bearer valid`; then echo.
  `?stale=1`: after the 401 the connection stays open until the next request on it arrives, which
  the server then drops unanswered (a keep-alive connection that timed out just then).
- `refuse`: 403 with the body `go away`.
- `hang`: never answers the upgrade request.
- `stall`: reads nothing (its transport paused) until the case calls
  `release(tag)` (30 s at most), then serves as `echo` does without echoing, recording every message
  it receives in `received[tag]` as (opcode, length, SHA-256 hex prefix): the client's sends back up meanwhile.

Any path takes `?tag=<name>`: the server then records the close frame it received on that session
(`close_frames[name]`, (code, reason)) and, once the connection is gone, adds `name` to `ended`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import ssl
import struct
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Message,
    Ping,
    Pong,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)
from wsproto.extensions import Extension, PerMessageDeflate

from tether_conformance.servers.app import Counter

__all__ = ["WebSocketServer"]


class WebSocketServer:
    def __init__(self, counter: Counter) -> None:
        self.counter = counter
        self.port = 0
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        #: Connections currently open (a case checks that closing left none behind).
        self.open_connections = 0
        #: Per `?tag=`: the close frame the client sent (code, reason), and the tags whose connection ended.
        self.close_frames: dict[str, tuple[int, str]] = {}
        self.ended: set[str] = set()
        #: Per `?tag=` of a `stall` session: the messages it received, (opcode, length, SHA-256 hex prefix).
        self.received: dict[str, list[tuple[int, int, str]]] = {}
        self._released: set[str] = set()
        self._release_events: dict[str, asyncio.Event] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=ssl_context, limit=1 << 20)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    def release(self, tag: str) -> None:
        """Let the `stall` session `tag` read (callable from any thread)."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._release, tag)

    def _release(self, tag: str) -> None:
        self._released.add(tag)
        event = self._release_events.get(tag)
        if event is not None:
            event.set()

    async def released(self, tag: str) -> None:
        """Until `release(tag)` was called (on the server's loop)."""
        if tag in self._released:
            return
        event = self._release_events.setdefault(tag, asyncio.Event())
        try:
            await event.wait()
        finally:
            self._release_events.pop(tag, None)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.counter.requests += 1
        self.open_connections += 1
        peer = _Peer(reader, writer, self.close_frames, self)
        try:
            await peer.run()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            if peer.tag is not None:
                self.ended.add(peer.tag)
            self.open_connections -= 1
            self._tasks.discard(task)
            writer.close()


class _Peer:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        close_frames: dict[str, tuple[int, str]],
        server: WebSocketServer,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.ws = WSConnection(ConnectionType.SERVER)
        self.close_frames = close_frames
        self.server = server
        self.tag: str | None = None

    async def send(self, event: object) -> None:
        self.writer.write(self.ws.send(event))  # type: ignore[arg-type]
        await self.writer.drain()

    async def events(self) -> list[object]:
        data = await self.reader.read(1 << 20)
        self.ws.receive_data(data or None)
        return list(self.ws.events())

    async def run(self) -> None:
        request: Request | None = None
        while request is None:
            for event in await self.events():
                if isinstance(event, Request):
                    request = event
                    break
            else:
                if self.reader.at_eof():
                    return
        parts = urlsplit(request.target)
        name = parts.path.rsplit("/", 1)[-1]
        if name == "hang":  # never answers the upgrade; waits for the client to go away
            while await self.reader.read(65536):
                pass
            return
        query = dict(parse_qsl(parts.query))
        self.tag = query.get("tag")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.extra_headers}
        if name == "bad-accept":
            self.writer.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: " + base64.b64encode(b"0" * 20) + b"\r\n\r\n"
            )
            await self.writer.drain()
            await self.reader.read(1024)
            return
        if name == "refuse" or (name == "auth" and headers.get("authorization") != "Bearer valid"):
            status, body = (403, b"go away") if name == "refuse" else (401, b"token please")
            extra = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
            if name == "auth":
                extra.append((b"www-authenticate", b"Bearer"))
            await self.send(RejectConnection(status_code=status, headers=extra, has_body=True))
            await self.send(RejectData(data=body))
            if query.get("stale"):
                # The connection looks kept alive, but the server drops it as the next request on it
                # arrives (its keep-alive timeout passed just then): a client must not fail for that.
                await self.reader.read(65536)
            return
        subprotocol = query.get("subprotocol")
        if subprotocol not in request.subprotocols:
            subprotocol = None
        extensions: list[Extension] = [] if query.get("compression") == "off" else [PerMessageDeflate()]
        await self.send(AcceptConnection(subprotocol=subprotocol, extensions=extensions))
        await getattr(self, "_" + name.replace("-", "_"), self._echo)(query, request, headers)

    async def _echo(self, query: dict[str, str], request: Request, headers: dict[str, str]) -> None:
        if query.get("report"):
            report = {
                "headers": headers,
                "subprotocols": list(request.subprotocols),
                "extensions": [str(e) for e in request.extensions],
            }
            await self.send(Message(data=json.dumps(report)))
        await self._serve(echo=True)

    async def _serve(
        self,
        *,
        echo: bool,
        drop_after: int | None = None,
        answer_pings: bool = True,
        record: list[tuple[int, int, str]] | None = None,
    ) -> None:
        parts: list[Any] = []
        received = 0
        while True:
            events = await self.events()
            for event in events:
                if isinstance(event, (TextMessage, BytesMessage)):
                    parts.append(event.data)
                    if not event.message_finished:
                        continue
                    received += 1
                    if record is not None:
                        record.append(_digest(parts))
                    if drop_after is not None and received >= drop_after:
                        self.writer.transport.abort()
                        return
                    if echo and self.ws.state is ConnectionState.OPEN:  # not after a close in the same read
                        data: Any = "".join(parts) if isinstance(event, TextMessage) else b"".join(parts)
                        await self.send(Message(data=data))
                    parts = []
                elif isinstance(event, Ping):
                    if answer_pings:
                        await self.send(event.response())
                elif isinstance(event, CloseConnection):
                    if event.code == 1006:
                        return
                    if self.tag is not None:
                        self.close_frames[self.tag] = (int(event.code), event.reason or "")
                    with contextlib.suppress(Exception):
                        await self.send(event.response())
                    return
            if not events and self.reader.at_eof():
                return

    async def _close(self, query: dict[str, str], request: Request, headers: dict[str, str]) -> None:
        await self.send(CloseConnection(code=int(query.get("code", "1000")), reason=query.get("reason", "")))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._serve(echo=False), 10)

    async def _drop(self, query: dict[str, str], request: Request, headers: dict[str, str]) -> None:
        await self._serve(echo=False, drop_after=1)

    async def _silent(self, query: dict[str, str], request: Request, headers: dict[str, str]) -> None:
        await self._serve(echo=False, answer_pings=False)

    async def _stall(self, query: dict[str, str], request: Request, headers: dict[str, str]) -> None:
        tag = query["tag"]
        record = self.server.received.setdefault(tag, [])
        transport = cast(asyncio.Transport, self.writer.transport)
        transport.pause_reading()
        try:
            await asyncio.wait_for(self.server.released(tag), 30)
        finally:
            transport.resume_reading()
        await self._serve(echo=False, record=record)

    async def _invalid_utf8(self, query: dict[str, str], request: Request, headers: dict[str, str]) -> None:
        self.writer.write(b"\x81\x04ab\xc3\x28")  # FIN text, 4 bytes: "ab" + a broken 2-byte sequence
        await self._serve(echo=False)

    async def _frame(self, query: dict[str, str], request: Request, headers: dict[str, str]) -> None:
        size = int(query["size"])
        if size < 126:
            header = bytes([0x82, size])
        elif size < 65536:
            header = b"\x82\x7e" + struct.pack("!H", size)
        else:
            header = b"\x82\x7f" + struct.pack("!Q", size)
        self.writer.write(header)
        self.writer.write(b"\x00" * size)
        await self._serve(echo=False)

    async def _fragments(self, query: dict[str, str], request: Request, headers: dict[str, str]) -> None:
        count, size = int(query["count"]), int(query["size"])
        for index in range(count):
            await self.send(Message(data=bytes([index % 256]) * size, message_finished=index == count - 1))
        await self._serve(echo=True)

    async def _ping(self, query: dict[str, str], request: Request, headers: dict[str, str]) -> None:
        await self.send(Ping(payload=b"are you there"))
        while True:
            events = await self.events()
            for event in events:
                if isinstance(event, Pong):
                    await self.send(Message(data="pong:" + bytes(event.payload).decode()))
                    await self._serve(echo=True)
                    return
                if isinstance(event, CloseConnection):
                    return
            if not events and self.reader.at_eof():
                return


def _digest(parts: list[Any]) -> tuple[int, int, str]:
    """(opcode, length, SHA-256 hex prefix) of a whole message, as `stall` records it."""
    if parts and isinstance(parts[0], str):
        data = "".join(parts).encode("utf-8")
        opcode = 1
    else:
        data = b"".join(parts)
        opcode = 2
    return opcode, len(data), hashlib.sha256(data).hexdigest()[:16]
