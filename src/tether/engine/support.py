"""Small pieces every engine adapter needs, kept here so adapters stay one mapping each."""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from collections.abc import AsyncIterator, Callable, Coroutine, Hashable, Iterable
from typing import Any

from multidict import CIMultiDict

from tether.content import ByteArrayContent, NoContent, OutgoingContent, StreamContent
from tether.engine.config import HttpClientEngineConfig
from tether.exceptions import BodyLengthMismatchError, ProtocolError
from tether.http import TOKEN, Headers, HttpProtocolVersion, HttpStatusCode
from tether.request import HttpRequestData

__all__ = [
    "CHUNK_SIZE_LINE",
    "IDEMPOTENT_METHODS",
    "MAX_CHUNK_LINE",
    "ChunkedDecoder",
    "NO_BODY_STATUSES",
    "HeadersMemo",
    "READ_CHUNK_SIZE",
    "chunks_of",
    "close_transport_without_loop",
    "release_from_loop",
    "create_ssl_context",
    "expected_body_length",
    "final_head",
    "header_block",
    "header_block_problem",
    "is_chunked",
    "protocol_version",
    "replayable",
    "request_body_bytes",
    "response_end",
    "response_headers",
    "response_status",
]

#: Responses that never carry a body, whatever their headers say (RFC 9110 6.4.1).
NO_BODY_STATUSES = frozenset({204, 304})

#: Read size for response bodies: large enough for throughput, small enough for streaming.
READ_CHUNK_SIZE = 64 * 1024


def create_ssl_context(config: HttpClientEngineConfig, alpn: list[str] | None = None) -> ssl.SSLContext:
    """The TLS context the common config describes: verification, CA bundle, client certificate."""
    if config.verify:
        context = ssl.create_default_context(cafile=config.ca_bundle)
    else:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if config.client_cert is not None:
        if isinstance(config.client_cert, tuple):
            context.load_cert_chain(config.client_cert[0], config.client_cert[1])
        else:
            context.load_cert_chain(config.client_cert)
    if alpn:
        context.set_alpn_protocols(alpn)
    return context


def expected_body_length(method: str, status: int, headers: Headers) -> int | None:
    """How many body bytes the response promises, when that is known and checkable.

    0 for HEAD, 1xx, 204 and 304; the Content-Length when it is one valid number and the body is not
    chunked; None otherwise (read to the end of the stream).
    """
    if method == "HEAD" or status < 200 or status in NO_BODY_STATUSES:
        return 0
    try:
        return headers._body_length  # found before in these headers
    except AttributeError:
        pass
    length = _framed_length(headers)
    headers._body_length = length
    return length


def _framed_length(headers: Headers) -> int | None:
    fields = headers.multidict  # the C multidict directly
    if "Transfer-Encoding" in fields:
        return None
    lines = fields.getall("Content-Length", None)
    if lines is None or len(lines) != 1 or _DIGITS.match(lines[0]) is None:
        return None  # response_headers refuses these: never reached with checked headers
    return int(lines[0])


#: A Content-Length value: ASCII digits only (`str.isdigit` also takes "²" and "٣"), 1*DIGIT.
_DIGITS = re.compile(r"[0-9]+\Z")

#: RFC 9110 9.2.2: a request with one of these methods may be sent again with the same effect.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})


def replayable(request: HttpRequestData) -> bool:
    """Whether the engine may send `request` once more on a new connection when a kept-alive one
    turned out dead before any byte of the response arrived (RFC 9112 9.3.1): its method is
    idempotent and its body, if any, is in memory (a stream cannot be sent twice)."""
    return request.method in IDEMPOTENT_METHODS and request_body_bytes(request.body) is not None


def response_status(code: int, reason: str | None, where: object = "") -> HttpStatusCode:
    """The status of a final response to `execute`, or a ProtocolError for one tether cannot take as
    final: a code below 100 (not a status class at all), or 101 Switching Protocols -- `execute` never
    asks for an upgrade (`Upgrade` is an engine-controlled header; WebSockets upgrade through their own
    SPI), and RFC 9110 7.8 forbids switching to a protocol the client did not ask for."""
    if code == 101:
        raise ProtocolError(f"Response from {where} switched protocols (101) without being asked to")
    if not 100 <= code <= 999:
        raise ProtocolError(f"Invalid status code {code:03d} in the response from {where}")
    return HttpStatusCode.of(code, reason or None)


