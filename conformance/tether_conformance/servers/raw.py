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
import threading
from collections.abc import Awaitable, Callable

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
        self.connections = 0  # accepted (a kept-open connection's later requests are not counted)
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self, host: str = "127.0.0.1", ssl_context: ssl.SSLContext | None = None) -> None:
        self._server = await asyncio.start_server(self._handle, host, 0, ssl=ssl_context, limit=4 * 1024 * 1024)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, kept_open: bool = False
    ) -> None:
        if not kept_open:
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
#: Ends a payload: the next request on this connection is answered `REUSED_ANSWER` (shows the client
#: reused a connection it should have closed).
TELL_REUSE = b"\x00tether:tell-reuse"
REUSED_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 23\r\n\r\nthis connection reused!"
_CONNECTION_SCRIPTS = (KEEP_OPEN, CLOSE_NEXT, RESET, TELL_REUSE)


async def _scripted(
    server: RawServer, payload: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        if payload == RESET:
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return
        script = next(script for script in _CONNECTION_SCRIPTS if payload.endswith(script))
        writer.write(payload[: -len(script)])
        await writer.drain()
        if script is KEEP_OPEN:
            await server._handle(reader, writer, kept_open=True)  # the next request on this connection
            return
        with contextlib.suppress(asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            await reader.readuntil(b"\r\n\r\n")
            server.counter.requests += 1
            if script is TELL_REUSE:
                writer.write(REUSED_ANSWER)
                await writer.drain()
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
        "faults-status-101-upgrade": b"HTTP/1.1 101 Switching\r\nUpgrade: foo\r\nConnection: Upgrade\r\n\r\nok",
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
# -- Fault scenarios (issue 15, section 2: hangs, a blocked loop, a poisoned loop) --------------------

#: A scripted answer: gets the connection after one request head was read; True keeps the connection
#: for the next request (keep-alive), False closes it.
FaultScript = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[bool]]

#: The longest any script keeps a connection open or dribbles bytes: every scenario ends by itself.
FAULT_SCRIPT_LIMIT = 8.0


async def _until_client_closes(reader: asyncio.StreamReader, limit: float = FAULT_SCRIPT_LIMIT) -> None:
    async def drain() -> None:
        while await reader.read(4096):
            pass

    with contextlib.suppress(asyncio.TimeoutError, ConnectionError):
        await asyncio.wait_for(drain(), limit)


def _answer(payload: bytes, *, keep_alive: bool = True) -> FaultScript:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        writer.write(payload)
        await writer.drain()
        return keep_alive

    return script


def _answer_then_stall(payload: bytes) -> FaultScript:
    """Send `payload` (a head and the start of a body), then nothing until the client goes away."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        writer.write(payload)
        await writer.drain()
        await _until_client_closes(reader)
        return False

    return script


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    await _until_client_closes(reader)
    return False


def _drip(payload: bytes, interval: float) -> FaultScript:
    """`payload` one byte per `interval` seconds (the whole of it, or until FAULT_SCRIPT_LIMIT)."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + FAULT_SCRIPT_LIMIT
        for index in range(len(payload)):
            if loop.time() > deadline:
                return False
            writer.write(payload[index : index + 1])
            await writer.drain()
            await asyncio.sleep(interval)
        return False

    return script


async def _endless_continue(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    for _ in range(int(FAULT_SCRIPT_LIMIT / 0.01)):
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.01)
    return False


#: name -> script, served by `FaultServer` at `/<name>`.
FAULT_SCRIPTS: dict[str, FaultScript] = {
    "ok": _answer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    "ok-close": _answer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", keep_alive=False),
    "cut": _answer(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial", keep_alive=False),
    "silent": _silent,
    "stall-body": _answer_then_stall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 1000),
    "stall-sse": _answer_then_stall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: one\n\n"),
    "drip-head": _drip(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0.1),
    "drip-endless-head": _drip(b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000, 0.05),
    "endless-continue": _endless_continue,
}


class FaultServer:
    """A loopback server on a thread and event loop of its own, so a client that blocks its loop
    cannot block the server as well (a blocked loop shows as a long gap, never as a deadlock).

    `GET /<name>` runs `FAULT_SCRIPTS[name]`; `open_connections` counts the connections the client
    has not closed yet (a leak check, read from any thread)."""

    def __init__(self) -> None:
        self.open_connections = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tether-fault-server", daemon=True)

    def start(self) -> FaultServer:
        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    async def _start(self) -> int:
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0, backlog=1024)
        port: int = server.sockets[0].getsockname()[1]
        return port

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open_connections += 1

        async def answer() -> bool:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1].decode("latin-1") if head.count(b" ") >= 2 else "/"
            script = FAULT_SCRIPTS.get(path.lstrip("/").split("?", 1)[0])
            return script is not None and await script(reader, writer)

        try:
            for _ in range(10_000):  # requests on one connection
                if not await asyncio.wait_for(answer(), FAULT_SCRIPT_LIMIT * 2):
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), FAULT_SCRIPT_LIMIT)
            self.open_connections -= 1


_fault_server: FaultServer | None = None
_fault_server_lock = threading.Lock()


