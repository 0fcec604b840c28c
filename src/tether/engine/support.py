"""Small pieces every engine adapter needs, kept here so adapters stay one mapping each."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

from tether.content import ByteArrayContent, NoContent, OutgoingContent, StreamContent
from tether.engine.config import HttpClientEngineConfig
from tether.http import Headers

__all__ = ["NO_BODY_STATUSES", "chunks_of", "create_ssl_context", "expected_body_length", "request_body_bytes"]

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
