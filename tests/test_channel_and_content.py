"""ByteReadChannel reads, and the OutgoingContent kinds."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tether import (
    BodyNotReplayableError,
    ByteReadChannel,
    FormDataContent,
    MultiPartFormDataContent,
    ProtocolError,
    ResponseClosedError,
    StreamContent,
    TextContent,
)


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_read_returns_at_most_n_bytes_and_empty_only_at_the_end() -> None:
    channel = ByteReadChannel(chunks(b"hello ", b"", b"world"))
    assert await channel.read(3) == b"hel"
    assert await channel.read(100) == b"lo "
    assert await channel.read(5) == b"world"
    assert await channel.read(5) == b""
    assert channel.is_closed_for_read


async def test_read_exactly_and_read_all() -> None:
    channel = ByteReadChannel(chunks(b"ab", b"cd", b"ef"))
    assert await channel.read_exactly(3) == b"abc"
    assert await channel.read_all() == b"def"
    with pytest.raises(ProtocolError, match="0 of 1"):
        await channel.read_exactly(1)


async def test_iteration_yields_buffered_bytes_first() -> None:
    channel = ByteReadChannel(chunks(b"abc", b"def"))
    assert await channel.read(1) == b"a"
    assert [chunk async for chunk in channel] == [b"bc", b"def"]


async def test_read_to_a_file_streams_every_byte(tmp_path: Path) -> None:
    data = [bytes([i]) * 1000 for i in range(50)]
    target = tmp_path / "out.bin"
    with target.open("wb") as sink:
        written = await ByteReadChannel(chunks(*data)).read_to(sink)
    assert written == 50_000
    assert target.read_bytes() == b"".join(data)


async def test_read_to_accepts_any_object_with_a_sync_or_async_write() -> None:
    class AsyncSink:
        def __init__(self) -> None:
            self.parts: list[bytes] = []

        async def write(self, data: bytes) -> None:
            self.parts.append(data)

    sink = AsyncSink()
    assert await ByteReadChannel(chunks(b"a", b"bc")).read_to(sink) == 3
    assert sink.parts == [b"a", b"bc"]
    buffer = io.BytesIO()
    assert await ByteReadChannel(chunks(b"abcdef")).read_to(buffer, limit=4) == 4
    assert buffer.getvalue() == b"abcd"


async def test_a_body_shorter_than_its_length_is_a_protocol_error_not_short_data() -> None:
    channel = ByteReadChannel(chunks(b"abc"), expected_length=10)
    with pytest.raises(ProtocolError, match="3 of 10 bytes"):
        await channel.read_all()


async def test_a_body_longer_than_its_length_is_a_protocol_error() -> None:
    channel = ByteReadChannel(chunks(b"abc", b"def"), expected_length=4)
    with pytest.raises(ProtocolError, match="longer than its Content-Length"):
        await channel.read_all()


async def test_close_runs_the_release_callback_once_and_stops_the_source() -> None:
    released: list[str] = []
    stopped: list[str] = []

    async def source() -> AsyncIterator[bytes]:
        try:
            yield b"a"
            yield b"b"
        finally:
            stopped.append("stopped")

    channel = ByteReadChannel(source(), on_close=lambda: released.append("x"))
    assert await channel.read(1) == b"a"
    await channel.aclose()
    await channel.aclose()
    assert released == ["x"]
    assert stopped == ["stopped"]
    with pytest.raises(ResponseClosedError, match="closed after 1 bytes"):
        await channel.read(1)  # the rest of the body is gone: never b"", which reads as its end


async def test_reaching_the_end_releases_the_connection() -> None:
    released: list[str] = []
    channel = ByteReadChannel(chunks(b"ab"), on_close=lambda: released.append("x"))
    await channel.read_all()
    assert released == ["x"]


async def test_read_to_closes_the_channel_when_the_sink_fails() -> None:
    released: list[str] = []

    class Broken:
        def write(self, data: bytes) -> None:
            raise OSError("disk full")

    channel = ByteReadChannel(chunks(b"ab"), on_close=lambda: released.append("x"))
    with pytest.raises(OSError, match="disk full"):
        await channel.read_to(Broken())
    assert released == ["x"]


def test_text_content_encodes_with_its_charset() -> None:
    content = TextContent("héllo", "text/plain; charset=latin-1")
    assert content.data == "héllo".encode("latin-1")
    assert content.content_length == 5


def test_form_content_is_urlencoded() -> None:
    content = FormDataContent({"a": "x y", "b": ["1", "2"], "c": "ä&="})
    assert content.data == b"a=x+y&b=1&b=2&c=%C3%A4%26%3D"
    assert content.content_type == "application/x-www-form-urlencoded"


def test_multipart_holds_fields_and_files() -> None:
    content = MultiPartFormDataContent.from_fields(
        {"field": "value"}, {"upload": ("a.txt", b"file-bytes", "text/plain")}
    )
    body = content.data.decode()
    boundary = content.boundary
    assert content.content_type == f"multipart/form-data; boundary={boundary}"
    assert f'--{boundary}\r\nContent-Disposition: form-data; name="field"\r\n\r\nvalue\r\n' in body
    assert 'name="upload"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nfile-bytes\r\n' in body
    assert body.endswith(f"--{boundary}--\r\n")


async def test_a_stream_from_an_iterable_is_one_shot() -> None:
    content = StreamContent(chunks(b"a", b"b"), content_length=2)
    assert not content.replayable
    assert [c async for c in content.open()] == [b"a", b"b"]
    assert content.consumed
    with pytest.raises(BodyNotReplayableError, match="callable returning a fresh stream"):
        content.open()


async def test_a_stream_from_a_factory_is_replayable() -> None:
    content = StreamContent(lambda: chunks(b"a", b"b"))
    assert content.replayable
    assert [c async for c in content.open()] == [b"a", b"b"]
    assert [c async for c in content.open()] == [b"a", b"b"]
    assert not content.consumed


def test_stream_content_refuses_a_blocking_iterable_when_it_is_made() -> None:
    # It failed only when sent, as a ProtocolError on Aiohttp and a TypeError on the other engines.
    from tether import StreamContent

    with pytest.raises(TypeError, match="async iterable of bytes .* got generator"):
        StreamContent(chunk for chunk in [b"a"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="got list"):
        StreamContent([b"a"])  # type: ignore[arg-type]