def fault_server() -> FaultServer:
    """The process's fault server, started on first use (a daemon thread: it ends with the process)."""
    global _fault_server
    with _fault_server_lock:
        if _fault_server is None:
            _fault_server = FaultServer().start()
        return _fault_server


_CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
RAW_RESPONSES.update(
    {
        "faults-204-chunked-body": b"HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n",
        "faults-chunk-size-space-before-ext": _CHUNKED_HEAD + b"5 ;a=b\r\nhello\r\n0\r\n\r\n",
        "faults-chunk-size-space-before-crlf": _CHUNKED_HEAD + b"5 \r\nhello\r\n0\r\n\r\n",
        "faults-chunked-cut-in-trailer": _CHUNKED_HEAD + b"5\r\nhello\r\n0\r\n",
        "faults-chunked-then-stale": _CHUNKED_HEAD + b"5\r\nhello\r\n0\r\n\r\n" + _STALE + KEEP_OPEN,
    }
)
# A head the engines' own parsers take and tether refuses (Content-Length list), on a connection that
# answers any later request with REUSED_ANSWER.
RAW_RESPONSES["faults-refused-head-tell-reuse"] = b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello" + TELL_REUSE
RAW_RESPONSES["faults-bad-status-tell-reuse"] = b"HTTP/1.1 099 Early\r\nContent-Length: 5\r\n\r\nhello" + TELL_REUSE
RAW_RESPONSES["faults-nul-in-header-tell-reuse"] = (
    b"HTTP/1.1 200 OK\r\nX-Bad: a\x00b\r\nContent-Length: 5\r\n\r\nhello" + TELL_REUSE
)
# A HEAD answer on a connection that stays open: the next response on it is another request's.
RAW_RESPONSES["faults-keep-open-head"] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n" + KEEP_OPEN
RAW_RESPONSES["faults-chunked-value-padded"] = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked \r\n\r\n5\r\nhello\r\n0\r\n\r\n" + KEEP_OPEN
)
# Field lines that start with whitespace: before the first field (RFC 9112 2.2), folding a value (5.2).
RAW_RESPONSES["faults-space-before-first-field"] = b"HTTP/1.1 200 OK\r\n X-A: one\r\nContent-Length: 2\r\n\r\nok"
RAW_RESPONSES["faults-tab-before-first-field"] = b"HTTP/1.1 200 OK\r\n\tX-A: one\r\nContent-Length: 2\r\n\r\nok"
RAW_RESPONSES["faults-folded-value"] = (
    b"HTTP/1.1 200 OK\r\nX-A: one\r\n\ttwo \r\n \t three\r\nX-B: b\r\nContent-Length: 2\r\n\r\nok" + KEEP_OPEN
)
# A reason phrase in bytes that are not ASCII (UTF-8 "\xc3\xa9", then a lone ISO-8859-1 "\xe9").
RAW_RESPONSES["faults-reason-phrase-not-ascii"] = (
    b"HTTP/1.1 200 \xc3\xa9t\xe9\r\nContent-Length: 2\r\n\r\nok" + KEEP_OPEN
)


# --- faults: compressed bodies that end early or run on (issue 15 §1) -----------------------------
def _encoded(coding: str, body: bytes) -> bytes:
    head = f"HTTP/1.1 200 OK\r\nContent-Encoding: {coding}\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


#: What the compressed fault scenarios decode to (when they decode at all): 256 KiB that compress to a
#: few hundred bytes, so the chunk where a stream ends decodes to more than 64 KiB.
FAULTS_PLAIN = b"tether faults " * (256 * 1024 // 14)


def _add_compressed_faults() -> None:
    from tether_conformance.servers.app import compress

    for coding in ("gzip", "deflate", "br", "zstd"):
        whole = compress(coding, FAULTS_PLAIN)
        # An honest Content-Length, but only the first 60% of the compressed stream.
        RAW_RESPONSES[f"faults-{coding}-truncated"] = _encoded(coding, whole[: len(whole) * 6 // 10])
    gzipped = compress("gzip", FAULTS_PLAIN)
    RAW_RESPONSES["faults-gzip-without-trailer"] = _encoded("gzip", gzipped[:-8])
    RAW_RESPONSES["faults-gzip-two-members"] = _encoded("gzip", gzipped + gzipped)
    RAW_RESPONSES["faults-gzip-trailing-garbage"] = _encoded("gzip", gzipped + b"trailing garbage")
    RAW_RESPONSES["faults-zstd-two-frames"] = _encoded("zstd", compress("zstd", FAULTS_PLAIN) * 2)
    RAW_RESPONSES["faults-identity-3000-times"] = (
        b"HTTP/1.1 200 OK\r\nContent-Encoding: "
        + b", ".join([b"identity"] * 3000)
        + b"\r\nContent-Length: 5\r\n\r\nhello"
    )

    RAW_RESPONSES["faults-identity-6-times"] = (
        b"HTTP/1.1 200 OK\r\nContent-Encoding: " + b", ".join([b"identity"] * 6) + b"\r\nContent-Length: 5\r\n\r\nhello"
    )


_add_compressed_faults()
