"""A raw-socket HTTP server for what a correct server never sends.

`GET /raw/<name>` answers with the bytes registered under <name> and closes the connection (unless the
response ends with `KEEP_OPEN` or `CLOSE_NEXT`; `RESET` resets it). The llhttp response vectors are
registered here too.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct

from tether_conformance.servers.app import Counter

#: Canned responses: name -> bytes sent after the request head has been read.
RAW_RESPONSES: dict[str, bytes] = {
    "ok": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    "truncated-content-length": (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly thirty bytes of the body!"),
    "close-before-status": b"",
    "close-after-headers": b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
    "truncated-chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n10\r\nshort",
    "chunked-without-terminator": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
    "bad-status-line": b"HTTP/1.1 OK\r\nContent-Length: 0\r\n\r\n",
    "garbage": b"\x00\x01\x02 this is not HTTP at all\r\n\r\n",
    "not-http": b"SSH-2.0-OpenSSH_9.2\r\n",
    "status-code-too-long": b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
    "negative-content-length": b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nabc",
    "non-numeric-content-length": b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\nabc",
    "conflicting-content-lengths": b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde",
    "space-in-header-name": b"HTTP/1.1 200 OK\r\nBad Header: x\r\nContent-Length: 0\r\n\r\n",
    "oversized-header": b"HTTP/1.1 200 OK\r\nX-Huge: " + b"a" * (1024 * 1024) + b"\r\nContent-Length: 0\r\n\r\n",
    "body-until-close": b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nread until the connection closes",
    "http10-body-until-close": b"HTTP/1.0 200 OK\r\n\r\nhttp/1.0 body",
    "chunk-extensions": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'5;name=value\r\nhello\r\n6;quoted="a b"\r\n world\r\n0\r\n\r\n'
    ),
    "chunked-trailers": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Check\r\n\r\n"
        b"4\r\nbody\r\n0\r\nX-Check: done\r\n\r\n"
    ),
    "interim-heads": (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nX-Final: yes\r\nContent-Length: 4\r\n\r\nbody"
    ),
    "latin-1-header-value": b"HTTP/1.1 200 OK\r\nX-Latin: caf\xe9\r\nContent-Length: 2\r\n\r\nok",
    "reason-phrase-custom": b"HTTP/1.1 299 Totally Custom Reason\r\nContent-Length: 2\r\n\r\nok",
    "empty-reason-phrase": b"HTTP/1.1 200 \r\nContent-Length: 2\r\n\r\nok",
    "header-value-padding": b"HTTP/1.1 200 OK\r\nX-Padded:    spaced value   \r\nContent-Length: 0\r\n\r\n",
    "sse-midstream-error": (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 500\r\n\r\n"
        b"data: a\n\ndata: b\n\nid: 3\ndata: c\n\n"
    ),
    "duplex-close-early": b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbye",
    "content-length-with-chunked": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    ),
}


class RawServer:
    """Serves `RAW_RESPONSES` (and registered extras) over plain TCP."""

    def __init__(self, counter: Counter, responses: dict[str, bytes] | None = None) -> None:
        self.counter = counter
        self.responses = dict(RAW_RESPONSES)
        if responses:
            self.responses.update(responses)
        self.connections = 0
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self, host: str = "127.0.0.1", ssl_context: ssl.SSLContext | None = None) -> None:
        self._server = await asyncio.start_server(self._handle, host, 0, ssl=ssl_context, limit=4 * 1024 * 1024)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ssl.SSLError):
            writer.close()
            return
        self.counter.requests += 1
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = request_line.split(" ")
        path = parts[1] if len(parts) > 1 else "/"
        name = path.split("?", 1)[0].removeprefix("/raw/")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == b"content-length":
                length = int(value.strip() or 0)
        if length:
            await reader.readexactly(length)
        payload = self.responses.get(name, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        if payload.endswith(_CONNECTION_SCRIPTS):
            await _scripted(self, payload, reader, writer)
            return
        try:
            if payload:
                writer.write(payload)
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await writer.wait_closed()


# -- Scripted connections: what happens on the connection after the canned bytes -----------------------

#: Ends a payload: the connection stays open and its next request is served by path, as a new one is.
KEEP_OPEN = b"\x00tether:keep-open"
#: Ends a payload: the connection stays open; the next request on it is read and the connection closed
#: without an answer (a kept-alive connection the server dropped just as the client reused it).
CLOSE_NEXT = b"\x00tether:close-next"
#: The whole payload: the connection is reset (RST) once the request has been read.
RESET = b"\x00tether:reset"
_CONNECTION_SCRIPTS = (KEEP_OPEN, CLOSE_NEXT, RESET)


async def _scripted(
    server: RawServer, payload: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        if payload == RESET:
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return
        script = KEEP_OPEN if payload.endswith(KEEP_OPEN) else CLOSE_NEXT
        writer.write(payload[: -len(script)])
        await writer.drain()
        if script is KEEP_OPEN:
            await server._handle(reader, writer)  # the next request on this connection
            return
        with contextlib.suppress(asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            await reader.readuntil(b"\r\n\r\n")
            server.counter.requests += 1
    except (ConnectionError, ssl.SSLError):
        pass
    writer.close()
    with contextlib.suppress(ConnectionError, ssl.SSLError):
        await writer.wait_closed()


# -- Framing faults (issue 15 §1, §4): the same bytes, one verdict on every engine -----------------------

#: A complete response written in the same packet as the answer a second request would get.
_STALE = b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nSTALE-BYTES"

RAW_RESPONSES.update(
    {
        # Bytes after a complete response on a kept-alive connection: never the next response.
        "faults-204-length-then-stale": b"HTTP/1.1 204 No Content\r\nContent-Length: 46\r\n\r\n" + _STALE + KEEP_OPEN,
        "faults-304-then-stale": b"HTTP/1.1 304 Not Modified\r\nContent-Length: 46\r\n\r\n" + _STALE + KEEP_OPEN,
        "faults-body-then-stale": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" + _STALE + KEEP_OPEN,
        "faults-head-with-body": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" + KEEP_OPEN,
        "faults-204-with-body": b"HTTP/1.1 204 No Content\r\n\r\nhello" + KEEP_OPEN,
        "faults-longer-than-length": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello, and more" + KEEP_OPEN,
        # Heads and framing the engines' parsers used to judge differently.
        "faults-status-099": b"HTTP/1.1 099 Early\r\nContent-Length: 2\r\n\r\nok",
        "faults-status-101-no-upgrade": b"HTTP/1.1 101 Switching Protocols\r\n\r\nok",
        "faults-status-101-upgrade": b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: foo\r\nConnection: Upgrade\r\n\r\nok",
        "faults-length-superscript": b"HTTP/1.1 200 OK\r\nContent-Length: \xb2\r\n\r\nok",
        "faults-length-list": b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello",
        "faults-length-repeated": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
        "faults-length-plus": b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello",
        "faults-chunk-size-0x": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
        "faults-chunk-size-plus": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n",
        "faults-chunked-lf-only": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n",
        "faults-chunk-data-lf": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n",
        "faults-chunk-size-lf": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
        "faults-chunk-too-long": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n",
        # Connections that fail around the request.
        "faults-reset-after-request": RESET,
        "faults-keep-alive-then-drop": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst" + CLOSE_NEXT,
    }
)

RAW_RESPONSES["faults-bad-head-then-stale"] = (
    b"HTTP/1.1 200 OK\r\nBad Header: x\r\nContent-Length: 2\r\n\r\nok" + _STALE + KEEP_OPEN
)
