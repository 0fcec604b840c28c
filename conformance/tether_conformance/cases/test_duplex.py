"""Duplex streaming: the request body is written while the response is read."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from typing import Any

from tether import ByteReadChannel, HttpClient, HttpClientConfig, ProtocolError
from tether.engine import DuplexStreamingCapability, Http2Capability
from tether_conformance.registry import CaseContext, case

MIB = 1024 * 1024


def enable_duplex(config: HttpClientConfig[Any]) -> None:
    """Engines that make duplex opt-in (Curl, like OkHttp) name the switch `duplex_streaming_enabled`."""
    if hasattr(config.engine, "duplex_streaming_enabled"):
        config.engine.duplex_streaming_enabled = True


async def read_line(channel: ByteReadChannel, pending: bytearray) -> bytes:
    while b"\n" not in pending:
        chunk = await channel.read(65536)
        if not chunk:
            raise AssertionError(f"stream ended before a full line; got {bytes(pending)!r}")
        pending += chunk
    line, _, rest = bytes(pending).partition(b"\n")
    pending[:] = rest
    return line


async def ping_pong(t: CaseContext, client: HttpClient, url: str) -> None:
    async with client.duplex("POST", url) as call:
        await call.send(b"ping 0\n")
        response = await asyncio.wait_for(call.response, 5)
        channel = response.body_as_channel()
        pending = bytearray()
        for i in range(20):
            if i:
                await call.send(f"ping {i}\n".encode())
            # Each answer must come back before the next ping is sent: only a true duplex client can.
            line = await asyncio.wait_for(read_line(channel, pending), 5)
            t.equal(line, f"ping {i}".encode(), "echoed line")
        await call.close_send()
        rest = await asyncio.wait_for(channel.read_all(), 5)
    t.equal(bytes(pending) + rest, b"", "bytes after the last echo")


@case("duplex", "ping-pong-http1", requires=[DuplexStreamingCapability], timeout=30)
async def ping_pong_h1(t: CaseContext) -> None:
    async with t.client(enable_duplex) as client:
        await ping_pong(t, client, t.env.http("/duplex/echo"))


@case("duplex", "ping-pong-h2c", requires=[DuplexStreamingCapability, Http2Capability], timeout=30)
async def ping_pong_h2c(t: CaseContext) -> None:
    async with t.client(enable_duplex, requires=[Http2Capability]) as client:
        await ping_pong(t, client, t.env.http("/duplex/echo"))


@case("duplex", "ping-pong-h2-tls", requires=[DuplexStreamingCapability, Http2Capability], timeout=30)
async def ping_pong_h2(t: CaseContext) -> None:
    async with t.client(enable_duplex, requires=[Http2Capability]) as client:
        await ping_pong(t, client, t.env.https("/duplex/echo"))


@case("duplex", "interleaved-10-mib-each-way", requires=[DuplexStreamingCapability], timeout=60)
async def interleaved(t: CaseContext) -> None:
    sent, received = hashlib.sha256(), hashlib.sha256()
    total = 10 * MIB
    async with t.client(enable_duplex) as client, client.duplex("POST", t.env.http("/duplex/echo")) as call:

        async def writer() -> None:
            for i in range(total // 65536):
                chunk = bytes([i % 251]) * 65536
                sent.update(chunk)
                await call.send(chunk)
            await call.close_send()

        async def reader() -> int:
            response = await call.response
            count = 0
            async for chunk in response.body_as_channel():
                received.update(chunk)
                count += len(chunk)
            return count

        _, count = await asyncio.wait_for(asyncio.gather(writer(), reader()), 50)
    t.equal(count, total, "bytes echoed")
    t.equal(received.hexdigest(), sent.hexdigest(), "sha256 of the echo")


@case("duplex", "server-closes-early", requires=[DuplexStreamingCapability], timeout=30)
async def server_closes_early(t: CaseContext) -> None:
    async with (
        t.client(enable_duplex) as client,
        client.duplex("POST", t.env.raw_url("duplex-close-early")) as call,
    ):
        await call.send(b"hello")
        response = await asyncio.wait_for(call.response, 5)
        t.equal(await asyncio.wait_for(response.body_as_bytes(), 5), b"bye", "response body")
        failure: BaseException | None = None
        for _ in range(2000):  # bounded: the call has ended, so sending must fail, never hang
            try:
                await asyncio.wait_for(call.send(b"x" * 65536), 5)
            except ProtocolError as exc:
                failure = exc
                break
        t.check(failure is not None, "sending after the server closed never failed")


@case("duplex", "client-cancels-mid-call", requires=[DuplexStreamingCapability], timeout=30)
async def client_cancels(t: CaseContext) -> None:
    started = asyncio.Event()
    async with t.client(enable_duplex) as client:

        async def call_that_hangs() -> None:
            async with client.duplex("POST", t.env.http("/duplex/echo")) as call:
                await call.send(b"first\n")
                response = await call.response
                await response.body_as_channel().read(6)
                started.set()
                await asyncio.sleep(60)

        task = asyncio.ensure_future(call_that_hangs())
        waiter = asyncio.ensure_future(started.wait())
        await asyncio.wait({task, waiter}, timeout=5, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if task.done():
            task.result()  # an engine without duplex raised UnsupportedCapabilityError: that is the verdict
        t.check(started.is_set(), "the duplex call did not start within 5 s")
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)
        t.check(task.cancelled(), "the call was not cancelled")
        after = await asyncio.wait_for(client.get(t.env.http("/echo?after=cancel")), 5)
    t.equal((await t.json_of(after))["query"], "after=cancel")
