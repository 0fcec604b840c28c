"""Failures raise the same tether exception class on every engine."""

from __future__ import annotations

import asyncio
from typing import Any

from tether import (
    ClientClosedError,
    ClientRequestException,
    ConnectError,
    HttpClientConfig,
    ProtocolError,
    RedirectResponseException,
    ServerResponseException,
    TlsError,
)
from tether_conformance.registry import CaseContext, case
from tether_conformance.servers.raw import fault_server


def _expect_success(config: HttpClientConfig[Any]) -> None:
    config.expect_success = True


@case("errors", "connection-refused")
async def refused(t: CaseContext) -> None:
    async with t.client() as client:
        await t.raises(ConnectError, client.get("http://127.0.0.1:1/"))


@case("errors", "tls-untrusted-certificate")
async def untrusted(t: CaseContext) -> None:
    async with t.client() as client:
        await t.raises(TlsError, client.get(f"https://127.0.0.1:{t.env.untrusted_tls.port}/raw/ok"))


@case("errors", "tls-wrong-hostname")
async def wrong_host(t: CaseContext) -> None:
    async with t.client() as client:
        await t.raises(TlsError, client.get(f"https://127.0.0.1:{t.env.wrong_host_tls.port}/raw/ok"))


@case("errors", "tls-verify-off-accepts-untrusted")
async def verify_off(t: CaseContext) -> None:
    def configure(config: HttpClientConfig[Any]) -> None:
        config.engine.verify = False

    async with t.client(configure) as client:
        response = await client.get(f"https://127.0.0.1:{t.env.untrusted_tls.port}/raw/ok")
    t.equal(await response.body_as_text(), "ok")


@case("errors", "expect-success-4xx")
async def client_error(t: CaseContext) -> None:
    async with t.client(_expect_success) as client:
        exc = await t.raises(ClientRequestException, client.get(t.env.http("/status/404")))
    t.equal(int(exc.response.status), 404)
    t.equal(await exc.response.body_as_text(), "status 404")


@case("errors", "expect-success-5xx")
async def server_error(t: CaseContext) -> None:
    async with t.client(_expect_success) as client:
        exc = await t.raises(ServerResponseException, client.get(t.env.http("/status/503")))
    t.equal(await exc.response.body_as_text(), "status 503")


@case("errors", "expect-success-3xx-unfollowed")
async def redirect_error(t: CaseContext) -> None:
    def configure(config: HttpClientConfig[Any]) -> None:
        config.expect_success = True
        config.follow_redirects = False

    async with t.client(configure) as client:
        exc = await t.raises(RedirectResponseException, client.get(t.env.http("/redirect?to=/echo")))
    t.equal(int(exc.response.status), 302)


@case("errors", "expect-success-off-returns-response")
async def no_expect(t: CaseContext) -> None:
    async with t.client() as client:
        response = await client.get(t.env.http("/status/500"))
    t.equal(int(response.status), 500)


def _protocol_error_case(name: str, raw: str, what: str) -> None:
    @case("malformed", name)
    async def body(t: CaseContext) -> None:
        async with t.client() as client:
            await t.raises(ProtocolError, client.get(t.env.raw_url(raw)))

    body.__doc__ = what


for _name, _raw, _what in [
    ("truncated-content-length", "truncated-content-length", "body shorter than Content-Length"),
    ("close-before-status-line", "close-before-status", "connection closed before any byte"),
    ("close-after-headers", "close-after-headers", "connection closed right after the head"),
    ("truncated-chunked", "truncated-chunked", "closed inside a chunk"),
    ("chunked-without-terminator", "chunked-without-terminator", "closed before the last chunk"),
    ("bad-status-line", "bad-status-line", "status line without a code"),
    ("garbage", "garbage", "not HTTP at all"),
    ("not-http", "not-http", "an SSH banner"),
    ("status-code-four-digits", "status-code-too-long", "status code 2000"),
    ("negative-content-length", "negative-content-length", "Content-Length: -1"),
    ("non-numeric-content-length", "non-numeric-content-length", "Content-Length: ten"),
    ("conflicting-content-lengths", "conflicting-content-lengths", "two different Content-Lengths"),
    ("space-in-header-name", "space-in-header-name", "a header name with a space"),
    ("oversized-header", "oversized-header", "a 1 MiB header line"),
]:
    _protocol_error_case(_name, _raw, _what)


@case("malformed", "content-length-and-chunked")
async def length_and_chunked(t: CaseContext) -> None:
    async with t.client() as client:
        await t.raises(ProtocolError, client.get(t.env.raw_url("content-length-with-chunked")))


@case("errors", "closing-the-client-fails-an-in-flight-call-with-client-closed")
async def closed_in_flight(t: CaseContext) -> None:
    # Each engine fails a call its close interrupts in its own words (aiohttp "Connector is closed",
    # httpx an empty message, libcurl "engine closed"); the caller sees one typed error, at once.
    server = fault_server()
    client = t.client()
    call = asyncio.ensure_future(client.get(server.url("silent")))
    await asyncio.sleep(0.2)
    await asyncio.wait_for(client.close(), 5.0)
    await asyncio.wait([call], timeout=5.0)
    t.check(call.done(), "the in-flight call did not end within 5 s of close()")
    error = call.exception()
    t.check(isinstance(error, ClientClosedError), f"expected ClientClosedError, got {error!r}")


@case("errors", "closing-the-client-fails-a-body-read-with-client-closed")
async def closed_mid_body(t: CaseContext) -> None:
    server = fault_server()
    client = t.client()
    async with client.prepare_get(server.url("stall-body")).execute() as response:
        channel = response.body_as_channel()
        await channel.read(1)
        await asyncio.wait_for(client.close(), 5.0)
        await t.raises(ClientClosedError, asyncio.wait_for(channel.read_all(), 5.0))


@case("errors", "closing-the-client-wakes-a-waiting-body-read-with-client-closed")
async def closed_under_a_waiting_read(t: CaseContext) -> None:
    # A read already waiting for the next bytes when the client closes (Aiohttp and Urllib3 left it
    # waiting: their close does not fail a connection a streamed response still holds).
    server = fault_server()
    client = t.client()
    async with client.prepare_get(server.url("stall-body")).execute() as response:
        channel = response.body_as_channel()
        await channel.read(1)
        waiting = asyncio.ensure_future(channel.read_all())
        await asyncio.sleep(0.2)
        await asyncio.wait_for(client.close(), 5.0)
        await asyncio.wait([waiting], timeout=5.0)
        t.check(waiting.done(), "the waiting read did not end within 5 s of close()")
        error = waiting.exception()
        t.check(isinstance(error, ClientClosedError), f"expected ClientClosedError, got {error!r}")
