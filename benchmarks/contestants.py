"""The contestants. Each is opened (imports, client, connections), warmed up, then timed on `n`
requests at `concurrency`; only the timed part counts. tether on each engine, the raw libraries under
it written as their documentation recommends, requests, and the peers (other fast Python clients:
`PEERS`, run from their own virtual environment, see `benchmarks/peers.py`).

With `read_to`, a GET streams its body into a counter (nothing kept), each client the way its
documentation streams; a POST sends `payload_size` bytes.
"""

from __future__ import annotations

import asyncio
import functools
import io
import ssl
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Job:
    url: str
    n: int
    concurrency: int
    ca_file: str
    method: str = "GET"
    http2: bool = False
    read_to: bool = False
    payload_size: int = 1024

    @functools.cached_property
    def payload(self) -> bytes:
        """The request body of a POST (made once per process)."""
        return b"x" * self.payload_size


async def fan_out(
    n: int, concurrency: int, one: Callable[[], Awaitable[int]], budget: float | None = None
) -> tuple[int, int]:
    """Run `one` n times on `concurrency` workers; stop early once `budget` seconds have passed (a
    very slow contestant is measured on fewer requests). Returns (requests done, bytes received)."""
    remaining = n
    total = done = 0
    deadline = time.perf_counter() + budget if budget else None

    async def worker() -> None:
        nonlocal remaining, total, done
        while remaining > 0 and (deadline is None or time.perf_counter() < deadline):
            remaining -= 1
            received = await one()  # not `total += await one()`: that reads `total` before awaiting
            total += received
            done += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done, total


class AsyncContestant:
    """open() sets up, one() performs a request and returns the body size, close() tears down."""

    def __init__(self, job: Job) -> None:
        self.job = job

    async def open(self) -> None: ...

    async def one(self) -> int:
        raise NotImplementedError

    async def close(self) -> None: ...


class SyncContestant:
    def __init__(self, job: Job) -> None:
        self.job = job

    def open(self) -> None: ...

    def run(self, n: int) -> int:
        raise NotImplementedError

    def close(self) -> None: ...


# -- tether --------------------------------------------------------------------------------------------
def _tether_factory(engine: str) -> Any:
    if engine == "curl":
        from tether_curl import Curl

        return Curl
    if engine == "aiohttp":
        from tether_aiohttp import Aiohttp

        return Aiohttp
    if engine == "httpx":
        from tether_httpx import Httpx

        return Httpx
    from tether_urllib3 import Urllib3

    return Urllib3


class _CountingSink:
    """An in-memory sink that keeps nothing: the ceiling a file sink is compared with. Its `write`
    is a coroutine, so `read_to` calls it on the loop (no executor)."""

    def __init__(self) -> None:
        self.size = 0

    async def write(self, data: bytes) -> None:
        self.size += len(data)


class TetherContestant(AsyncContestant):
    engine = ""
    #: What `read_to` writes into: a temporary file (blocking: written on the executor) or "memory".
    sink = "file"

    async def open(self) -> None:
        from tether import HttpClient
        from tether.engine import Http2Capability

        job = self.job

        def configure(config: Any) -> None:
            config.engine.ca_bundle = job.ca_file
            config.engine.max_connections = max(job.concurrency, 10)
            if self.engine == "urllib3":
                config.engine.threads_count = min(job.concurrency, 32)
            if job.http2:
                config.default_request(lambda d: d.set_capability(Http2Capability, None))

        self.client = HttpClient(_tether_factory(self.engine), configure)

    async def one(self) -> int:
        job, client = self.job, self.client
        if job.read_to and self.sink == "memory":
            async with client.prepare_get(job.url).execute() as response:
                return await response.body_as_channel().read_to(_CountingSink())
        if job.read_to:
            with tempfile.TemporaryFile() as sink:
                async with client.prepare_get(job.url).execute() as response:
                    return await response.body_as_channel().read_to(sink)
        if job.method == "POST":
            return len(await (await client.post(job.url, content=job.payload)).body_as_bytes())
        return len(await (await client.get(job.url)).body_as_bytes())

    async def close(self) -> None:
        await self.client.close()


def _tether(engine: str, sink: str = "file") -> type[TetherContestant]:
    return type(f"Tether{engine.title()}{sink.title()}", (TetherContestant,), {"engine": engine, "sink": sink})


class TetherSync(SyncContestant):
    def open(self) -> None:
        from tether_curl import Curl

        from tether.sync import HttpClient

        self.client = HttpClient(Curl, lambda c: setattr(c.engine, "ca_bundle", self.job.ca_file))

    def run(self, n: int) -> int:
        return sum(len(self.client.get(self.job.url).body_as_bytes()) for _ in range(n))

    def close(self) -> None:
        self.client.close()


