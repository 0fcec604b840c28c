"""A stricter response head for http.client, which urllib3 parses with; and the pool hooks the engine's
event-loop fast path uses (`ready_connection`, `response_on`).

http.client accepts status lines llhttp and h11 reject ("HTTP/1.01 200", a tab or two spaces after the
version, a bare CR ending a line). To give every engine the same verdicts, the response's file object
is wrapped so each head line is checked as it is read: the status line must be `HTTP/1.x NNN[ reason]`,
and no head line may hold a bare CR (a bare LF ending is allowed, as RFC 9112 2.2 permits and every
other engine does).
"""

from __future__ import annotations

import http.client
import queue
import re
import threading
from collections.abc import Callable
from typing import Any

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.response import BaseHTTPResponse

from tether.engine.support import CHUNK_SIZE_LINE, MAX_CHUNK_LINE, NO_BODY_STATUSES
from tether_urllib3.abort import Abortable, ReleasesToPool
from tether_urllib3.loop_pool import idle_and_open

__all__ = ["STATUS_LINE", "STRICT_POOL_CLASSES", "TAKEN", "StrictHTTPResponse"]

#: Per worker thread: whether the connection `urlopen` took last was a kept-alive one (connected
#: before this request) -- the engine may send an idempotent request once more when such a
#: connection turns out dead.
TAKEN = threading.local()

STATUS_LINE = re.compile(rb"HTTP/1\.[01] [0-9]{3}(?: [^\r\n]*)?\r?\n\Z")


