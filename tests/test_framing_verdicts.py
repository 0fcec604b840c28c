"""The shared framing rules behind one verdict on every engine (issue 15 §4): pure functions, bytes in,
values or ProtocolError out. The conformance group `faults` checks the engines against them."""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import httpx
import pytest
from tether_conformance.servers.app import Counter
from tether_conformance.servers.raw import RawServer

from tether.content import ByteArrayContent, NoContent
from tether.engine.config import HttpClientEngineConfig
from tether.engine.support import (
    ChunkedDecoder,
    final_head,
    header_block,
    is_chunked,
    replayable,
    response_end,
    response_headers,
    response_status,
)
from tether.exceptions import ProtocolError
from tether.request import HttpRequestBuilder


@pytest.mark.parametrize(
    ("pieces", "body"),
    [
        ([b"5\r\nhello\r\n0\r\n\r\n"], b"hello"),
        ([b"5\r", b"\nhel", b"lo\r", b"\n0\r\n", b"\r\n"], b"hello"),
        ([b'5;name=value\r\nhello\r\n6;q="a b"\r\n world\r\n0\r\n\r\n'], b"hello world"),
        ([b"A\r\n0123456789\r\n0\r\nX-Trailer: yes\r\n\r\n"], b"0123456789"),
        ([b"5 \r\nhello\r\n0\r\n\r\n"], b"hello"),  # whitespace before CRLF: h11, llhttp and http.client take it
        ([b"0\r\n\r\nextra bytes are not the body"], b""),
    ],
)
def test_chunked_decoder_decodes_strict_framing_in_any_pieces(pieces: list[bytes], body: bytes) -> None:
    decoder = ChunkedDecoder()
    assert b"".join(decoder.feed(piece) for piece in pieces) == body
    decoder.finish()


@pytest.mark.parametrize(
    "framing",
    [
        b"0x5\r\nhello\r\n0\r\n\r\n",
        b"+5\r\nhello\r\n0\r\n\r\n",
        b" 5\r\nhello\r\n0\r\n\r\n",
        b"5 ;a=b\r\nhello\r\n0\r\n\r\n",  # BWS before ";": h11 refuses it
        b"5\nhello\n0\n\n",
        b"5\r\nhello\n0\r\n\r\n",
        b"3\r\nhello\r\n0\r\n\r\n",
    ],
)
def test_chunked_decoder_refuses_broken_framing(framing: bytes) -> None:
    with pytest.raises(ProtocolError):
        ChunkedDecoder().feed(framing)


def test_chunked_decoder_takes_a_list_of_pieces_split_anywhere() -> None:
    # The Curl engine feeds every piece of a loop iteration at once; chunk data comes out as one bytes.
    framing = b"5\r\nhello\r\n10\r\n0123456789abcdef\r\n3;x=y\r\nend\r\n0\r\nT: 1\r\n\r\n"
    for first in range(len(framing)):
        for second in range(first, len(framing)):
            decoder = ChunkedDecoder()
            pieces = [framing[:first], framing[first:second], framing[second:]]
            body = decoder.feed(pieces)
            assert (type(body), body, decoder.done) == (bytes, b"hello0123456789abcdefend", True)


def test_chunked_decoder_refuses_broken_framing_in_a_list_of_pieces() -> None:
    decoder = ChunkedDecoder()
    with pytest.raises(ProtocolError):
        decoder.feed([b"5\r\nhel", b"lo\r\n3\r\nabcd\r\n0\r\n\r\n"])


def test_a_chunked_body_cut_before_its_end_is_a_protocol_error() -> None:
    decoder = ChunkedDecoder()
    decoder.feed(b"5\r\nhello\r\n0\r\n")
    with pytest.raises(ProtocolError):
        decoder.finish()


def test_an_obsolete_line_folding_is_unfolded_to_one_space() -> None:
    headers = header_block("X-Fold: a\r\n folded\r\n\tagain\r\nB: 1\n", HttpClientEngineConfig())
    assert headers is not None
    assert (headers["X-Fold"], headers["B"]) == ("a folded again", "1")