# -- raw libraries ---------------------------------------------------------------------------------------
class AiohttpContestant(AsyncContestant):
    async def open(self) -> None:
        import aiohttp

        job = self.job
        context = ssl.create_default_context(cafile=job.ca_file)
        connector = aiohttp.TCPConnector(limit=max(job.concurrency, 10), ssl=context)
        self.session = aiohttp.ClientSession(connector=connector)

    async def one(self) -> int:
        if self.job.method == "POST":
            async with self.session.post(self.job.url, data=self.job.payload) as response:
                return len(await response.read())
        async with self.session.get(self.job.url) as response:
            if self.job.read_to:
                return sum([len(chunk) async for chunk in response.content.iter_any()])
            return len(await response.read())

    async def close(self) -> None:
        await self.session.close()


class AiohttpPrimedContestant(AiohttpContestant):
    """Raw aiohttp after the allocator priming tether's asyncio engines do at start
    (`tether.engine.support.prime_read_buffers`): set beside tether+aiohttp, it shows tether's own
    overhead apart from what that fix gains. Informational; the targets compare with plain aiohttp."""

    async def open(self) -> None:
        from tether.engine.support import prime_read_buffers

        prime_read_buffers()
        await super().open()


class HttpxContestant(AsyncContestant):
    async def open(self) -> None:
        import httpx

        job = self.job
        limits = httpx.Limits(max_connections=max(job.concurrency, 10))
        verify = ssl.create_default_context(cafile=job.ca_file)
        self.client = httpx.AsyncClient(limits=limits, verify=verify, http2=job.http2, timeout=None)

    async def one(self) -> int:
        if self.job.method == "POST":
            return len((await self.client.post(self.job.url, content=self.job.payload)).content)
        if self.job.read_to:
            async with self.client.stream("GET", self.job.url) as response:
                return sum([len(chunk) async for chunk in response.aiter_raw()])
        return len((await self.client.get(self.job.url)).content)

    async def close(self) -> None:
        await self.client.aclose()


class PycurlMulti(SyncContestant):
    """A plain CurlMulti loop (perform + select), the fastest way pycurl's documentation shows."""

    def open(self) -> None:
        import pycurl

        job = self.job
        self.multi = pycurl.CurlMulti()
        if job.http2:
            self.multi.setopt(pycurl.M_PIPELINING, pycurl.PIPE_MULTIPLEX)
        self.handles = []
        for _ in range(job.concurrency):
            handle = pycurl.Curl()
            handle.setopt(pycurl.URL, job.url)
            handle.setopt(pycurl.CAINFO, job.ca_file)
            handle.setopt(pycurl.NOSIGNAL, 1)
            version = pycurl.CURL_HTTP_VERSION_2TLS if job.http2 else pycurl.CURL_HTTP_VERSION_1_1
            handle.setopt(pycurl.HTTP_VERSION, version)
            if job.http2:
                handle.setopt(pycurl.PIPEWAIT, 1)
            if job.method == "POST":
                handle.setopt(pycurl.POSTFIELDS, job.payload)
            self.handles.append(handle)

    def run(self, n: int) -> int:
        import pycurl

        multi = self.multi
        free = list(self.handles)
        buffers: dict[Any, io.BytesIO] = {}
        started = finished = total = 0

        streamed = 0

        def count(chunk: bytes) -> None:
            nonlocal streamed
            streamed += len(chunk)

        def launch(handle: Any) -> None:
            nonlocal started
            buffer = io.BytesIO()
            buffers[handle] = buffer
            handle.setopt(pycurl.WRITEFUNCTION, count if self.job.read_to else buffer.write)
            multi.add_handle(handle)
            started += 1

        while free and started < n:
            launch(free.pop())
        while finished < n:
            while multi.perform()[0] == pycurl.E_CALL_MULTI_PERFORM:
                pass
            while True:
                queued, ok, failed = multi.info_read()
                for handle in ok:
                    multi.remove_handle(handle)
                    total += len(buffers[handle].getvalue())
                    finished += 1
                    if started < n:
                        launch(handle)
                for _handle, code, message in failed:
                    raise RuntimeError(f"pycurl failed: {code} {message}")
                if not queued:
                    break
            if finished < n:
                multi.select(0.1)
        return total + streamed

    def close(self) -> None:
        for handle in self.handles:
            handle.close()
        self.multi.close()


