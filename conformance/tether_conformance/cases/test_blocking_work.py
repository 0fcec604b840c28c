"""Blocking work stays off the event loop: `read_to` into a slow or failing blocking sink, a large
download to a file, plain progress listeners, file objects given in `files=` and host names resolved
in Python, all on the engine's configured executor."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tether import FormPart, HttpClientConfig, MultiPartFormDataContent
from tether.plugins import BodyProgress
from tether_conformance.registry import CaseContext, case
from tether_conformance.servers.app import pattern_bytes

KIB = 1024
MIB = 1024 * KIB
#: The prefix of the threads of the executor these cases configure.
WORKERS = "conformance-blocking"
#: How long the heartbeat may wait at most. It wakes every 5 ms; a write on the loop would hold it
#: 50 ms per call. Generous on purpose: the machine may be busy, and timing is not the point.
HEARTBEAT_BOUND = 0.1


def with_executor(executor: ThreadPoolExecutor, *more: Any) -> Any:
    def configure(config: HttpClientConfig[Any]) -> None:
        config.engine.executor = executor
        for step in more:
            step(config)

    return configure


class SlowSink:
    """A blocking sink: every write sleeps 50 ms and notes the thread it ran on."""

    def __init__(self, fail_on_call: int | None = None) -> None:
        self.parts: list[bytes] = []
        self.threads: set[str] = set()
        self.fail_on_call = fail_on_call

    def write(self, data: bytes) -> None:
        self.threads.add(threading.current_thread().name)
        if self.fail_on_call is not None and len(self.parts) + 1 >= self.fail_on_call:
            raise OSError("disk full")
        time.sleep(0.05)
        self.parts.append(bytes(data))


async def heartbeat(stop: asyncio.Event) -> float:
    """The longest wait between two wake-ups of a task that sleeps 5 ms at a time, until `stop` --
    less the time the garbage collector ran within that wait: a collection holds every thread and is
    not work anyone put on the loop (a full one in a long test process can take 100 ms and more)."""
    collecting = [0.0, 0.0]  # seconds spent collecting so far, when the running collection started

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collecting[1] = time.perf_counter()
        else:
            collecting[0] += time.perf_counter() - collecting[1]

    gc.callbacks.append(on_gc)
    try:
        worst, last, collected = 0.0, time.perf_counter(), 0.0
        while not stop.is_set():
            await asyncio.sleep(0.005)
            now, in_collector = time.perf_counter(), collecting[0]
            worst = max(worst, now - last - (in_collector - collected))
            last, collected = now, in_collector
    finally:
        gc.callbacks.remove(on_gc)
    return worst


@case("blocking-work", "slow-sink-runs-on-the-executor-and-the-loop-stays-free")
async def slow_sink(t: CaseContext) -> None:
    size = 2 * MIB
    sink = SlowSink()
    stop = asyncio.Event()
    with ThreadPoolExecutor(4, thread_name_prefix=WORKERS) as executor:
        async with t.client(with_executor(executor)) as client:
            beating = asyncio.create_task(heartbeat(stop))
            try:
                url = t.env.http(f"/chunked?size={size}&chunk={64 * KIB}&delay=0.005")
                async with client.prepare_get(url).execute() as response:
                    written = await response.body_as_channel().read_to(sink)
            finally:
                stop.set()
                worst = await beating
    t.equal(written, size, "bytes written")
    t.check(b"".join(sink.parts) == pattern_bytes(size), "the sink got every byte, in order")
    t.check(
        all(name.startswith(WORKERS) for name in sink.threads),
        f"every write ran on the configured executor, not on {sorted(sink.threads)}",
    )
    t.check(worst < HEARTBEAT_BOUND, f"the loop stayed free: the heartbeat waited {worst * 1000:.0f} ms at most")


@case("blocking-work", "failing-write-closes-the-response")
async def failing_write(t: CaseContext) -> None:
    sink = SlowSink(fail_on_call=2)
    with ThreadPoolExecutor(2, thread_name_prefix=WORKERS) as executor:
        async with t.client(with_executor(executor)) as client:
            url = t.env.http(f"/chunked?size={MIB}&chunk={64 * KIB}&delay=0.002")
            async with client.prepare_get(url).execute() as response:
                channel = response.body_as_channel()
                await t.raises(OSError, channel.read_to(sink))
                t.check(channel.is_closed_for_read, "the channel is closed after the failed write")
            # The connection was released: the client goes on working.
            again = await client.get(t.env.http("/bytes?size=1000"))
    t.equal(len(await again.body_as_bytes()), 1000)


@case("blocking-work", "download-to-a-file-is-byte-exact")
async def file_download(t: CaseContext) -> None:
    size = 32 * MIB
    with tempfile.TemporaryDirectory() as folder, ThreadPoolExecutor(2, thread_name_prefix=WORKERS) as executor:
        path = Path(folder) / "download.bin"
        client = t.client(with_executor(executor))
        async with client, client.prepare_get(t.env.http(f"/bytes?size={size}")).execute() as response:
            expected = response.headers["X-Sha256"]
            with path.open("wb") as file:
                written = await response.body_as_channel().read_to(file)
        digest = hashlib.sha256()
        with path.open("rb") as file:
            while block := file.read(MIB):
                digest.update(block)
        t.equal((written, path.stat().st_size), (size, size), "bytes written and on disk")
        t.equal(digest.hexdigest(), expected, "sha256 of the file")


@case("blocking-work", "plain-progress-listener-runs-on-the-executor")
async def progress_listener(t: CaseContext) -> None:
    size = 300_000
    reports: list[tuple[int, int | None]] = []
    threads: set[str] = set()

    def listener(done: int, total: int | None) -> None:
        threads.add(threading.current_thread().name)
        time.sleep(0.01)
        reports.append((done, total))

    def install(config: HttpClientConfig[Any]) -> None:
        config.install(BodyProgress)

    with ThreadPoolExecutor(2, thread_name_prefix=WORKERS) as executor:
        async with t.client(with_executor(executor, install)) as client:
            response = await client.get(t.env.http(f"/bytes?size={size}"), on_download=listener)
    t.equal(len(await response.body_as_bytes()), size)
    t.equal(reports[-1], (size, size), "the last report")
    t.check(reports == sorted(reports), "reports arrive in order")
    t.check(all(name.startswith(WORKERS) for name in threads), f"listener threads: {sorted(threads)}")


class SlowFile:
    """A file object for `files=` whose `read` takes 300 ms (a slow disk, a network share) and notes
    the threads it ran on and how often it was read."""

    name = "/uploads/data.bin"

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.threads: list[str] = []

    def read(self, size: int = -1) -> bytes:
        self.threads.append(threading.current_thread().name)
        time.sleep(0.3)
        data, self.data = self.data, b""
        return data


@case("blocking-work", "files-are-read-on-the-executor-and-re-sent-without-reading-again")
async def files_upload(t: CaseContext) -> None:
    payload = pattern_bytes(200_000)
    upload = SlowFile(payload)
    stop = asyncio.Event()
    with ThreadPoolExecutor(2, thread_name_prefix=WORKERS) as executor:
        async with t.client(with_executor(executor)) as client:
            beating = asyncio.create_task(heartbeat(stop))
            try:
                # A 307 re-sends the body: the bytes read once, not the file read again (at its end).
                url = t.env.http("/redirect?status=307&to=/echo/body")
                response = await client.post(url, files={"upload": upload})
            finally:
                stop.set()
                worst = await beating
            echoed = await response.body_as_bytes()
    boundary = response.headers["Content-Type"].partition("boundary=")[2]
    expected = MultiPartFormDataContent([FormPart("upload", payload, "data.bin")], boundary).data
    t.equal(response.status, 200, "status after the redirect")
    t.check(echoed == expected, f"the re-sent body is the whole form ({len(echoed)} of {len(expected)} bytes)")
    t.equal(len(upload.threads), 1, "times the file was read")
    t.check(upload.threads[0].startswith(WORKERS), f"the file was read on {upload.threads}, not on the executor")
    t.check(worst < HEARTBEAT_BOUND, f"the loop stayed free: the heartbeat waited {worst * 1000:.0f} ms at most")


@contextmanager
def slow_getaddrinfo(host: str, calls: list[str]) -> Iterator[None]:
    """`socket.getaddrinfo` for `host` takes 300 ms (a slow DNS server) and notes the thread of each
    call; other names resolve as usual. Engines that resolve in C (libcurl) never call it."""
    real = socket.getaddrinfo

    def resolve(name: Any, *args: Any, **kwargs: Any) -> Any:
        if name in (host, host.encode()):  # anyio passes the name IDNA-encoded, as bytes
            calls.append(threading.current_thread().name)
            time.sleep(0.3)
        return real(name, *args, **kwargs)

    socket.getaddrinfo = resolve  # type: ignore[assignment]
    try:
        yield
    finally:
        socket.getaddrinfo = real


@case("blocking-work", "names-are-resolved-on-the-executor-or-outside-python")
async def name_resolution(t: CaseContext) -> None:
    calls: list[str] = []
    stop = asyncio.Event()
    with ThreadPoolExecutor(2, thread_name_prefix=WORKERS) as executor, slow_getaddrinfo("localhost", calls):
        async with t.client(with_executor(executor)) as client:
            beating = asyncio.create_task(heartbeat(stop))
            try:
                response = await client.get(t.env.https("/bytes?size=1000"))  # https://localhost:...
            finally:
                stop.set()
                worst = await beating
            t.equal(len(await response.body_as_bytes()), 1000)
    elsewhere = [name for name in calls if not name.startswith(WORKERS)]
    t.check(not elsewhere, f"getaddrinfo ran on {elsewhere}: not the configured executor")
    t.check(worst < HEARTBEAT_BOUND, f"the loop stayed free: the heartbeat waited {worst * 1000:.0f} ms at most")


@case("blocking-work", "a-body-read-to-a-file-after-the-client-closed")
async def after_close(t: CaseContext) -> None:
    # The body is already in memory; the engine's thread pool went with the client. The write must
    # still happen (it raised RuntimeError 'cannot schedule new futures after shutdown').
    async with t.client() as client:
        response = await client.get(t.env.http("/bytes?size=5000"))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "body"
        with path.open("wb") as sink:
            t.equal(await response.body_as_channel().read_to(sink), 5000, "bytes written")
        t.equal(path.read_bytes(), await response.body_as_bytes(), "the file holds the body")
