"""ContentEncoding: ask for compressed responses and decode them while they stream, within a limit.

    config.install(ContentEncoding, max_decompressed_size=64 * 1024 * 1024)

- Request: `Accept-Encoding` with quality values (`gzip, deflate;q=0.9, br;q=0.8, zstd;q=0.7`) unless
  the request set one. `br` and `zstd` are offered when `brotli` / `zstandard` are installed.
- Response: the `Content-Encoding` list is decoded in reverse order as the body is read (never all
  at once); `Content-Encoding` and `Content-Length` are dropped since they no longer describe the
  body. An unknown coding raises `UnsupportedContentEncodingError`; corrupt data raises
  `ProtocolError`, and so does a body that ends before its compressed stream does (a gzip member
  without its CRC/length trailer, an unfinished brotli stream or zstd frame) or that has bytes after
  it. Several gzip members (or zstd frames) one after the other decode as one body. At most
  `MAX_CODINGS` codings are stacked.
- A body decoding to more than `max_decompressed_size` bytes raises `DecompressedSizeExceededError`
  naming the limit: a compression bomb cannot eat the memory. Output is produced in bounded pieces
  (zlib's `max_length`, brotli's `output_buffer_limit`, small zstd input slices).
"""

from __future__ import annotations

import importlib.util
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tether.attributes import AttributeKey
from tether.channel import ByteReadChannel
from tether.exceptions import ProtocolError, TetherError
from tether.plugins.api import PluginBuilder, create_client_plugin
from tether.request import HttpRequestBuilder
from tether.response import HttpResponse

__all__ = [
    "APPLIED_DECODERS",
    "ContentEncoding",
    "ContentEncodingConfig",
    "DecompressedSizeExceededError",
    "UnsupportedContentEncodingError",
]

#: Output piece size: bounds how much one step of a decoder may produce.
PIECE = 64 * 1024
#: Most codings one response may stack (libcurl's limit too): each costs a decoder per response, and
#: no real server applies more than two.
MAX_CODINGS = 5
#: The encodings a response used, outermost first (read it from `response.request.attributes`).
APPLIED_DECODERS: AttributeKey[list[str]] = AttributeKey("AppliedDecoders")

_HAVE_BROTLI = importlib.util.find_spec("brotli") is not None
_HAVE_ZSTD = importlib.util.find_spec("zstandard") is not None


class UnsupportedContentEncodingError(ProtocolError):
    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        super().__init__(f"Unsupported Content-Encoding {encoding!r}")


