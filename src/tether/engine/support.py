"""Small pieces every engine adapter needs, kept here so adapters stay one mapping each."""

from __future__ import annotations

import re
import ssl
from collections.abc import AsyncIterator, Hashable, Iterable

from multidict import CIMultiDict

from tether.content import ByteArrayContent, NoContent, OutgoingContent, StreamContent
from tether.engine.config import HttpClientEngineConfig
from tether.exceptions import ProtocolError
from tether.http import TOKEN, Headers, HttpProtocolVersion, HttpStatusCode
from tether.request import HttpRequestData

__all__ = [
    "IDEMPOTENT_METHODS",
    "NO_BODY_STATUSES",
    "HeadersMemo",
    "READ_CHUNK_SIZE",
    "chunks_of",
    "create_ssl_context",
    "expected_body_length",
    "header_block",
    "header_block_problem",
    "protocol_version",
    "replayable",
    "request_body_bytes",
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
    fields = headers.multidict  # the C multidict directly: this runs for every response
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
    """The chunks of a stream body, empty chunks skipped (some libraries read b"" as the end)."""
    async for chunk in content.open():
        if chunk:
            yield bytes(chunk)


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
        bad = next(n for n, v in pairs if "\r" in v or "\n" in v or "\x00" in v)
        raise ProtocolError(f"Invalid character in response header {bad} from {where}")
    return _checked_headers(pairs, len(joined_names) + len(joined_values) + 2 * count, config, where)


_HEADER_BLOCK = re.compile(rf"(?:{TOKEN}:[^\r\n\x00]*\r?\n)*\Z")


def header_block(text: str, config: HttpClientEngineConfig, where: object = "") -> Headers | None:
    """The headers of a head's field lines (`Name: value`, each ending in CRLF or LF), checked as
    `response_headers` checks them; None when a line is malformed (the caller says which, and how).
    One regex validates every line at once: this runs for every response of the engines that see the
    raw head.
    """
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
    count = len(pairs)
    if count > config.max_response_headers:
        raise ProtocolError(
            f"Response from {where} has {count} headers, more than max_response_headers={config.max_response_headers}"
        )
    if size > config.max_response_head_size:
        raise ProtocolError(
            f"Response head from {where} is {size} bytes, more than max_response_head_size="
            f"{config.max_response_head_size}"
        )
    headers: CIMultiDict[str] = CIMultiDict(pairs)
    if "Transfer-Encoding" in headers:
        codings = [c.strip().lower() for line in headers.getall("Transfer-Encoding") for c in line.split(",")]
        if codings != ["chunked"]:
            # tether decodes no transfer coding but chunked (RFC 9112 6.1 leaves others to the parties).
            raise ProtocolError(f"Unsupported Transfer-Encoding {', '.join(codings)!r} from {where}")
        if "Content-Length" in headers:
            # RFC 9112 6.3: both present "ought to be handled as an error" (request smuggling).
            raise ProtocolError(f"Response from {where} has both Transfer-Encoding and Content-Length")
    lengths = headers.getall("Content-Length", None)
    if lengths is not None and not (len(lengths) == 1 and _DIGITS.match(lengths[0])):
        # RFC 9112 6.3: one number, nothing else. A list or a repeat of the same number ("5, 5") is
        # refused too: RFC 9110 8.6 lets a recipient reject it, and llhttp does, so every engine does.
        raise ProtocolError(f"Invalid Content-Length {lengths} from {where}")
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
_read_buffers_primed = False


def prime_read_buffers() -> None:
    """Let the C allocator serve asyncio's read buffers from its heap (once per process).

    asyncio's plain socket transports read into a new 256 KiB buffer on every read and cut it down to
    the bytes received. glibc serves a block that large with a fresh `mmap` -- so each read also pays
    a page fault, an `mremap` and later a `munmap` -- until a block at least that large has been freed;
    then its dynamic mmap threshold rises above it and such blocks come from the heap. Whether that has
    happened by the time requests start depends on what the process did before (imports, reading a
    big file): a lottery worth about 25% on 1 KiB responses. Freeing one such block early settles it.
    The aiohttp and httpx engines, which read through those transports, call this when they start.
    Idempotent, and harmless where the allocator behaves otherwise.
    """
    global _read_buffers_primed
    if not _read_buffers_primed:
        _read_buffers_primed = True
        block = bytearray(_READ_BUFFER_PRIME)
        del block