def request_body_bytes(content: OutgoingContent) -> bytes | None:
    """The in-memory bytes of a body, None for a stream (or no body at all)."""
    if isinstance(content, ByteArrayContent):
        return content.data
    if isinstance(content, NoContent):
        return b""
    return None


async def chunks_of(content: StreamContent) -> AsyncIterator[bytes]:
    """The chunks of a stream body, as every engine sends them: empty chunks skipped (some libraries
    read b"" as the end), each a bytes-like object, never more or fewer bytes than a declared
    `content_length` (`BodyLengthMismatchError` before the first extra byte, or at a short end).

    What the source raises -- or these checks -- is kept on the content (`content.failure`): each
    engine wraps an exception from its body iterator its own way (aiohttp in a connection error,
    libcurl as a read-callback failure), and the client raises the kept one instead, so the same
    mistake raises the same exception on every engine."""
    content.failure = None
    expected = content.content_length
    sent = 0
    try:
        source = content.open()
    except Exception as exc:  # a replayable source's function failed, or returned no async iterable
        content.failure = exc
        raise
    while True:
        try:
            chunk = await source.__anext__()
        except StopAsyncIteration:
            break
        except Exception as exc:
            content.failure = exc
            raise
        if not chunk:
            continue
        if not isinstance(chunk, (bytes, bytearray, memoryview)):
            content.failure = TypeError(
                f"A request body stream yielded {type(chunk).__name__}; it must yield bytes "
                "(encode text first, e.g. text.encode())"
            )
            raise content.failure
        sent += len(chunk)
        if expected is not None and sent > expected:
            content.failure = BodyLengthMismatchError(
                f"The request body stream produced more than its declared content_length of {expected} bytes "
                f"({sent} so far); nothing past the declared length was sent"
            )
            raise content.failure
        yield bytes(chunk)
    if expected is not None and sent < expected:
        content.failure = BodyLengthMismatchError(
            f"The request body stream ended after {sent} of its declared content_length of {expected} bytes"
        )
        raise content.failure


_TOKEN = re.compile(rf"{TOKEN}\Z")
_TOKENS = re.compile(rf"{TOKEN}(?:\x01{TOKEN})*\Z")


def response_headers(
    raw: Iterable[tuple[bytes | str, bytes | str]], config: HttpClientEngineConfig, where: object = ""
) -> Headers:
    """Response headers as every engine must deliver them, whatever its parser tolerated.

    Names must be RFC 9110 tokens; values lose surrounding whitespace and may not hold CR, LF or NUL;
    Content-Length must be one non-negative number (repeats of the same number are allowed);
    Transfer-Encoding may only be `chunked`, never next to Content-Length; and the head must stay within
    the config's `max_response_headers` and `max_response_head_size`.
    """
    pairs = [
        (
            name if name.__class__ is str else name.decode("latin-1"),  # type: ignore[union-attr]
            (value if value.__class__ is str else value.decode("latin-1")).strip(" \t"),  # type: ignore[union-attr]
        )
        for name, value in raw
    ]
    count = len(pairs)
    if not count:
        return Headers(CIMultiDict())
    # Checked in bulk (one regex, three scans) because this runs for every response.
    names, values = zip(*pairs, strict=True)
    joined_names = "\x01".join(names)
    joined_values = "\x01".join(values)
    if _TOKENS.match(joined_names) is None:
        bad = next(name for name, _ in pairs if _TOKEN.match(name) is None)
        raise ProtocolError(f"Invalid response header name {bad!r} from {where}")
    if "\r" in joined_values or "\n" in joined_values or "\x00" in joined_values:
        # A library may leave an obsolete line folding in a value (http.client does after a bare LF):
        # it becomes one space (RFC 9112 5.2), as `header_block` makes it.
        pairs = [(name, _OBS_FOLD.sub(" ", value) if "\n" in value else value) for name, value in pairs]
        joined_values = "\x01".join(value for _, value in pairs)
        if "\r" in joined_values or "\n" in joined_values or "\x00" in joined_values:
            bad = next(n for n, v in pairs if "\r" in v or "\n" in v or "\x00" in v)
            raise ProtocolError(f"Invalid character in response header {bad} from {where}")
    return _checked_headers(pairs, len(joined_names) + len(joined_values) + 2 * count, config, where)


_OBS_FOLD = re.compile(r"[ \t]*\r?\n[ \t]+")
_HEADER_BLOCK = re.compile(rf"(?:{TOKEN}:[^\r\n\x00]*\r?\n)*\Z")


