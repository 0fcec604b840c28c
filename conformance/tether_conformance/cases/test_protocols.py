"""HTTP/2 (TLS with ALPN, and h2c prior knowledge), proxies, concurrency."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from tether import HttpClientConfig, HttpProtocolVersion
from tether.engine import Http2Capability, Http3Capability, ProxyBuilder, ProxyCapability, SocksProxyCapability
from tether_conformance.registry import CaseContext, case
from tether_conformance.servers.raw import fault_server


def _h2_version_case(name: str, secure: bool) -> None:
    @case("http2", name, requires=[Http2Capability])
    async def check(t: CaseContext) -> None:
        url = t.env.https("/echo") if secure else t.env.http("/echo")
        async with t.client(requires=[Http2Capability]) as client:
            response = await client.get(url)
            echo = await t.json_of(response)
        t.equal((response.version, echo["http_version"]), (HttpProtocolVersion.HTTP_2_0, "2"))


_h2_version_case("tls-alpn-version", secure=True)  # HTTP/2 negotiated through ALPN
_h2_version_case("h2c-prior-knowledge-version", secure=False)  # cleartext, prior knowledge


@case("http2", "post-body", requires=[Http2Capability])
async def h2_post(t: CaseContext) -> None:
    data = b"x" * 200_000
    async with t.client(requires=[Http2Capability]) as client:
        echo = await t.json_of(await client.post(t.env.https("/echo"), content=data))
    t.equal(echo["body_length"], len(data))


@case("http2", "multiplexed-concurrency", requires=[Http2Capability])
async def h2_concurrent(t: CaseContext) -> None:
    async with t.client(requires=[Http2Capability]) as client:
        responses = await asyncio.gather(*(client.get(t.env.https(f"/echo?i={i}")) for i in range(50)))
        queries = [(await t.json_of(r))["query"] for r in responses]
    t.equal(queries, [f"i={i}" for i in range(50)])


@case("http1", "cleartext-is-1-1-by-default")
async def http11(t: CaseContext) -> None:
    async with t.client() as client:
        response = await client.get(t.env.http("/echo"))
        echo = await t.json_of(response)
    t.equal((response.version, echo["http_version"]), (HttpProtocolVersion.HTTP_1_1, "1.1"))


@case("concurrency", "200-in-flight")
async def many_in_flight(t: CaseContext) -> None:
    async with t.client() as client:
        responses = await asyncio.gather(*(client.get(t.env.http(f"/delay?seconds=0.05&i={i}")) for i in range(200)))
        bodies = [await r.body_as_text() for r in responses]
    t.equal(bodies, ["late"] * 200)


@case("concurrency", "a-request-beside-an-unanswered-one-gets-its-own-connection")
async def beside_unanswered(t: CaseContext) -> None:
    # A fresh client, two requests to one cleartext HTTP/1.1 host at the same moment: the first one's
    # server never answers. The second must not wait to share the first's connection (libcurl's
    # PIPEWAIT did: it failed after the 10 s connect timeout).
    server = fault_server()
    async with t.client() as client:
        silent = asyncio.ensure_future(client.get(server.url("silent")))
        second = asyncio.ensure_future(client.get(server.url("ok")))
        try:
            await asyncio.wait([second], timeout=3.0)
            t.check(second.done(), "the second request got no answer within 3 s")
            t.equal(await second.result().body_as_text(), "ok")
        finally:
            for task in (silent, second):
                task.cancel()
            await asyncio.gather(silent, second, return_exceptions=True)


@case("concurrency", "interleaved-streams")
async def interleaved(t: CaseContext) -> None:
    async with t.client() as client:

        async def fetch(size: int) -> int:
            async with client.prepare_get(t.env.http(f"/chunked?size={size}&chunk=1000&delay=0.001")).execute() as r:
                return len(await r.body_as_channel().read_all())

        sizes = await asyncio.gather(*(fetch(10_000 + i) for i in range(20)))
    t.equal(sizes, [10_000 + i for i in range(20)])


def _proxied(proxy: Any) -> Any:
    def configure(config: HttpClientConfig[Any]) -> None:
        config.engine.proxy = proxy

    return configure


@case("proxy", "http-proxy-plain", requires=[ProxyCapability])
async def http_proxy(t: CaseContext) -> None:
    before = t.env.http_proxy.connections
    async with t.client(
        _proxied(ProxyBuilder.http(f"http://127.0.0.1:{t.env.http_proxy.port}")), requires=[ProxyCapability]
    ) as client:
        echo = await t.json_of(await client.get(t.env.http("/echo?via=proxy")))
    t.equal(t.header_values(echo, "via"), ["1.1 tether-proxy"])
    t.check(t.env.http_proxy.connections > before, "the proxy saw no connection")


@case("proxy", "http-proxy-connect-tls", requires=[ProxyCapability])
async def https_via_proxy(t: CaseContext) -> None:
    before = t.env.http_proxy.connections
    async with t.client(
        _proxied(ProxyBuilder.http(f"http://127.0.0.1:{t.env.http_proxy.port}")), requires=[ProxyCapability]
    ) as client:
        response = await client.get(t.env.https("/echo?via=connect"))
        # The origin's head, not the proxy's "200 Connection established" before it.
        t.equal(response.headers.get("Content-Type"), "application/json")
        echo = await t.json_of(response)
        missing = await client.get(t.env.https("/status/404"))
        t.equal((int(missing.status), await missing.body_as_text()), (404, "status 404"))
    t.equal(echo["query"], "via=connect")
    t.check(t.env.http_proxy.connections > before, "the proxy saw no connection")


@case("proxy", "socks5", requires=[SocksProxyCapability])
async def socks(t: CaseContext) -> None:
    before = t.env.socks_proxy.connections
    async with t.client(_proxied(ProxyBuilder.socks("127.0.0.1", t.env.socks_proxy.port))) as client:
        echo = await t.json_of(await client.get(t.env.http("/echo?via=socks")))
    t.equal(echo["query"], "via=socks")
    t.check(t.env.socks_proxy.connections > before, "the SOCKS proxy saw no connection")


@case("http3", "version", requires=[Http3Capability])
async def h3_version(t: CaseContext) -> None:
    async with t.client(requires=[Http3Capability]) as client:
        response = await client.get(t.env.http3("/echo?h3=1"))
        echo = await t.json_of(response)
    t.equal((response.version, echo["http_version"], echo["query"]), (HttpProtocolVersion.HTTP_3_0, "3", "h3=1"))


@case("http3", "post-body", requires=[Http3Capability])
async def h3_post(t: CaseContext) -> None:
    data = bytes(range(256)) * 1000
    async with t.client(requires=[Http3Capability]) as client:
        echo = await t.json_of(await client.post(t.env.http3("/echo"), content=data))
    t.equal(echo["body_length"], len(data))


@case("http3", "download-1-mib", requires=[Http3Capability])
async def h3_download(t: CaseContext) -> None:
    async with t.client(requires=[Http3Capability]) as client:
        response = await client.get(t.env.http3("/bytes?size=1048576"))
        data = await response.body_as_bytes()
    t.equal(hashlib.sha256(data).hexdigest(), response.headers["X-Sha256"])


@case("concurrency", "64-workers-sequential-requests")
async def workers_sequential(t: CaseContext) -> None:
    """Connections and handles are reused at full speed; a finished response never disturbs a newer one."""
    async with t.client() as client:

        async def worker(index: int) -> list[str]:
            seen = []
            for round_ in range(8):
                response = await client.get(t.env.http(f"/echo?w={index}&r={round_}"))
                seen.append((await t.json_of(response))["query"])
            return seen

        results = await asyncio.gather(*(worker(i) for i in range(64)))
    t.equal(results, [[f"w={i}&r={r}" for r in range(8)] for i in range(64)])
