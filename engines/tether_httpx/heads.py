"""Response heads as they came off the wire, for the Httpx engine's checks.

h11, which httpcore parses with, normalises some fields before anyone sees them: `Content-Length: 5, 5`
becomes `5`, and a repeated identical Content-Length line is dropped. Every other engine refuses both
(`tether.engine.support.response_headers`; llhttp refuses them too), so the engine checks each head as
it arrived: httpcore's network streams are wrapped so that the bytes of each final response head are
kept, and httpcore hands the stream to the response (its `network_stream` extension). HTTP/1.x only;
h2 keeps no such normalisation.
"""

from __future__ import annotations

import ssl
import typing

import httpcore
import httpx

__all__ = ["HeadRecordingStream", "record_heads"]

#: Bytes of interim and final heads kept at most while looking for the end of the final head (above
#: any `max_response_head_size` worth setting; a longer head is refused by h11 anyway).
HEAD_LIMIT = 1024 * 1024


class HeadRecordingStream(httpcore.AsyncNetworkStream):
    """A network stream that keeps the field lines of the last final response head read from it."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._buffer = bytearray()
        self._recording = False
        #: The field lines (each with its line end) of the last final head; None until one is complete.
        self.fields: str | None = None

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not self._recording:  # a request starts: its response head comes next
            self._recording = True
            self._buffer.clear()
            self.fields = None
        await self._inner.write(buffer, timeout)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data = await self._inner.read(max_bytes, timeout)
        if self._recording:
            self._take(data)
        return data

    def _take(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        while True:
            status_end = buffer.find(b"\n") + 1
            crlf = buffer.find(b"\n\r\n", status_end - 1)
            lf = buffer.find(b"\n\n", status_end - 1)
            if not status_end or (crlf < 0 and lf < 0):
                if len(buffer) > HEAD_LIMIT:
                    self._recording = False  # h11 refuses such a head before tether looks at it
                return
            blank = crlf if lf < 0 or 0 <= crlf < lf else lf
            end = blank + (3 if blank == crlf else 2)
            if buffer[9:10] == b"1" and buffer[9:12] != b"101":
                del buffer[:end]  # an interim head (100 Continue, 103 Early Hints): the final one follows
                continue
            self.fields = buffer[status_end : blank + 1].decode("latin-1")
            self._recording = False
            buffer.clear()
            return

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        return HeadRecordingStream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class _HeadRecordingBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(self, *args: typing.Any, **kwargs: typing.Any) -> httpcore.AsyncNetworkStream:
        return HeadRecordingStream(await self._inner.connect_tcp(*args, **kwargs))

    async def connect_unix_socket(self, *args: typing.Any, **kwargs: typing.Any) -> httpcore.AsyncNetworkStream:
        return HeadRecordingStream(await self._inner.connect_unix_socket(*args, **kwargs))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def record_heads(client: httpx.AsyncClient) -> None:
    """Wrap the network backend of every httpcore pool of `client` (a custom transport is left alone)."""
    for transport in [client._transport, *client._mounts.values()]:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if isinstance(backend, httpcore.AsyncNetworkBackend) and not isinstance(backend, _HeadRecordingBackend):
            pool._network_backend = _HeadRecordingBackend(backend)  # type: ignore[union-attr]