def header_block(text: str, config: HttpClientEngineConfig, where: object = "") -> Headers | None:
    """The headers of a head's field lines (`Name: value`, each ending in CRLF or LF), checked as
    `response_headers` checks them; None when a line is malformed (the caller says which, and how).
    One regex validates every line at once: this runs for every response of the engines that see the
    raw head. An obsolete line folding is replaced by one space first (RFC 9112 5.2, as libcurl and
    http.client unfold it); a first line that starts with whitespace stays refused (RFC 9112 2.2).
    """
    if _HEADER_BLOCK.match(text) is None:
        if "\n " not in text and "\n\t" not in text:
            return None
        text = _OBS_FOLD.sub(" ", text)
        if _HEADER_BLOCK.match(text) is None:
            return None
    pairs = [(name, value.strip(" \t\r")) for name, _, value in (line.partition(":") for line in text.split("\n")[:-1])]
    if not pairs:
        return Headers(CIMultiDict())
    count = len(pairs)
    # The size as response_headers counts it is at most the text's length plus 2 per line: exact
    # only when that bound could pass the limit.
    size = len(text) + 2 * count
    if size > config.max_response_head_size:
        names, values = zip(*pairs, strict=True)
        size = len("\x01".join(names)) + len("\x01".join(values)) + 2 * count
    return _checked_headers(pairs, size, config, where)


def header_block_problem(text: str) -> str:
    """What is wrong with field lines `header_block` refused (for the engine's ProtocolError)."""
    if text.count("\r") != text.count("\r\n"):
        return "bare CR in the response head"
    for line in text.replace("\r\n", "\n").split("\n")[:-1]:
        if line[:1] in (" ", "\t"):
            return "obsolete line folding in the response head"
        name, sep, value = line.partition(":")
        if not sep:
            return f"header line without a colon: {line[:60]!r}"
        if not _TOKEN.match(name):
            return f"invalid response header name {name!r}"
        if "\x00" in value:
            return f"invalid character in response header {name}"
    return "malformed response head"


def _checked_headers(pairs: list[tuple[str, str]], size: int, config: HttpClientEngineConfig, where: object) -> Headers:
    """The checks on a head whose names and values are already known to be well-formed."""
    origin = f" from {where}" if where else ""  # the Curl engine checks heads before it knows the URL
    count = len(pairs)
    if count > config.max_response_headers:
        raise ProtocolError(
            f"Response{origin} has {count} headers, more than max_response_headers={config.max_response_headers}"
        )
    if size > config.max_response_head_size:
        raise ProtocolError(
            f"Response head{origin} is {size} bytes, more than max_response_head_size={config.max_response_head_size}"
        )
    headers: CIMultiDict[str] = CIMultiDict(pairs)
    if "Transfer-Encoding" in headers:
        codings = [c.strip().lower() for line in headers.getall("Transfer-Encoding") for c in line.split(",")]
        if codings != ["chunked"]:
            # tether decodes no transfer coding but chunked (RFC 9112 6.1 leaves others to the parties).
            raise ProtocolError(f"Unsupported Transfer-Encoding {', '.join(codings)!r}{origin}")
        if "Content-Length" in headers:
            # RFC 9112 6.3: both present "ought to be handled as an error" (request smuggling).
            raise ProtocolError(f"Response{origin} has both Transfer-Encoding and Content-Length")
    lengths = headers.getall("Content-Length", None)
    if lengths is not None and not (len(lengths) == 1 and _DIGITS.match(lengths[0])):
        # RFC 9112 6.3: one number, nothing else. A list or a repeat of the same number ("5, 5") is
        # refused too: RFC 9110 8.6 lets a recipient reject it, and llhttp does, so every engine does.
        raise ProtocolError(f"Invalid Content-Length {lengths}{origin}")
    return Headers(headers)


class HeadersMemo:
    """Checked `Headers` by the raw form they were made from (any hashable: a tuple of byte pairs,
    the text of the field lines). A server repeats the same head -- its Date changes once a second --
    and `Headers` are immutable, so equal heads share one object instead of being checked again.
    Bounded: the memo starts over once it holds `size` heads. Only heads that passed the checks are
    remembered; a bad head is checked (and refused) every time."""

    __slots__ = ("_heads", "_size")

    def __init__(self, size: int = 256) -> None:
        self._heads: dict[Hashable, Headers] = {}
        self._size = size

    def get(self, raw: Hashable) -> Headers | None:
        return self._heads.get(raw)

    def put(self, raw: Hashable, headers: Headers) -> Headers:
        if len(self._heads) >= self._size:
            self._heads.clear()
        self._heads[raw] = headers
        return headers

    def response_headers(
        self, raw: tuple[tuple[bytes | str, bytes | str], ...], config: HttpClientEngineConfig, where: object = ""
    ) -> Headers:
        """`response_headers(raw, ...)`, checked once per distinct head."""
        headers = self._heads.get(raw)
        if headers is None:
            headers = self.put(raw, response_headers(raw, config, where))
        return headers


