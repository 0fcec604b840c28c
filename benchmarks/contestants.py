"""The contestants: each performs `n` requests at `concurrency` and returns the body bytes received.

tether on each engine, and the raw libraries under it (same scenario, written the way their own
documentation recommends), plus requests. Every function is measured in a fresh worker process.
"""

from __future__ import annotations

import asyncio
import io
import ssl
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

PAYLOAD = b"x" * 1024


@dataclass(frozen=True)
class Job:
    url: str
    n: int
    concurrency: int
    ca_file: str
    method: str = "GET"
    http2: bool = False


AsyncRunner = Callable[[Job], Awaitable[int]]
SyncRunner = Callable[[Job], int]


async def _fan_out(job: Job, one: Callable[[], Awaitable[int]]) -> int:
    remaining = job.n
    total = 0

    async def worker() -> None:
        nonlocal remaining, total
        while remaining > 0:
            remaining -= 1
            total += await one()

    await asyncio.gather(*(worker() for _ in range(job.concurrency)))
    return total


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


def tether_runner(engine: str) -> AsyncRunner:
    async def run(job: Job) -> int:
        from tether import HttpClient
        from tether.engine import Http2Capability

        def configure(config: Any) -> None:
            config.engine.ca_bundle = job.ca_file
            config.engine.max_connections = max(job.concurrency, 10)
            if engine == "urllib3":
                config.engine.threads_count = min(job.concurrency, 32)
            if job.http2:
                config.default_request(lambda d: d.set_capability(Http2Capability, None))

        async with HttpClient(_tether_factory(engine), configure) as client:
            if job.method == "POST":

                async def one() -> int:
                    return len(await (await client.post(job.url, content=PAYLOAD)).body_as_bytes())
            else:

                async def one() -> int:
                    return len(await (await client.get(job.url)).body_as_bytes())

            return await _fan_out(job, one)

    return run


async def tether_read_to(engine: str, job: Job) -> int:
    """The 100 MiB download: streamed into a file with `read_to`, never held in memory."""
    import tempfile

    from tether import HttpClient

    def configure(config: Any) -> None:
        config.engine.ca_bundle = job.ca_file

    total = 0
    async with HttpClient(_tether_factory(engine), configure) as client:
        for _ in range(job.n):
            with tempfile.TemporaryFile() as sink:
                async with client.prepare_get(job.url).execute() as response:
                    total += await response.body_as_channel().read_to(sink)
    return total


def tether_sync_runner(job: Job) -> int:
    from tether.sync import HttpClient
    from tether_curl import Curl

    with HttpClient(Curl, lambda c: setattr(c.engine, "ca_bundle", job.ca_file)) as client:
        return sum(len(client.get(job.url).body_as_bytes()) for _ in range(job.n))


# -- raw libraries ---------------------------------------------------------------------------------------
async def aiohttp_runner(job: Job) -> int:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=max(job.concurrency, 10), ssl=ssl.create_default_context(cafile=job.ca_file))
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:

        async def one() -> int:
            if job.method == "POST":
                async with session.post(job.url, data=PAYLOAD) as response:
                    return len(await response.read())
            async with session.get(job.url) as response:
                return len(await response.read())

        return await _fan_out(job, one)


async def httpx_runner(job: Job) -> int:
    import httpx

    limits = httpx.Limits(max_connections=max(job.concurrency, 10))
    verify = ssl.create_default_context(cafile=job.ca_file)
    async with httpx.AsyncClient(limits=limits, verify=verify, http2=job.http2, timeout=None) as client:

        async def one() -> int:
            if job.method == "POST":
                return len((await client.post(job.url, content=PAYLOAD)).content)
            return len((await client.get(job.url)).content)

        return await _fan_out(job, one)


def pycurl_multi_runner(job: Job) -> int:
    """A plain CurlMulti loop (perform + select), the fastest way pycurl's docs show."""
    import pycurl

    multi = pycurl.CurlMulti()
    handles = []
    free: list[Any] = []
    for _ in range(job.concurrency):
        handle = pycurl.Curl()
        handle.setopt(pycurl.URL, job.url)
        handle.setopt(pycurl.CAINFO, job.ca_file)
        handle.setopt(pycurl.NOSIGNAL, 1)
        handle.setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_2TLS if job.http2 else pycurl.CURL_HTTP_VERSION_1_1)
        if job.http2:
            handle.setopt(pycurl.PIPEWAIT, 1)
        if job.method == "POST":
            handle.setopt(pycurl.POSTFIELDS, PAYLOAD)
        handles.append(handle)
        free.append(handle)
    if job.http2:
        multi.setopt(pycurl.M_PIPELINING, pycurl.PIPE_MULTIPLEX)
    total = 0
    started = 0
    finished = 0
    buffers: dict[Any, io.BytesIO] = {}

    def launch(handle: Any) -> None:
        nonlocal started
        buffer = io.BytesIO()
        buffers[handle] = buffer
        handle.setopt(pycurl.WRITEFUNCTION, buffer.write)
        multi.add_handle(handle)
        started += 1

    while free and started < job.n:
        launch(free.pop())
    while finished < job.n:
        while multi.perform()[0] == pycurl.E_CALL_MULTI_PERFORM:
            pass
        while True:
            queued, ok, failed = multi.info_read()
            for handle in ok:
                multi.remove_handle(handle)
                total += len(buffers[handle].getvalue())
                finished += 1
                if started < job.n:
                    launch(handle)
            for handle, code, message in failed:
                raise RuntimeError(f"pycurl failed: {code} {message}")
            if not queued:
                break
        if finished < job.n:
            multi.select(0.1)
    for handle in handles:
        handle.close()
    multi.close()
    return total


def urllib3_runner(job: Job) -> int:
    import urllib3

    pool = urllib3.PoolManager(maxsize=job.concurrency, ca_certs=job.ca_file)

    def batch(count: int) -> int:
        total = 0
        for _ in range(count):
            body = PAYLOAD if job.method == "POST" else None
            total += len(pool.request(job.method, job.url, body=body).data)
        return total

    return _threads(job, batch)


def requests_runner(job: Job) -> int:
    import requests

    def batch(count: int) -> int:
        total = 0
        with requests.Session() as session:
            for _ in range(count):
                if job.method == "POST":
                    total += len(session.post(job.url, data=PAYLOAD, verify=job.ca_file).content)
                else:
                    total += len(session.get(job.url, verify=job.ca_file).content)
        return total

    return _threads(job, batch)


def _threads(job: Job, batch: Callable[[int], int]) -> int:
    if job.concurrency == 1:
        return batch(job.n)
    share, extra = divmod(job.n, job.concurrency)
    counts = [share + (1 if i < extra else 0) for i in range(job.concurrency)]
    with ThreadPoolExecutor(job.concurrency) as pool:
        return sum(pool.map(batch, counts))


ASYNC_CONTESTANTS: dict[str, AsyncRunner] = {
    "tether+curl": tether_runner("curl"),
    "tether+aiohttp": tether_runner("aiohttp"),
    "tether+httpx": tether_runner("httpx"),
    "tether+urllib3": tether_runner("urllib3"),
    "aiohttp": aiohttp_runner,
    "httpx": httpx_runner,
}
SYNC_CONTESTANTS: dict[str, SyncRunner] = {
    "pycurl-multi": pycurl_multi_runner,
    "urllib3": urllib3_runner,
    "requests": requests_runner,
    "tether.sync+curl": tether_sync_runner,
}
