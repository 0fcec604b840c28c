"""HTTP/2 faults give one verdict on every engine that speaks HTTP/2: a GOAWAY while streams are open
(RFC 9113 6.8) and malformed response heads (8.1.1). Served by `servers/h2faults.py` (TLS, ALPN h2)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from tether import ProtocolError
from tether.engine import Http2Capability
from tether_conformance.registry import CaseContext, case
from tether_conformance.servers.h2faults import MALFORMED_HEADS

#: Bound on a request the server may leave unanswered (one sent where it must not be).
_ANSWER_WITHIN = 10.0


async def _fetch(client: Any, url: str) -> tuple[int, bytes]:
    response = await client.get(url)
    return int(response.status), await response.body_as_bytes()


@case("http2", "goaway-graceful-finishes-the-stream", requires=[Http2Capability])
async def goaway_graceful(t: CaseContext) -> None:
    """GOAWAY(NO_ERROR) naming the stream as the last one, mid-body: the server finishes the stream, and
    the client reads it to its end; its next request goes to a new connection (the server never answers
    a stream opened on the old one)."""
    server = t.env.h2_faults
    async with t.client(requires=[Http2Capability]) as client:
        got = await asyncio.wait_for(_fetch(client, server.url("/goaway-graceful")), _ANSWER_WITHIN)
        t.equal(got, (200, b"x" * 1000), "the response the server finished after its GOAWAY")
        ignored = server.ignored_after_goaway
        got = await asyncio.wait_for(_fetch(client, server.url("/ok")), _ANSWER_WITHIN)
        t.equal(got, (200, b"ok"), "the next request's response")
        t.equal(server.ignored_after_goaway - ignored, 0, "streams opened on the connection after its GOAWAY")


@case("http2", "goaway-retries-only-the-newer-stream", requires=[Http2Capability])
async def goaway_newer(t: CaseContext) -> None:
    """Two streams on one connection; a GOAWAY(NO_ERROR) names the first as the last one processed:
    the first is answered on that connection, the second (never processed) is retried on a new one."""
    server = t.env.h2_faults
    tag = uuid.uuid4().hex
    async with t.client(requires=[Http2Capability]) as client:
        held = asyncio.ensure_future(_fetch(client, server.url(f"/hold?tag={tag}")))
        try:
            for _ in range(500):  # until the first stream reached the server (5 s at most)
                if tag in server.holding or held.done():
                    break
                await asyncio.sleep(0.01)
            if held.done():
                await held  # an engine without HTTP/2 says so here (UnsupportedCapabilityError)
            t.check(tag in server.holding, "the first request did not reach the server")
            newer = await asyncio.wait_for(_fetch(client, server.url(f"/goaway-newer?tag={tag}")), _ANSWER_WITHIN)
            t.equal(await asyncio.wait_for(held, _ANSWER_WITHIN), (200, b"held"), "the stream below the last id")
        finally:
            if not held.done():
                held.cancel()
                await asyncio.gather(held, return_exceptions=True)
        t.check(tag in server.goaway_sent, "both requests did not go out on one connection")
        t.equal(newer, (200, b"retried"), "the stream above the last id, retried on a new connection")


def _malformed_head_case(name: str) -> None:
    @case("http2", f"malformed-head-{name}", requires=[Http2Capability])
    async def check(t: CaseContext) -> None:
        server = t.env.h2_faults
        path = f"head/{name}"
        async with t.client(requires=[Http2Capability]) as client:
            # A connection already in use: the refusal must not pass for a stale connection and be retried.
            t.equal(await _fetch(client, server.url("/ok")), (200, b"ok"), "the first response")
            before = server.paths[path]
            await t.raises(ProtocolError, client.get(server.url(f"/{path}")))
            t.equal(server.paths[path] - before, 1, "requests sent for the malformed response (never retried)")
            t.equal(await _fetch(client, server.url("/ok")), (200, b"ok"), "the next request's response")

    check.__doc__ = f"A response head RFC 9113 calls malformed ({name}): a ProtocolError, never a response."


for _name in MALFORMED_HEADS:
    _malformed_head_case(_name)