def test_a_folding_a_library_left_in_a_value_is_unfolded_too() -> None:
    headers = response_headers([("X-Fold", "a\n\tfolded"), ("B", "c\r\n d")], HttpClientEngineConfig())
    assert (headers["X-Fold"], headers["B"]) == ("a folded", "c d")


def test_check_says_where_the_message_ends_without_copying_the_body() -> None:
    decoder = ChunkedDecoder()
    assert decoder.check(b"5\r\nhel") == 6
    assert decoder.check(b"lo\r\n0\r\n\r\nSTALE") == 9
    assert decoder.done


@pytest.mark.parametrize(
    ("data", "head_request", "end"),
    [
        (b"HTTP/1.1 204 No Content\r\nContent-Length: 46\r\n\r\nHTTP/1.1 200 OK", False, 47),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello, and more", False, 43),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", True, 38),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\nContent-Length: 2\n\nokxx", False, 62),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\nxx", False, 59),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", False, None),
        (b"HTTP/1.1 200 OK\r\n\r\nuntil the connection closes", False, None),
        (b"HTTP/1.1 200 OK\r\nContent-Len", False, None),
    ],
)
def test_response_end_follows_rfc_9112_framing(data: bytes, head_request: bool, end: int | None) -> None:
    assert response_end(data, head_request=head_request) == end


def test_final_head_skips_interim_heads_and_finds_chunked() -> None:
    data = b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n"
    found = final_head(data)
    assert found is not None
    status, fields, end = found
    assert (status, end) == (200, len(data))
    assert is_chunked(data, fields, end)
    assert not is_chunked(data, 0, fields)


@pytest.mark.parametrize("code", [99, 0, 101, 1000])
def test_a_status_execute_cannot_take_as_final_is_a_protocol_error(code: int) -> None:
    with pytest.raises(ProtocolError):
        response_status(code, "Reason")


def test_statuses_up_to_999_are_delivered() -> None:
    assert (int(response_status(200, "OK")), int(response_status(999, None))) == (200, 999)


@pytest.mark.parametrize("value", ["\xb2", "5, 5", "+5", "٣", " ", "0x5"])
def test_content_length_is_one_ascii_number(value: str) -> None:
    with pytest.raises(ProtocolError):
        response_headers([("Content-Length", value)], HttpClientEngineConfig())


def test_repeated_identical_content_lengths_are_refused() -> None:
    with pytest.raises(ProtocolError):
        response_headers([("Content-Length", "5"), ("Content-Length", "5")], HttpClientEngineConfig())


def _request(method: str, body: Any) -> Any:
    return HttpRequestBuilder(method, "http://example.test/", body=body).build()


@pytest.mark.parametrize(
    ("method", "body", "expected"),
    [
        ("GET", NoContent(), True),
        ("PUT", ByteArrayContent(b"x"), True),
        ("DELETE", NoContent(), True),
        ("POST", ByteArrayContent(b"x"), False),
        ("POST", NoContent(), False),
        ("PATCH", ByteArrayContent(b"x"), False),
    ],
)
def test_only_idempotent_requests_with_bodies_in_memory_are_replayable(method: str, body: Any, expected: bool) -> None:
    assert replayable(_request(method, body)) is expected


async def test_the_httpcore_path_to_the_h11_state_still_exists() -> None:
    """The Httpx engine finds h11's buffer through httpx/httpcore internals (engine.py,
    `_never_reuse_after_extra_bytes`): when they move, this fails instead of stale bytes coming back."""
    server = RawServer(Counter())
    await server.start()
    try:
        async with httpx.AsyncClient() as client:
            response = await client.send(
                client.build_request("GET", f"http://127.0.0.1:{server.port}/raw/faults-body-then-stale"), stream=True
            )
            assert [chunk async for chunk in response.aiter_raw()] == [b"hello"]
            stream: Any = response.stream
            state = stream._stream._httpcore_stream._stream._connection._h11_state
            assert isinstance(state, h11.Connection)
            assert state.trailing_data[0].startswith(b"HTTP/1.1 200 OK")
    finally:
        await server.stop()
        await asyncio.sleep(0)