class _Threaded(SyncContestant):
    """A pool of `concurrency` threads, each running its share of the requests."""

    def open(self) -> None:
        self.pool = ThreadPoolExecutor(self.job.concurrency)

    def run(self, n: int) -> int:
        concurrency = self.job.concurrency
        share, extra = divmod(n, concurrency)
        counts = [share + (1 if i < extra else 0) for i in range(concurrency)]
        return sum(self.pool.map(self.batch, [c for c in counts if c]))

    def batch(self, count: int) -> int:
        raise NotImplementedError

    def close(self) -> None:
        self.pool.shutdown()


class Urllib3Contestant(_Threaded):
    def open(self) -> None:
        import urllib3

        super().open()
        self.manager = urllib3.PoolManager(maxsize=self.job.concurrency, ca_certs=self.job.ca_file)

    def batch(self, count: int) -> int:
        job = self.job
        if job.read_to:
            total = 0
            for _ in range(count):
                response = self.manager.request("GET", job.url, preload_content=False)
                total += sum(len(chunk) for chunk in response.stream(65536))
                response.release_conn()
            return total
        body = job.payload if job.method == "POST" else None
        return sum(len(self.manager.request(job.method, job.url, body=body).data) for _ in range(count))


class RequestsContestant(_Threaded):
    def open(self) -> None:
        import threading

        import requests

        super().open()
        self._local = threading.local()
        self._requests = requests

    def batch(self, count: int) -> int:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = self._requests.Session()
        total = 0
        for _ in range(count):
            if self.job.method == "POST":
                total += len(session.post(self.job.url, data=self.job.payload, verify=self.job.ca_file).content)
            else:
                total += len(session.get(self.job.url, verify=self.job.ca_file).content)
        return total


# -- peers: other fast Python clients (installed into .venv-peers only) -------------------------------------
class CurlCffiContestant(AsyncContestant):
    """curl_cffi's AsyncSession (libcurl through cffi, on asyncio), without impersonation."""

    async def open(self) -> None:
        from curl_cffi.requests import AsyncSession

        job = self.job
        version = "v2tls" if job.http2 else "v1"
        self.session = AsyncSession(max_clients=max(job.concurrency, 10), verify=job.ca_file, http_version=version)

    async def one(self) -> int:
        job = self.job
        if job.method == "POST":
            return len((await self.session.post(job.url, data=job.payload)).content)
        if job.read_to:
            async with self.session.stream("GET", job.url) as response:
                return sum([len(chunk) async for chunk in response.aiter_content()])
        return len((await self.session.get(job.url)).content)

    async def close(self) -> None:
        await self.session.close()


class PyreqwestContestant(AsyncContestant):
    """pyreqwest's async Client (Rust's reqwest on its own tokio runtime)."""

    async def open(self) -> None:
        from pathlib import Path

        from pyreqwest.client import ClientBuilder

        job = self.job
        builder = ClientBuilder().add_root_certificate_pem(Path(job.ca_file).read_bytes())  # noqa: ASYNC240 - setup, untimed
        builder = builder.max_connections(max(job.concurrency, 10))
        builder = builder.http2(True) if job.http2 else builder.http1_only()
        self.client = builder.build()

    async def one(self) -> int:
        job, client = self.job, self.client
        if job.method == "POST":
            response = await client.post(job.url).body_bytes(job.payload).build().send()
            return len(await response.bytes())
        if job.read_to:
            total = 0
            async with client.get(job.url).build_streamed() as response:
                while (chunk := await response.body_reader.read_chunk()) is not None:
                    total += len(chunk)
            return total
        return len(await (await client.get(job.url).build().send()).bytes())

    async def close(self) -> None:
        await self.client.close()


class RnetContestant(AsyncContestant):
    """rnet's async Client (Rust, its own HTTP stack), without impersonation."""

    async def open(self) -> None:
        from pathlib import Path

        import rnet

        job = self.job
        protocol = {"http2_only": True} if job.http2 else {"http1_only": True}
        self.client = rnet.Client(verify=Path(job.ca_file), pool_max_size=max(job.concurrency, 10), **protocol)

    async def one(self) -> int:
        job, client = self.job, self.client
        if job.method == "POST":
            return len(await (await client.post(job.url, body=job.payload)).bytes())
        response = await client.get(job.url)
        if job.read_to:
            async with response.stream() as streamer:
                return sum([len(chunk) async for chunk in streamer])
        return len(await response.bytes())


