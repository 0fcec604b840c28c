"""The ContentEncoding decoders, bytes in and bytes out: a stream cut short or run on is an error,
several gzip members (zstd frames) are one body, wherever the chunks are split."""

from __future__ import annotations

import gzip
import itertools
import zlib
from collections.abc import AsyncIterator, Callable

import brotli
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from tether import ByteReadChannel, ProtocolError
from tether.plugins.content_encoding import DECODERS, _decoded

PLAIN = b"tether decodes " * 20_000  # 300 KB: more than one 64 KiB piece comes out of one chunk

COMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": lambda data: bytes(brotli.compress(data)),
    "zstd": zstandard.ZstdCompressor().compress,
}


async def decode(coding: str, data: bytes, cuts: list[int] | None = None) -> bytes:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts or [])})

    async def source() -> AsyncIterator[bytes]:
        for start, end in itertools.pairwise(points):
            yield data[start:end]

    return b"".join([piece async for piece in _decoded(ByteReadChannel(source()), [DECODERS[coding]()], None)])


@pytest.mark.parametrize("coding", list(COMPRESS))
async def test_a_whole_stream_decodes(coding: str) -> None:
    assert await decode(coding, COMPRESS[coding](PLAIN)) == PLAIN


@pytest.mark.parametrize("coding", list(COMPRESS))
@pytest.mark.parametrize("kept", [0.6, 0.99])
async def test_a_stream_cut_short_raises(coding: str, kept: float) -> None:
    whole = COMPRESS[coding](PLAIN)
    with pytest.raises(ProtocolError, match="ended before the end of its compressed stream|Corrupt"):
        await decode(coding, whole[: int(len(whole) * kept)])


async def test_a_gzip_member_without_its_trailer_raises() -> None:
    with pytest.raises(ProtocolError, match="ended before"):
        await decode("gzip", gzip.compress(PLAIN)[:-8])


async def test_a_wrong_gzip_crc_raises() -> None:
    whole = bytearray(gzip.compress(PLAIN))
    whole[-8] ^= 0xFF
    with pytest.raises(ProtocolError, match="Corrupt"):
        await decode("gzip", bytes(whole))


@pytest.mark.parametrize("coding", list(COMPRESS))
async def test_bytes_after_the_end_of_a_stream_raise(coding: str) -> None:
    with pytest.raises(ProtocolError):
        await decode(coding, COMPRESS[coding](PLAIN) + b"\x00garbage after the end")


async def test_an_empty_body_with_a_coding_is_empty() -> None:
    assert await decode("gzip", b"") == b""


@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0), max_size=6))
async def test_gzip_members_decode_as_one_body_wherever_split(cuts: list[int]) -> None:
    members = gzip.compress(PLAIN) + gzip.compress(b"second") + gzip.compress(PLAIN[:1000])
    assert await decode("gzip", members, cuts) == PLAIN + b"second" + PLAIN[:1000]


@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0), max_size=6))
async def test_zstd_frames_decode_as_one_body_wherever_split(cuts: list[int]) -> None:
    frames = COMPRESS["zstd"](PLAIN) + COMPRESS["zstd"](b"second")
    assert await decode("zstd", frames, cuts) == PLAIN + b"second"
