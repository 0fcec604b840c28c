"""Faults in what a response holds: never wrong data without an error, never a hang (issue 15 §1).

A compressed body that ends before its compressed stream does, or runs on after it, raises
`ProtocolError` (full and streamed reads); several gzip members decode as one body; a streamed body
read after its response was closed raises `ResponseClosedError` instead of looking empty; a method
that is not a token never reaches the wire.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

from tether import HttpClientConfig, InvalidMethodError, ProtocolError, ResponseClosedError, SSEClientException
from tether.engine import SSECapability
from tether.plugins import SSE, ContentEncoding
from tether.plugins.sse import SSEBufferPolicy
from tether_conformance.registry import CaseContext, case
from tether_conformance.servers.raw import FAULTS_PLAIN, RAW_RESPONSES

MIB = 1024 * 1024


def _decoding(config: HttpClientConfig[Any]) -> None:
    config.install(ContentEncoding)


# --- ContentEncoding: truncated streams ---------------------------------------------------------------
def _truncated_cases(coding: str) -> None:
    raw = f"faults-{coding}-truncated"

    @case("faults", f"content-encoding-{coding}-truncated-raises-on-full-read")
    async def full(t: CaseContext) -> None:
        async with t.client(_decoding) as client:
            await t.raises(ProtocolError, client.get(t.env.raw_url(raw)))

    @case("faults", f"content-encoding-{coding}-truncated-raises-on-streamed-read")
    async def streamed(t: CaseContext) -> None:
        async with t.client(_decoding) as client, client.prepare_get(t.env.raw_url(raw)).execute() as response:
            await t.raises(ProtocolError, response.body_as_channel().read_to(io.BytesIO()))


for _coding in ("gzip", "deflate", "br", "zstd"):
    _truncated_cases(_coding)


@case("faults", "content-encoding-gzip-without-trailer-raises")
async def gzip_without_trailer(t: CaseContext) -> None:
    # Every deflate block is there, only the CRC-32 and length are missing: the check must still run.
    async with t.client(_decoding) as client:
        await t.raises(ProtocolError, client.get(t.env.raw_url("faults-gzip-without-trailer")))


# --- ContentEncoding: what follows the end of a stream ------------------------------------------------
@case("faults", "content-encoding-gzip-two-members-decode-fully")
async def gzip_two_members(t: CaseContext) -> None:
    async with t.client(_decoding) as client:
        response = await client.get(t.env.raw_url("faults-gzip-two-members"))
    body = await response.body_as_bytes()
    t.equal(len(body), 2 * len(FAULTS_PLAIN), "decoded length")
    t.check(body == FAULTS_PLAIN * 2, "both gzip members decoded in order")


@case("faults", "content-encoding-zstd-two-frames-decode-fully")
async def zstd_two_frames(t: CaseContext) -> None:
    async with t.client(_decoding) as client:
        response = await client.get(t.env.raw_url("faults-zstd-two-frames"))
    body = await response.body_as_bytes()
    t.equal(len(body), 2 * len(FAULTS_PLAIN), "decoded length")
    t.check(body == FAULTS_PLAIN * 2, "both zstd frames decoded in order")


@case("faults", "content-encoding-gzip-trailing-garbage-raises")
async def gzip_trailing_garbage(t: CaseContext) -> None:
    async with t.client(_decoding) as client:
        await t.raises(ProtocolError, client.get(t.env.raw_url("faults-gzip-trailing-garbage")))


@case("faults", "content-encoding-gzip-trailing-garbage-raises-on-streamed-read")
async def gzip_trailing_garbage_streamed(t: CaseContext) -> None:
    url = t.env.raw_url("faults-gzip-trailing-garbage")
    async with t.client(_decoding) as client, client.prepare_get(url).execute() as response:
        await t.raises(ProtocolError, response.body_as_channel().read_to(io.BytesIO()))


@case("faults", "content-encoding-6-codings-raise-protocol-error")
async def six_codings(t: CaseContext) -> None:
    # A short header every engine reads: only the bound on stacked codings can refuse it.
    async with t.client(_decoding) as client:
        await t.raises(ProtocolError, client.get(t.env.raw_url("faults-identity-6-times")))


@case("faults", "content-encoding-3000-codings-raise-protocol-error")
async def too_many_codings(t: CaseContext) -> None:
    async with t.client(_decoding) as client:
        await t.raises(ProtocolError, client.get(t.env.raw_url("faults-identity-3000-times")))


# --- a streamed body read after its response was closed -----------------------------------------------
@case("faults", "streamed-body-read-after-its-block-raises-response-closed")
async def read_after_block(t: CaseContext) -> None:
    async with t.client() as client:
        async with client.prepare_get(t.env.http(f"/bytes?size={5 * MIB}")).execute() as response:
            pass
        await t.raises(ResponseClosedError, response.body_as_bytes())


@case("faults", "streamed-channel-read-after-its-block-raises-response-closed")
async def channel_after_block(t: CaseContext) -> None:
    async with t.client() as client:
        async with client.prepare_get(t.env.http("/bytes?size=1000")).execute() as response:
            channel = response.body_as_channel()
            t.equal(len(await channel.read_exactly(10)), 10, "bytes read inside the block")
        await t.raises(ResponseClosedError, channel.read(10))


@case("faults", "closed-response-body-read-in-full-inside-the-block-stays-readable")
async def read_inside_block(t: CaseContext) -> None:
    async with t.client() as client:
        async with client.prepare_get(t.env.http("/bytes?size=1000")).execute() as response:
            body = await response.body_as_bytes()
        t.equal(await response.body_as_bytes(), body, "the body kept in memory after the block")


# --- the method is a token, checked before any I/O ----------------------------------------------------
def _method_case(name: str, method: str) -> None:
    @case("faults", f"method-{name}-rejected-before-any-io")
    async def body(t: CaseContext) -> None:
        async with t.client() as client:
            before = t.env.requests_seen
            await t.raises(InvalidMethodError, client.request(method, t.env.http("/echo")))
            t.equal(t.env.requests_seen - before, 0, "requests the server saw")


_method_case("with-crlf-smuggling-a-request", "GET /admin HTTP/1.1\r\nHost: x\r\n\r\nGET")
_method_case("empty", "")
_method_case("with-a-space", "GET /")
_method_case("with-non-ascii", "GÉT")


@case("faults", "method-extension-token-is-sent-as-given")
async def extension_method(t: CaseContext) -> None:
    async with t.client() as client:
        echo = await t.json_of(await client.request("PROPFIND", t.env.http("/echo")))
    t.equal(echo["method"], "PROPFIND")


# --- SSE: an exception from the caller's block keeps what the session processed ----------------------
def _sse_buffering(config: HttpClientConfig[Any]) -> None:
    config.install(SSE, buffer_policy=SSEBufferPolicy.last_events(10))


class _HandlingFailed(Exception):
    pass


@case("faults", "sse-error-in-the-block-is-an-sse-client-exception-with-the-buffer", requires=[SSECapability])
async def sse_block_error(t: CaseContext) -> None:
    async with t.client(_sse_buffering) as client:
        try:
            async with client.sse(t.env.http("/sse/basic")) as session:
                async for event in session.incoming:
                    if event.data == "hello":
                        raise _HandlingFailed("cannot handle hello")
        except SSEClientException as exc:
            t.check(isinstance(exc.__cause__, _HandlingFailed), f"cause: {exc.__cause__!r}")
            t.check(exc.response is not None, "the exception carries the buffered response")
            assert exc.response is not None
            buffered = await exc.response.body_as_text()
            t.check("data: hello" in buffered, f"the buffer holds the processed event: {buffered!r}")
            return
        raise AssertionError("the block's exception did not come out as SSEClientException")


@case("faults", "sse-cancellation-in-the-block-passes-through", requires=[SSECapability])
async def sse_block_cancelled(t: CaseContext) -> None:
    async with t.client(_sse_buffering) as client:
        try:
            async with client.sse(t.env.http("/sse/basic")) as session:
                async for _ in session.incoming:
                    raise asyncio.CancelledError
        except asyncio.CancelledError:
            return
        raise AssertionError("CancelledError did not pass through unchanged")


# --- Trailer fields are header fields ----------------------------------------------------------------
_CHUNKED_OK = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\nok\r\n0\r\n"
RAW_RESPONSES["faults-trailer-without-colon"] = _CHUNKED_OK + b"bad trailer\r\n\r\n"
RAW_RESPONSES["faults-trailer-folded"] = _CHUNKED_OK + b"X-Sum: 1\r\n  2\r\n\r\n"


@case("faults", "chunked-trailer-line-without-colon-raises")
async def trailer_without_colon(t: CaseContext) -> None:
    # Urllib3 (http.client) skipped the trailer section unread and returned the body.
    async with t.client() as client:
        await t.raises(ProtocolError, client.get(t.env.raw_url("faults-trailer-without-colon")))


@case("faults", "chunked-trailer-line-folded-is-skipped-with-the-trailer")
async def trailer_folded(t: CaseContext) -> None:
    # tether exposes no trailer fields: every engine skips the section, a folded line included.
    async with t.client() as client:
        response = await client.get(t.env.raw_url("faults-trailer-folded"))
        t.equal(await response.body_as_text(), "ok")
