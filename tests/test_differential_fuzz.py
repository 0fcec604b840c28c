"""Differential fuzz: the same response bytes give the same outcome on every engine (issue 15 §6).

Hypothesis writes HTTP/1.x responses -- interim heads, status codes, every kind of framing, well formed
and not (lengths short, long, listed, repeated, invalid; chunked with extensions, trailers, bad size
lines, cut short; bodies until close), content codings, bare-LF heads -- and the raw-socket server of
the conformance suite sends each one to a client on every engine. The outcome must be one class for
all: the same status and body, or the same tether exception class. A response whose framing delimits
it is followed, on the same client, by a second request: it must get its own answer (bytes after a
response never become the next one).

Bounded: a fixed seed (`FUZZ_SEED`) and `FUZZ_EXAMPLES` examples (about 30 s), printed when the test
ends.
Policies: docs/conformance.md, "Framing faults: one verdict".
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from tether_conformance.servers.app import Counter
from tether_conformance.servers.raw import KEEP_OPEN, RawServer

from tether import HttpClient, HttpClientConfig, TetherError
from tether.engine import discover_engines

#: Fixed, so `make test` is repeatable; TETHER_FUZZ_SEED / TETHER_FUZZ_EXAMPLES explore further.
FUZZ_SEED = int(os.environ.get("TETHER_FUZZ_SEED", "20261203"))
FUZZ_EXAMPLES = int(os.environ.get("TETHER_FUZZ_EXAMPLES", "1000"))

ENGINES, _ = discover_engines()
BUNDLED = ("curl", "httpx", "aiohttp", "urllib3")


@dataclass(frozen=True)
class Exchange:
    """One generated response and how the client asks for it."""

    method: str
    payload: bytes
    #: The framing delimits the response: the connection stays open and a second request follows.
    delimited: bool


_STATUSES = [200, 201, 203, 204, 299, 304, 404, 500, 599, 600, 999, 99, 101]
_CODINGS = [None, "gzip", "br", "identity", "gzip, identity"]


@st.composite
def exchanges(draw: st.DrawFn) -> Exchange:
    method = draw(st.sampled_from(["GET", "GET", "GET", "HEAD"]))
    version = draw(st.sampled_from(["HTTP/1.1", "HTTP/1.1", "HTTP/1.1", "HTTP/1.0"]))
    eol = draw(st.sampled_from([b"\r\n", b"\r\n", b"\r\n", b"\n"]))  # a bare-LF head is allowed (RFC 9112 2.2)
    status = draw(st.sampled_from(_STATUSES))
    reason = draw(st.sampled_from([b"OK", b"", b"Some Reason"]))
    body = draw(st.binary(max_size=48))
    fields: list[bytes] = []
    coding = draw(st.sampled_from(_CODINGS))
    if coding:
        fields.append(b"Content-Encoding: " + coding.encode())
    if draw(st.booleans()):
        value = draw(st.sampled_from([b"1", b"two words", b"caf\xe9", b"", b"a\r\n folded", b"a\n\tfolded"]))
        fields.append(b"X-Fuzz: " + value)
    framing = draw(
        st.sampled_from(
            [
                "length",
                "length",
                "length-extra",
                "length-short",
                "chunked",
                "chunked",
                "chunked-cut",
                "chunked-bad",
                "until-close",
                "length-invalid",
                "length-repeated",
                "length-and-chunked",
            ]
        )
    )
    delimited = False
    content = body
    if framing == "length":
        fields.append(b"Content-Length: %d" % len(body))
        delimited = True
    elif framing == "length-extra":
        extra = draw(st.sampled_from([b"x", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nSTALE", b"\r\n"]))
        fields.append(b"Content-Length: %d" % len(body))
        content = body + extra
        delimited = True
    elif framing == "length-short":
        fields.append(b"Content-Length: %d" % (len(body) + draw(st.integers(1, 100))))
    elif framing in ("chunked", "chunked-cut", "chunked-bad"):
        fields.append(
            b"Transfer-Encoding: " + draw(st.sampled_from([b"chunked", b"Chunked", b"chunked ", b" CHUNKED"]))
        )
        content = _chunked(draw, body)
        if framing == "chunked":
            delimited = True
        elif framing == "chunked-cut":
            content = content[: draw(st.integers(0, max(0, len(content) - 1)))]
        else:
            content = _broken(draw, content)
    elif framing == "until-close":
        if draw(st.booleans()):
            fields.append(b"Connection: close")
    elif framing == "length-invalid":
        value = draw(st.sampled_from([b"\xb2", b"-1", b"ten", b"+5", b"0x5", b"", b"5, 5", b"5,5", b"1 2"]))
        fields.append(b"Content-Length: " + value)
    elif framing == "length-repeated":
        second = draw(st.sampled_from([len(body), len(body) + 1]))
        fields += [b"Content-Length: %d" % len(body), b"Content-Length: %d" % second]
    else:
        fields += [b"Content-Length: %d" % len(body), b"Transfer-Encoding: chunked"]
        content = _chunked(draw, body)
    if draw(st.booleans()):
        fields.reverse()
    interim = b""
    for _ in range(draw(st.integers(0, 2))):
        code, extra_field = draw(st.sampled_from([(b"100 Continue", b""), (b"103 Early Hints", b"Link: </a>")]))
        interim += b"HTTP/1.1 " + code + eol + (extra_field + eol if extra_field else b"") + eol
    status_line = version.encode() + b" %03d" % status + (b" " + reason if reason else b"")
    head = status_line + eol + b"".join(field + eol for field in fields) + eol
    if version == "HTTP/1.0" or b"Connection: close" in fields:
        delimited = False  # the server closes: nothing follows on this connection
    return Exchange(method, interim + head + content, delimited)


def _chunked(draw: st.DrawFn, body: bytes) -> bytes:
    cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=3)))
    out = b""
    for start, end in itertools.pairwise([0, *cuts, len(body)]):
        if end > start:
            size = draw(st.sampled_from([b"%x", b"%X", b"%04x"])) % (end - start)
            extension = draw(st.sampled_from([b"", b"", b";name=value", b';q="a b"', b" ;bws", b" "]))
            out += size + extension + b"\r\n" + body[start:end] + b"\r\n"
    trailer = draw(st.sampled_from([b"", b"", b"X-Trailer: yes\r\n"]))
    return out + b"0\r\n" + trailer + b"\r\n"


def _broken(draw: st.DrawFn, chunked: bytes) -> bytes:
    """Chunked framing with one fault: a size with a prefix, a line ending in a bare LF, a chunk
    without its CRLF, or a chunk longer than its size."""
    fault = draw(st.sampled_from(["prefix", "lf-size", "lf-data", "no-crlf", "longer"]))
    first_line = chunked.index(b"\r\n")
    if fault == "prefix":
        return draw(st.sampled_from([b"0x", b"+", b" ", b"-", b"\t"])) + chunked
    if fault == "lf-size":
        return chunked[:first_line] + b"\n" + chunked[first_line + 2 :]
    size = int(chunked[:first_line].split(b";")[0].strip() or b"0", 16)
    data_end = first_line + 2 + size
    if fault == "lf-data":
        return chunked[:data_end] + b"\n" + chunked[data_end + 2 :]
    if fault == "no-crlf":
        return chunked[:data_end] + chunked[data_end + 2 :]
    return chunked[:data_end] + b"zz" + chunked[data_end:]


Outcome = tuple[Any, ...]


async def _response(client: HttpClient, method: str, url: str) -> Outcome:
    response = await client.request(method, url)
    return ("response", int(response.status), await response.body_as_bytes())


#: A hang check, not a timing: an engine that waits for bytes that never come shows as the outcome
#: "hang" (every other engine answered), instead of stopping `make test`.
HANG_CHECK = 10.0


async def _outcome(client: HttpClient, method: str, url: str) -> Outcome:
    try:
        return await asyncio.wait_for(_response(client, method, url), HANG_CHECK)
    except asyncio.TimeoutError:
        return ("hang",)
    except TetherError as exc:
        return ("error", type(exc).__name__)
    except Exception as exc:  # outside tether's hierarchy: never allowed
        return ("escaped", type(exc).__module__ + "." + type(exc).__name__, str(exc)[:80])


def _no_redirects(config: HttpClientConfig[Any]) -> None:
    config.follow_redirects = False


@pytest.mark.parametrize("engines", [BUNDLED])
def test_every_engine_gives_one_outcome_for_the_same_response_bytes(
    engines: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    loop = asyncio.new_event_loop()
    server = RawServer(Counter())
    clients = {name: HttpClient(ENGINES[name], _no_redirects) for name in engines}
    names = itertools.count()
    examples = 0
    run: Callable[[Any], Any] = loop.run_until_complete

    async def check(exchange: Exchange) -> None:
        name = f"fuzz-{next(names)}"
        server.responses[name] = exchange.payload + (KEEP_OPEN if exchange.delimited else b"")
        url = f"http://127.0.0.1:{server.port}/raw/{name}"
        outcomes = {}
        for engine, client in clients.items():
            outcome = await _outcome(client, exchange.method, url)
            if exchange.delimited:
                outcome += await _outcome(client, "GET", f"http://127.0.0.1:{server.port}/raw/ok")
            outcomes[engine] = outcome
        del server.responses[name]
        distinct = set(outcomes.values())
        assert not any(outcome[0] == "escaped" for outcome in distinct), outcomes
        assert len(distinct) == 1, f"{exchange.method} {exchange.payload!r}: {outcomes}"

    @seed(FUZZ_SEED)
    @settings(
        max_examples=FUZZ_EXAMPLES,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
    )
    @given(exchanges())
    def differential(exchange: Exchange) -> None:
        nonlocal examples
        examples += 1
        run(check(exchange))

    try:
        run(server.start())
        differential()
    finally:
        for client in clients.values():
            run(client.close())
        run(server.stop())
        loop.close()
    with capsys.disabled():
        print(f"\ndifferential fuzz: {examples} cases on {len(engines)} engines, seed {FUZZ_SEED}")
