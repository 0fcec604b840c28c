"""The head checks every engine shares: `header_block` (raw field lines) must agree with
`response_headers` (parsed pairs), and `HeadersMemo` must never let a bad head through."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable

import pytest

from tether.engine.config import HttpClientEngineConfig
from tether.engine.support import (
    HeadersMemo,
    expected_body_length,
    header_block,
    header_block_problem,
    response_headers,
)
from tether.exceptions import ProtocolError
from tether.http import Headers

GOOD = [
    "",
    "Content-Length: 5\r\n",
    "A: 1\r\nb:2\nC:   spaced value \t\r\n",
    "X-Dup: 1\r\nx-dup: 2\r\nContent-Type: text/plain\r\n",
    "Transfer-Encoding: chunked\r\n",
    "Empty:\r\nLatin: caf\xe9\r\n",
]
BAD_LINES = ["No colon\r\n", " folded: x\r\n", "Bad Name: x\r\n", "A: b\rc\r\n", "A: \x00\r\n"]
BAD_SEMANTICS = [
    "Transfer-Encoding: gzip\r\n",
    "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n",
    "Content-Length: 3\r\nContent-Length: 4\r\n",
    "Content-Length: -1\r\n",
]


def pairs_of(text: str) -> list[tuple[str, str]]:
    return [(name, value) for name, _, value in (line.partition(":") for line in text.splitlines())]


@pytest.mark.parametrize("text", GOOD)
def test_header_block_agrees_with_response_headers(text: str) -> None:
    config = HttpClientEngineConfig()
    block = header_block(text, config)
    assert block is not None
    assert list(block.items()) == list(response_headers(pairs_of(text), config).items())


@pytest.mark.parametrize(
    ("text", "problem"),
    list(
        zip(BAD_LINES, ["without a colon", "line folding", "header name", "bare CR", "invalid character"], strict=True)
    ),
)
def test_a_malformed_line_is_refused_and_named(text: str, problem: str) -> None:
    assert header_block(text, HttpClientEngineConfig()) is None
    assert problem in header_block_problem(text)


@pytest.mark.parametrize("text", BAD_SEMANTICS)
def test_framing_errors_are_protocol_errors_on_both_paths(text: str) -> None:
    config = HttpClientEngineConfig()
    with pytest.raises(ProtocolError):
        header_block(text, config)
    with pytest.raises(ProtocolError):
        response_headers(pairs_of(text), config)


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_header_count_and_size_limits_match_exactly(limit: int) -> None:
    text = "A: 1\r\nBb: 22\r\nCcc: 333\r\n"
    config = HttpClientEngineConfig(max_response_headers=limit)
    assert refuses(lambda: header_block(text, config)) == refuses(lambda: response_headers(pairs_of(text), config))
    assert refuses(lambda: header_block(text, config)) == (limit < 3)
    size = 0
    for name, value in pairs_of(text):
        size += len(name) + len(value.strip())
    exact = size + 2 + 2 + 2 * 3  # the separators response_headers counts
    for head_size in (exact - 1, exact, exact + 1):
        sized = HttpClientEngineConfig(max_response_head_size=head_size)
        assert refuses(functools.partial(header_block, text, sized)) == (head_size < exact)
        assert refuses(functools.partial(response_headers, pairs_of(text), sized)) == (head_size < exact)


def refuses(check: Callable[[], object]) -> bool:
    try:
        check()
    except ProtocolError:
        return True
    return False


def test_memo_shares_checked_headers_and_starts_over_when_full() -> None:
    memo = HeadersMemo(size=2)
    config = HttpClientEngineConfig()
    first = header_block("A: 1\r\n", config)
    assert first is not None
    assert memo.get("A: 1\r\n") is None
    assert memo.put("A: 1\r\n", first) is first
    assert memo.get("A: 1\r\n") is first
    memo.put("B: 2\r\n", first)
    memo.put("C: 3\r\n", first)  # full: starts over, so memory stays bounded
    assert memo.get("A: 1\r\n") is None and memo.get("C: 3\r\n") is first


def test_expected_body_length_is_found_once_per_headers_object_and_still_follows_method_and_status() -> None:
    # Engines share one Headers object between identical heads; the framing found in it is kept there,
    # and what the method and status say still comes first on every call.
    sized = Headers([("Content-Length", "5")])
    assert expected_body_length("GET", 200, sized) == 5
    assert expected_body_length("HEAD", 200, sized) == 0
    assert expected_body_length("GET", 304, sized) == 0
    assert expected_body_length("GET", 101, sized) == 0
    assert expected_body_length("POST", 201, sized) == 5
    chunked = Headers([("Transfer-Encoding", "chunked")])
    assert expected_body_length("GET", 200, chunked) is None
    assert expected_body_length("GET", 204, chunked) == 0
    assert expected_body_length("GET", 200, chunked) is None
    assert expected_body_length("GET", 200, Headers()) is None


def test_an_unsupported_capability_names_the_setting_that_turns_it_on() -> None:
    # Curl streams duplex bodies only with duplex_streaming_enabled: the error says so (before any I/O).
    from tether import HttpClient, UnsupportedCapabilityError

    async def attempt() -> None:
        async with HttpClient("curl") as client, client.duplex("POST", "http://127.0.0.1:9/"):
            pass

    with pytest.raises(UnsupportedCapabilityError, match=r"config\.engine\.duplex_streaming_enabled = True"):
        asyncio.run(attempt())