class _StrictHeadReader:
    """Checks the lines of the response head, then gets out of the way."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._line = 0
        self._in_head = True

    def readline(self, limit: int = -1) -> bytes:
        line: bytes = self._inner.readline(limit)
        if self._in_head and line:
            self._check(line)
        return line

    def _check(self, line: bytes) -> None:
        self._line += 1
        if self._line == 1:
            if not STATUS_LINE.match(line):
                raise http.client.BadStatusLine(repr(line[:100]))
            return
        if line in (b"\r\n", b"\n"):
            self._in_head = False
            return
        content = line[:-2] if line.endswith(b"\r\n") else line.rstrip(b"\n")
        if b"\r" in content:
            raise http.client.HTTPException(f"bare CR in response header line {line[:100]!r}")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class StrictHTTPResponse(http.client.HTTPResponse):
    def __init__(self, sock: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        self.fp = _StrictHeadReader(self.fp)  # type: ignore[assignment]

    def begin(self) -> None:
        super().begin()
        if self.status in NO_BODY_STATUSES:
            # No body, whatever the head says (RFC 9110 6.4.1): http.client reads a 204's chunked one.
            self.chunked = False
            self.length = 0
        elif not self.chunked and (self.headers.get("Transfer-Encoding") or "").strip(" \t").lower() == "chunked":
            # http.client compares the raw value: "chunked " (field values lose surrounding whitespace,
            # RFC 9110 5.5) would be read until the server closes.
            self.chunked = True
            self.chunk_left = None
            self.length = None
            self.will_close = self._check_close()  # type: ignore[attr-defined]

    def _read_status(self) -> tuple[str, int, str]:
        while True:
            # A new head starts (also after a 1xx interim response).
            if isinstance(self.fp, _StrictHeadReader):
                self.fp._line = 0
                self.fp._in_head = True
            version, status, reason = super()._read_status()  # type: ignore[misc]
            if status == 100 or status == 101 or not 100 <= status < 200:
                return version, status, reason  # http.client skips 100 Continue itself
            # Another interim response (102 Processing, 103 Early Hints ...), which http.client would
            # take for the final one: its fields are read and dropped, as every engine does.
            http.client._read_headers(self.fp)  # type: ignore[attr-defined]

    # Chunked framing as RFC 9112 7.1 writes it (tether.engine.support.CHUNK_SIZE_LINE, as every engine
    # reads it): http.client takes any int(line, 16) -- "0x5", "+5", " 5", a bare LF -- and tosses the
    # two bytes after a chunk's data unseen.
    def _read_next_chunk_size(self) -> int:
        line = self.fp.readline(MAX_CHUNK_LINE + 1)
        size = CHUNK_SIZE_LINE.fullmatch(line)
        if size is None:
            self._close_conn()  # type: ignore[attr-defined]
            if not line:
                raise ValueError("the body ended before its last chunk")  # http.client: IncompleteRead
            raise http.client.HTTPException(f"malformed chunk size line {line[:60]!r}")
        return int(size.group(1), 16)

    def _get_chunk_left(self) -> int | None:
        if self.chunk_left == 0:
            if self._safe_read(2) != b"\r\n":  # type: ignore[attr-defined]
                self._close_conn()  # type: ignore[attr-defined]
                raise http.client.HTTPException("chunk data not followed by CRLF")
            self.chunk_left = None
        return super()._get_chunk_left()  # type: ignore[misc,no-any-return]

    def _read_and_discard_trailer(self) -> None:
        # http.client takes the end of the stream for the empty line that ends the trailer section.
        while True:
            line = self.fp.readline(MAX_CHUNK_LINE + 1)
            if not line:
                raise http.client.IncompleteRead(b"")  # the body ended before the message did
            if len(line) > MAX_CHUNK_LINE:
                raise http.client.LineTooLong("trailer line")
            if line in (b"\r\n", b"\n"):
                return
            if b":" not in line and line[:1] not in (b" ", b"\t"):
                # A trailer field is a header field (RFC 9112 7.1.2): the other engines refuse a line
                # without a colon (a folded continuation they skip with the trailer, as this does).
                self._close_conn()  # type: ignore[attr-defined]
                raise http.client.HTTPException(f"malformed trailer line {line[:60]!r}")


class _StrictHTTPConnection(Abortable, HTTPConnection):
    response_class = StrictHTTPResponse
    #: Set while the event loop watches this connection's socket (`loop_pool.LoopConnections`): told
    #: before the socket closes, so the loop stops watching a file descriptor that is about to go.
    _tether_on_close: Callable[[HTTPConnection], None] | None = None

    def response_read_elsewhere(self) -> None:
        """The response to the request just sent was read off the socket whole, by the engine itself:
        the connection is ready for its next request, as when urllib3 has read a response to the end.
        (http.client and urllib3 track that state in these two attributes.)"""
        self._response_options = None
        self._HTTPConnection__state = http.client._CS_IDLE  # type: ignore[attr-defined]

    def close(self) -> None:
        hook = self._tether_on_close
        if hook is not None:
            hook(self)
        super().close()


class _StrictHTTPSConnection(Abortable, HTTPSConnection):
    response_class = StrictHTTPResponse


class _TakesNote:
    """Records in `TAKEN` whether the connection handed to `urlopen` is a kept-alive one."""

    def _get_conn(self, timeout: float | None = None) -> HTTPConnection:
        conn: HTTPConnection = super()._get_conn(timeout)  # type: ignore[misc]
        TAKEN.reused = conn.sock is not None  # urllib3 closed it already if the server had dropped it
        return conn


class _StrictHTTPConnectionPool(_TakesNote, ReleasesToPool, HTTPConnectionPool):
    ConnectionCls = _StrictHTTPConnection

    def ready_connection(self) -> HTTPConnection | None:
        """A kept-alive connection that is still open, taken from the pool without blocking; None
        (and nothing taken) when there is none. The taker owns it from then on."""
        pool = self.pool
        if pool is None:
            return None
        try:
            conn = pool.get(block=False)
        except queue.Empty:
            return None
        if conn is not None and conn.sock is not None:
            if idle_and_open(conn.sock):
                self.num_requests += 1
                return conn  # type: ignore[no-any-return]
            conn.close()  # the server closed it while idle: urlopen reconnects it
        self._put_conn(conn)
        return None

    def response_on(self, conn: HTTPConnection, read_timeout: float | None, head_checked: bool) -> BaseHTTPResponse:
        """Read the response head of a request sent on `conn` (what `urlopen` does after sending).
        `head_checked`: the caller already ran the strict head checks on the buffered head."""
        conn.timeout = read_timeout
        if not head_checked:
            response = conn.getresponse()
        else:
            conn.response_class = http.client.HTTPResponse  # this connection, this response only
            try:
                response = conn.getresponse()
            finally:
                del conn.response_class
        response._connection = conn  # released to this pool, as urlopen sets it
        response._pool = self
        return response


class _StrictHTTPSConnectionPool(_TakesNote, ReleasesToPool, HTTPSConnectionPool):
    ConnectionCls = _StrictHTTPSConnection


STRICT_POOL_CLASSES = {"http": _StrictHTTPConnectionPool, "https": _StrictHTTPSConnectionPool}