_KNOWN_VERSIONS = {text: HttpProtocolVersion.parse(text) for text in ("1.0", "1.1", "2", "3")}


def protocol_version(text: str, where: object = "") -> HttpProtocolVersion:
    """The response's protocol version; one tether does not know (HTTP/0.9, HTTP/5.6) is a ProtocolError."""
    known = _KNOWN_VERSIONS.get(text)
    if known is not None:
        return known
    try:
        return HttpProtocolVersion.parse(text)
    except ValueError:
        raise ProtocolError(f"Unsupported protocol version {text!r} in the response from {where}") from None


#: Above asyncio's per-read buffer (`selector_events._SelectorSocketTransport.max_size`, 256 KiB).
_READ_BUFFER_PRIME = 320 * 1024
_read_buffers_primed = 0  # the largest block primed so far


def prime_read_buffers(size: int = _READ_BUFFER_PRIME) -> None:
    """Let the C allocator serve asyncio's read buffers from its heap (once per process).

    asyncio's plain socket transports read into a new 256 KiB buffer on every read and cut it down to
    the bytes received. glibc serves a block that large with a fresh `mmap` -- so each read also pays
    a page fault, an `mremap` and later a `munmap` -- until a block at least that large has been freed;
    then its dynamic mmap threshold rises above it and such blocks come from the heap. Whether that has
    happened by the time requests start depends on what the process did before (imports, reading a
    big file): a lottery worth about 25% on 1 KiB responses. Freeing one such block early settles it.
    The aiohttp and httpx engines, which read through those transports, call this when they start;
    the Curl engine with `size` above the batches it hands response bodies out in (up to about 1 MiB
    joined: without it, each batch could grow and trim the heap, a page fault per 4 KiB). Idempotent
    for a size already primed, and harmless where the allocator behaves otherwise.
    """
    global _read_buffers_primed
    if size > _read_buffers_primed:
        _read_buffers_primed = size
        block = bytearray(size)
        del block


_FINAL_STATUS_LINE = re.compile(rb"HTTP/1\.[01] ([0-9]{3})(?: [^\r\n]*)?\r?\n")
#: A chunk-size line (RFC 9112 7.1): 1*HEXDIG, an optional extension, CRLF. Whitespace before the CRLF
#: is taken (h11, llhttp and http.client take it), but not before ";" -- the grammar's BWS, which h11
#: refuses (httpx cannot be made to take it). At most 16 digits (64 bits).
CHUNK_SIZE_LINE = re.compile(rb"([0-9A-Fa-f]{1,16})(?:;[^\r\n]*)?[ \t]*\r\n")
_CHUNK_SIZE_LINE = CHUNK_SIZE_LINE
#: The CRLF that ends a chunk's data, and the next chunk-size line (`ChunkedDecoder`'s fast path).
_NEXT_CHUNK_SIZE_LINE = re.compile(rb"\r\n" + CHUNK_SIZE_LINE.pattern)
_LENGTH_FIELD = re.compile(rb"\ncontent-length[ \t]*:[ \t]*([0-9]{1,18})[ \t]*\r?\n", re.IGNORECASE)
_CHUNKED_FIELD = re.compile(rb"\ntransfer-encoding[ \t]*:[ \t]*chunked[ \t]*\r?\n", re.IGNORECASE)


def response_end(data: bytes, *, head_request: bool = False) -> int | None:
    """Where the HTTP/1.x response at the start of `data` ends (interim 1xx heads included), by
    RFC 9112 6.3 framing: a HEAD's, 204's and 304's after the head, a Content-Length body after that
    many bytes, a chunked body after its last chunk and trailers. None when that end is not in `data`,
    the body runs until the connection closes, or the framing is malformed (the engine's parser says
    how). Pure, and only for an engine's recovery path: what follows the end is extra data, never the
    next response (RFC 9112 6.3)."""
    found = final_head(data)
    if found is None:
        return None
    status, head_start, head_end = found
    if head_request or status in NO_BODY_STATUSES or status < 200:
        return head_end
    if is_chunked(data, head_start, head_end):
        return _chunked_end(data, head_end)
    lengths = _LENGTH_FIELD.findall(data, head_start, head_end)
    if len(lengths) != 1:
        return None
    end = head_end + int(lengths[0])
    return end if end <= len(data) else None


