"""A raw-socket HTTP server for what a correct server never sends.

`GET /raw/<name>` answers with the bytes registered under <name> and closes the connection (unless the
response is followed by `KEEP_OPEN`). The llhttp response vectors are registered here too.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl

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