class DecompressedSizeExceededError(TetherError):
    """The decoded body grew past `max_decompressed_size` (a compression bomb, or a limit set too low)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"Decompressed response body exceeds max_decompressed_size={limit} bytes")


class _Decoder:
    """One coding undone incrementally. `finish()` runs when the body ends: a stream whose decoder
    has not reached its end (zlib's `eof`, brotli finished, a zstd frame ended) was cut short, and
    that is a `ProtocolError`, never a silently shorter body."""

    def feed(self, data: bytes) -> Iterator[bytes]:
        raise NotImplementedError

    def finish(self) -> Iterator[bytes]:
        return iter(())


def _truncated(coding: str) -> ProtocolError:
    return ProtocolError(f"Compressed ({coding}) response body ended before the end of its compressed stream")


def _trailing(coding: str, count: int) -> ProtocolError:
    return ProtocolError(f"{count} byte(s) follow the end of the {coding} stream in the response body")


class _Zlib(_Decoder):
    """gzip (`wbits | 16`: zlib checks the trailer's CRC-32 and length before it reports `eof`) and
    deflate. A gzip body may hold several members (RFC 1952 2.2), decoded one after the other;
    anything else after the end of the stream is an error."""

    def __init__(self, wbits: int) -> None:
        self._wbits = wbits
        self._gzip = bool(wbits & 16)
        self._coding = "gzip" if self._gzip else "deflate"
        self._d = zlib.decompressobj(wbits)
        self._started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        # "deflate" sent raw (without the zlib header), as some servers do
        if not self._started and self._wbits == zlib.MAX_WBITS and data and data[0] & 0x0F != 8:
            self._d = zlib.decompressobj(-zlib.MAX_WBITS)
        self._started = self._started or bool(data)
        try:
            while data:
                if self._d.eof:
                    if not self._gzip:
                        raise _trailing(self._coding, len(data))
                    # The next gzip member: a new decoder checks its header (garbage fails there).
                    self._d = zlib.decompressobj(self._wbits)
                out = self._d.decompress(data, PIECE)
                # At the end of a stream CPython leaves the input in `unconsumed_tail` too: take the
                # bytes after the end from `unused_data`, or the loop would feed them forever.
                data = self._d.unused_data if self._d.eof else self._d.unconsumed_tail
                if out:
                    yield out
        except zlib.error as exc:
            raise ProtocolError(f"Corrupt compressed response body: {exc}") from exc

    def finish(self) -> Iterator[bytes]:
        if not self._started:
            return  # an empty body: nothing was compressed
        try:
            out = self._d.flush()
        except zlib.error as exc:
            raise ProtocolError(f"Corrupt compressed response body: {exc}") from exc
        if out:
            yield out
        if not self._d.eof:
            raise _truncated(self._coding)


class _Brotli(_Decoder):
    def __init__(self) -> None:
        import brotli

        self._brotli = brotli
        self._d = brotli.Decompressor()
        self._started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        if not data:
            return
        self._started = True
        if self._d.is_finished():
            raise _trailing("br", len(data))
        try:
            out = self._d.process(data, output_buffer_limit=PIECE)
            if out:
                yield out
            while not self._d.can_accept_more_data():
                out = self._d.process(b"", output_buffer_limit=PIECE)
                if not out:
                    break
                yield out
        except self._brotli.error as exc:
            raise ProtocolError(f"Corrupt brotli response body: {exc}") from exc

    def finish(self) -> Iterator[bytes]:
        if not self._started:
            return
        try:
            # Output held back by the piece limit: brotli reports finished only once it is taken.
            while not self._d.is_finished():
                out = self._d.process(b"", output_buffer_limit=PIECE)
                if not out:
                    raise _truncated("br")
                yield out
        except self._brotli.error as exc:
            raise ProtocolError(f"Corrupt brotli response body: {exc}") from exc


class _Zstd(_Decoder):
    """Frames one after the other (RFC 8878 3: a stream is one or more frames)."""

    #: zstd can turn a few bytes into megabytes: feed it small slices so each step stays bounded.
    SLICE = 256

    def __init__(self) -> None:
        import zstandard

        self._zstd = zstandard
        self._new = zstandard.ZstdDecompressor().decompressobj
        self._d = self._new()
        self._started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        view = memoryview(data)
        start = 0
        self._started = self._started or bool(data)
        try:
            while start < len(view):
                if self._d.eof:
                    self._d = self._new()  # the next frame
                piece = view[start : start + self.SLICE].tobytes()
                start += len(piece)
                out = self._d.decompress(piece)
                if self._d.eof:
                    start -= len(self._d.unused_data)  # the rest of the slice starts the next frame
                if out:
                    yield out
        except self._zstd.ZstdError as exc:
            raise ProtocolError(f"Corrupt zstd response body: {exc}") from exc

    def finish(self) -> Iterator[bytes]:
        if self._started and not self._d.eof:
            raise _truncated("zstd")
        return iter(())


class _Identity(_Decoder):
    def feed(self, data: bytes) -> Iterator[bytes]:
        yield data


DECODERS: dict[str, Callable[[], _Decoder]] = {
    "gzip": lambda: _Zlib(zlib.MAX_WBITS | 16),
    "x-gzip": lambda: _Zlib(zlib.MAX_WBITS | 16),
    "deflate": lambda: _Zlib(zlib.MAX_WBITS),
    "identity": _Identity,
}
if _HAVE_BROTLI:
    DECODERS["br"] = _Brotli
if _HAVE_ZSTD:
    DECODERS["zstd"] = _Zstd


def _default_encodings() -> dict[str, float]:
    offered = {"gzip": 1.0, "deflate": 0.9}
    if _HAVE_BROTLI:
        offered["br"] = 0.8
    if _HAVE_ZSTD:
        offered["zstd"] = 0.7
    return offered


@dataclass
class ContentEncodingConfig:
    #: Offered codings and their quality values (0 < q <= 1), highest first in the header.
    encodings: dict[str, float] = field(default_factory=_default_encodings)
    #: Largest decoded body; None disables the limit (not advised for untrusted servers).
    max_decompressed_size: int | None = 256 * 1024 * 1024

    def validate(self) -> None:
        for name, quality in self.encodings.items():
            if name not in DECODERS:
                raise ValueError(f"ContentEncoding cannot decode {name!r}; known: {', '.join(sorted(DECODERS))}")
            if not 0 < quality <= 1:
                raise ValueError(f"Quality of {name!r} must be in (0, 1], got {quality}")
        if self.max_decompressed_size is not None and self.max_decompressed_size <= 0:
            raise ValueError(f"max_decompressed_size must be positive or None, got {self.max_decompressed_size}")

    def accept_encoding(self) -> str:
        ordered = sorted(self.encodings.items(), key=lambda item: -item[1])
        return ", ".join(name if quality == 1 else f"{name};q={quality:g}" for name, quality in ordered)


async def _decoded(source: ByteReadChannel, decoders: list[_Decoder], limit: int | None) -> AsyncIterator[bytes]:
    produced = 0

    def through(data: bytes, index: int) -> Iterator[bytes]:
        if index == len(decoders):
            yield data
            return
        for piece in decoders[index].feed(data):
            yield from through(piece, index + 1)

    def flushed(index: int) -> Iterator[bytes]:
        if index == len(decoders):
            return
        for piece in decoders[index].finish():
            yield from through(piece, index + 1)
        yield from flushed(index + 1)

    async for chunk in source:
        for out in through(chunk, 0):
            produced += len(out)
            if limit is not None and produced > limit:
                raise DecompressedSizeExceededError(limit)
            yield out
    for out in flushed(0):
        produced += len(out)
        if limit is not None and produced > limit:
            raise DecompressedSizeExceededError(limit)
        yield out


def _install(plugin: PluginBuilder[ContentEncodingConfig]) -> None:
    config = plugin.plugin_config
    config.validate()
    header = config.accept_encoding()
    limit = config.max_decompressed_size

    def ask(request: HttpRequestBuilder, content: object) -> None:
        if "Accept-Encoding" not in request.headers:
            request.headers["Accept-Encoding"] = header

    def decode(response: HttpResponse) -> None:
        codings = response.headers.get_split_values("Content-Encoding")
        if not codings or response.request.method == "HEAD" or int(response.status) in (204, 304):
            return
        names = [name.lower() for name in codings]
        if len(names) > MAX_CODINGS:
            raise ProtocolError(
                f"Response has {len(names)} Content-Encoding codings; at most {MAX_CODINGS} are decoded"
            )
        decoders: list[Any] = []
        for name in reversed(names):  # the last coding applied is undone first
            factory = DECODERS.get(name)
            if factory is None:
                raise UnsupportedContentEncodingError(name)
            decoders.append(factory())
        response.request.attributes[APPLIED_DECODERS] = names
        response.wrap_body(
            lambda body: ByteReadChannel(_decoded(body, decoders, limit), on_close=body.aclose),
            drop_headers=("Content-Encoding", "Content-Length"),
        )

    plugin.on_request(ask)
    plugin.on_response(decode)


ContentEncoding = create_client_plugin("ContentEncoding", ContentEncodingConfig, _install)
