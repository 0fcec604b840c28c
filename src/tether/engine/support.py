"""Small pieces every engine adapter needs, kept here so adapters stay one mapping each."""

from __future__ import annotations

import re
import ssl
from collections.abc import AsyncIterator, Iterable

from multidict import CIMultiDict

from tether.content import ByteArrayContent, NoContent, OutgoingContent, StreamContent
from tether.engine.config import HttpClientEngineConfig
from tether.exceptions import ProtocolError
from tether.http import Headers, HttpProtocolVersion

__all__ = [
    "NO_BODY_STATUSES",
    "READ_CHUNK_SIZE",
    "chunks_of",
    "create_ssl_context",
    "expected_body_length",
    "protocol_version",
    "request_body_bytes",
    "response_headers",
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
    if "Transfer-Encoding" in headers:
        return None
    single = headers.get("Content-Length")
    if single is None:
        return None
    if single.isdigit() and len(headers.get_all("Content-Length")) == 1:
        return int(single)
    values = {value.strip() for line in headers.get_all("Content-Length") for value in line.split(",")}
    if len(values) != 1:
        return None
    value = values.pop()
    return int(value) if value.isdigit() else None


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


_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_TOKENS = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:\x01[!#$%&'*+\-.^_`|~0-9A-Za-z]+)*\Z")


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
            name.decode("latin-1") if isinstance(name, bytes) else name,
            (value.decode("latin-1") if isinstance(value, bytes) else value).strip(" \t"),
        )
        for name, value in raw
    ]
    # Checked in bulk (one regex, three scans) because this runs for every response.
    names = "\x01".join(name for name, _ in pairs)
    values = "\x01".join(value for _, value in pairs)
    count = len(pairs)
    if count and _TOKENS.match(names) is None:
        bad = next(name for name, _ in pairs if _TOKEN.match(name) is None)
        raise ProtocolError(f"Invalid response header name {bad!r} from {where}")
    if "\r" in values or "\n" in values or "\x00" in values:
        bad = next(n for n, v in pairs if "\r" in v or "\n" in v or "\x00" in v)
        raise ProtocolError(f"Invalid character in response header {bad} from {where}")
    size = len(names) + len(values) + 2 * count
    headers: CIMultiDict[str] = CIMultiDict(pairs)
    if count > config.max_response_headers:
        raise ProtocolError(
            f"Response from {where} has {count} headers, more than max_response_headers={config.max_response_headers}"
        )
    if size > config.max_response_head_size:
        raise ProtocolError(
            f"Response head from {where} is {size} bytes, more than max_response_head_size="
            f"{config.max_response_head_size}"
        )
    if "Transfer-Encoding" in headers:
        codings = [c.strip().lower() for line in headers.getall("Transfer-Encoding") for c in line.split(",")]
        if codings != ["chunked"]:
            # tether decodes no transfer coding but chunked (RFC 9112 6.1 leaves others to the parties).
            raise ProtocolError(f"Unsupported Transfer-Encoding {', '.join(codings)!r} from {where}")
        if "Content-Length" in headers:
            # RFC 9112 6.3: both present "ought to be handled as an error" (request smuggling).
            raise ProtocolError(f"Response from {where} has both Transfer-Encoding and Content-Length")
    if "Content-Length" in headers:
        lengths = {v.strip() for line in headers.getall("Content-Length") for v in line.split(",")}
        if len(lengths) > 1 or not all(v.isdigit() for v in lengths):
            raise ProtocolError(f"Invalid Content-Length {sorted(lengths)} from {where}")
    return Headers(headers)


def protocol_version(text: str, where: object = "") -> HttpProtocolVersion:
    """The response's protocol version; one tether does not know (HTTP/0.9, HTTP/5.6) is a ProtocolError."""
    try:
        return HttpProtocolVersion.parse(text)
    except ValueError:
        raise ProtocolError(f"Unsupported protocol version {text!r} in the response from {where}") from None