def final_head(data: bytes | bytearray) -> tuple[int, int, int] | None:
    """The final response head at the start of `data` (after any interim 1xx heads): its status, where
    its field lines start (the end of its status line) and where the head ends (after the empty
    line); None when it is not complete in `data` or its status line is not a plain HTTP/1.x one."""
    start = 0
    while True:
        status_line = _FINAL_STATUS_LINE.match(data, start)
        if status_line is None:
            return None
        fields = status_line.end()
        blank = data.find(b"\n\r\n", fields - 1)
        # A bare-LF empty line counts only before the CRLF one: never scan a body for it.
        bare = data.find(b"\n\n", fields - 1, blank + 1 if blank >= 0 else len(data))
        if blank < 0 or (0 <= bare < blank):
            if bare < 0:
                return None
            head_end = bare + 2
        else:
            head_end = blank + 3
        status = int(status_line.group(1))
        if 100 <= status < 200 and status != 101:
            start = head_end
            continue
        return status, fields - 1, head_end


def is_chunked(data: bytes | bytearray, start: int = 0, end: int | None = None) -> bool:
    """Whether the field lines of a head (`data[start:end]`, as `final_head` delimits them) declare a
    chunked body."""
    return _CHUNKED_FIELD.search(data, start, len(data) if end is None else end) is not None


def _chunked_end(data: bytes, position: int) -> int | None:
    """Where a chunked body starting at `position` ends (after its trailer section), None when it does
    not end in `data` or breaks RFC 9112 7.1 (hex sizes, CRLF after every line and chunk)."""
    while True:
        line = _CHUNK_SIZE_LINE.match(data, position)
        if line is None:
            return None
        size = int(line.group(1), 16)
        position = line.end()
        if size == 0:
            break
        position += size
        if data[position : position + 2] != b"\r\n":
            return None
        position += 2
    while True:  # the trailer section: field lines up to an empty line
        line_end = data.find(b"\r\n", position)
        if line_end < 0:
            return None
        if line_end == position:
            return position + 2
        position = line_end + 2


#: Longest chunk-size or trailer line a ChunkedDecoder buffers (http.client's and urllib3's limit).
MAX_CHUNK_LINE = 65536