class NiquestsContestant(AsyncContestant):
    """niquests' AsyncSession (urllib3-future underneath); HTTP/3 discovery off (loopback has none)."""

    async def open(self) -> None:
        import niquests

        job = self.job
        size = max(job.concurrency, 10)
        self.session = niquests.AsyncSession(
            pool_connections=size, pool_maxsize=size, disable_http3=True, disable_http2=not job.http2
        )

    async def one(self) -> int:
        job, session = self.job, self.session
        if job.method == "POST":
            return len((await session.post(job.url, data=job.payload, verify=job.ca_file)).content or b"")
        if job.read_to:
            response = await session.get(job.url, stream=True, verify=job.ca_file)
            return sum([len(chunk) async for chunk in await response.iter_content(65536)])
        return len((await session.get(job.url, verify=job.ca_file)).content or b"")

    async def close(self) -> None:
        await self.session.close()


class AiosonicContestant(AsyncContestant):
    """aiosonic's HTTPClient (pure asyncio)."""

    async def open(self) -> None:
        import aiosonic
        from aiosonic.pools import PoolConfig

        job = self.job
        # Only for https: aiosonic starts TLS on any URL it is given a context for.
        self.context = ssl.create_default_context(cafile=job.ca_file) if job.url.startswith("https:") else None
        pools = {":default": PoolConfig(size=max(job.concurrency, 10))}
        self.client = aiosonic.HTTPClient(aiosonic.TCPConnector(pool_configs=pools, http2=job.http2))

    async def one(self) -> int:
        job, client = self.job, self.client
        if job.method == "POST":
            response = await client.post(job.url, data=job.payload, ssl=self.context)
            return len(await response.content())
        if job.read_to:  # streaming is a keyword of `request` only
            response = await client.request(job.url, "GET", ssl=self.context, stream=True)
            return sum([len(chunk) async for chunk in response.read_chunks()])
        response = await client.get(job.url, ssl=self.context, http2=job.http2)
        return len(await response.content())

    async def close(self) -> None:
        await self.client.connector.cleanup()


#: The peers by contestant name (= the distribution's name in `peers.txt`).
PEERS: dict[str, type[AsyncContestant]] = {
    "curl_cffi": CurlCffiContestant,
    "pyreqwest": PyreqwestContestant,
    "rnet": RnetContestant,
    "niquests": NiquestsContestant,
    "aiosonic": AiosonicContestant,
}


# -- SSE parsing (no server: the same 100k-event stream, fed in 64 KiB chunks) -----------------------------
def sse_stream(events: int) -> list[bytes]:
    body = b"".join(
        b'id: %d\nevent: tick\ndata: {"n": %d, "payload": "abcdefghijklmnopqrstuvwxyz"}\n\n' % (i, i)
        for i in range(events)
    )
    return [body[i : i + 65536] for i in range(0, len(body), 65536)]


class TetherSSEParser(SyncContestant):
    def open(self) -> None:
        self.chunks = sse_stream(self.job.n)

    def run(self, n: int) -> int:
        from tether.plugins.sse import SSEParser

        parser = SSEParser()
        return sum(len(parser.feed(chunk)) for chunk in self.chunks[: max(1, len(self.chunks) * n // self.job.n)])


class HttpxSSEParser(SyncContestant):
    """httpx-sse's own pipeline: incremental UTF-8 decoding, its line decoder, its event decoder."""

    def open(self) -> None:
        self.chunks = sse_stream(self.job.n)

    def run(self, n: int) -> int:
        import codecs

        from httpx_sse._decoders import SSEDecoder, SSELineDecoder

        text = codecs.getincrementaldecoder("utf-8")("replace")
        lines, decoder = SSELineDecoder(), SSEDecoder()
        count = 0
        for chunk in self.chunks[: max(1, len(self.chunks) * n // self.job.n)]:
            for line in lines.decode(text.decode(chunk)):
                if decoder.decode(line) is not None:
                    count += 1
        return count


CONTESTANTS: dict[str, type[AsyncContestant] | type[SyncContestant]] = {
    "tether-sse-parser": TetherSSEParser,
    "httpx-sse-parser": HttpxSSEParser,
    "tether+curl": _tether("curl"),
    "tether+aiohttp": _tether("aiohttp"),
    "tether+httpx": _tether("httpx"),
    "tether+urllib3": _tether("urllib3"),
    **{f"tether+{engine}:memory-sink": _tether(engine, "memory") for engine in ("curl", "aiohttp", "httpx", "urllib3")},
    "aiohttp": AiohttpContestant,
    "aiohttp-primed": AiohttpPrimedContestant,
    "httpx": HttpxContestant,
    "pycurl-multi": PycurlMulti,
    "urllib3": Urllib3Contestant,
    "requests": RequestsContestant,
    "tether.sync+curl": TetherSync,
    **PEERS,
}