class ChunkedDecoder:
    """Strict chunked transfer decoding (RFC 9112 7.1), fed the raw body in pieces of any size.

    Sizes are 1*HEXDIG (no `0x`, sign or space before them), every size line and chunk ends in CRLF;
    a chunk extension and the trailer fields are skipped. For an engine whose library accepts looser framing
    (libcurl takes bare LFs), so every engine gives the same verdict. Bytes after the last chunk's
    trailer section are extra data, never part of the body (RFC 9112 6.3).

        decoder = ChunkedDecoder()
        body = decoder.feed(b"5\\r\\nhello\\r\\n0\\r\\n\\r\\n")   # b"hello"; decoder.done is True
    """

    __slots__ = ("_left", "_pending", "_state", "where")

    _SIZE, _DATA, _DATA_END, _TRAILER, _DONE = range(5)

    def __init__(self, where: object = "") -> None:
        self.where = where
        self._state = self._SIZE
        self._left = 0  # data bytes left in the current chunk
        self._pending = b""  # an incomplete line (or CRLF) carried to the next piece

    @property
    def done(self) -> bool:
        return self._state == self._DONE

    def feed(self, data: bytes | list[bytes]) -> bytes:
        """The body bytes in `data` (maybe none); ProtocolError when the framing is broken. `data` may
        be a list of consecutive pieces (as a transfer delivered them): their body bytes are joined
        once, with no copy per chunk."""
        out: list[bytes | memoryview] = []
        if isinstance(data, list):
            for piece in data:
                self._run(piece, out)
        else:
            self._run(data, out)
        if len(out) == 1 and isinstance(out[0], bytes):
            return out[0]
        return b"".join(out)

    def check(self, data: bytes) -> int:
        """Only check the framing in `data` (for an engine whose library decodes it, too leniently):
        how many of its bytes belong to the message -- all, unless its last chunk's trailer section
        ends inside `data`. ProtocolError when the framing is broken."""
        return self._run(data, None)

    def _run(self, data: bytes, out: list[bytes | memoryview] | None) -> int:
        carried = len(self._pending)
        if carried:
            data, self._pending = self._pending + data, b""
        size = len(data)
        position = 0
        view: memoryview | None = None  # slices of chunk data are views: the one copy is the join
        while position < size:
            state = self._state
            if state == self._DATA:
                left = self._left
                while True:  # chunk after chunk while each one's data, CRLF and next size line are here
                    end = position + left
                    if end > size:
                        end = size
                    if out is not None:
                        if position == 0 and end == size:
                            out.append(data)
                        else:
                            if view is None:
                                view = memoryview(data)
                            out.append(view[position:end])
                    left -= end - position
                    position = end
                    if left:
                        break  # the data goes on in the next piece
                    # What this regex takes, the steps below take the same way, one at a time.
                    following = _NEXT_CHUNK_SIZE_LINE.match(data, position)
                    if following is None:
                        self._state = self._DATA_END
                        break
                    left = int(following.group(1), 16)
                    position = following.end()
                    if not left:
                        self._state = self._TRAILER
                        break
                self._left = left
            elif state == self._DATA_END:
                if size - position < 2:
                    self._pending = data[position:]
                    break
                if data[position : position + 2] != b"\r\n":
                    raise ProtocolError(f"Chunk data from {self.where} is not followed by CRLF")
                position += 2
                self._state = self._SIZE
            elif state == self._DONE:
                break  # extra data after the body: not ours
            else:
                line_end = data.find(b"\n", position) + 1
                if not line_end:
                    if size - position > MAX_CHUNK_LINE:
                        raise ProtocolError(f"Chunk line from {self.where} is longer than {MAX_CHUNK_LINE} bytes")
                    self._pending = data[position:]
                    break
                if state == self._SIZE:
                    line = _CHUNK_SIZE_LINE.match(data, position, line_end)
                    if line is None:
                        raise ProtocolError(
                            f"Malformed chunk size line {data[position:line_end][:60]!r} from {self.where}"
                        )
                    self._left = int(line.group(1), 16)
                    self._state = self._DATA if self._left else self._TRAILER
                elif line_end - position <= 2 and data[position : line_end - 1] in (b"", b"\r"):
                    self._state = self._DONE  # the empty line after the trailer fields (field lines
                    # may end in a bare LF, as a head's may: RFC 9112 2.2)
                position = line_end
        return (position if self._state == self._DONE else size) - carried

    def finish(self) -> None:
        """The body ended (the transfer completed): ProtocolError unless the last chunk was seen."""
        if self._state != self._DONE:
            raise ProtocolError(f"Chunked body from {self.where} ended before its last chunk")


def close_transport_without_loop(transport: asyncio.Transport) -> None:
    """Close an asyncio transport whose event loop is closed (a client used again under a new
    `asyncio.run()`). Its close() and abort() leave the socket to a callback of that loop, which never
    runs (and the transport warns when it is collected): the socket is closed here, as that callback
    would have."""
    with contextlib.suppress(RuntimeError):
        transport.abort()  # marks it closing (a TLS transport: closed), then cannot schedule the rest
    inner: Any = getattr(getattr(transport, "_ssl_protocol", None), "_transport", None) or transport
    sock = getattr(inner, "_sock", None)
    if sock is not None:
        sock.close()
        inner._sock = None


#: Closes running on another event loop (`release_from_loop`; a loop keeps only weak references to tasks).
_closing_elsewhere: set[asyncio.Task[None]] = set()


def release_from_loop(
    loop: asyncio.AbstractEventLoop,
    close: Callable[[], Coroutine[Any, Any, None]],
    close_without_loop: Callable[[], None],
) -> None:
    """Release what an engine made on `loop`, not the running loop (a client used again under a new
    `asyncio.run()`): its connections belong to `loop`, so an open loop runs `close()` when it next runs;
    a closed one never will, and `close_without_loop()` closes the sockets at once (no "Unclosed"
    warnings, no sockets left to the garbage collector)."""
    if not loop.is_closed():

        def schedule() -> None:
            task = loop.create_task(close())
            _closing_elsewhere.add(task)
            task.add_done_callback(_closing_elsewhere.discard)

        with contextlib.suppress(RuntimeError):  # closed meanwhile
            loop.call_soon_threadsafe(schedule)
            return
    close_without_loop()
