"""`make soak`: nothing lost, nothing hung, nothing leaked, under load, on every engine (issue 15).

Per engine, on one client (loopback only; the server runs in a child process, so the figures are the
client's):

1. warm-up: 2,000 requests at concurrency 64, then the baseline sample;
2. load: 50,000 requests at concurrency 64, each body checked (it names its request);
3. cancellation storm: 5,000 requests to a slow endpoint, each cancelled after 0-40 ms;
4. fault mix: 2,000 requests cycling through a cut body, `Connection: close`, a refused port, a
   server that never answers (socket timeout) and a healthy request, each with its expected outcome;
5. load again: 10,000 checked requests, then the end sample; then close() and a last sample.

Sampled: RSS, open file descriptors, asyncio tasks, and the connections the server sees open from this
client (the pool). It fails on any wrong body or wrong outcome, on any request that takes longer than
`HANG` seconds, on growth (end sample vs baseline beyond the limits below), and on anything left open
after close(). Every loop is bounded in count; every await is bounded in time.

    python scripts/soak.py [--engine curl ...] [--requests 50000] [--json results.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import multiprocessing
import os
import random
import resource
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from tether import ConnectError, HttpClient, ProtocolError, SocketTimeoutException, TetherError
from tether.engine import HttpTimeoutConfig, discover_engines
from tether.plugins import HttpTimeout

CONCURRENCY = 64
#: A single request (or close()) taking longer than this is a hang.
HANG = 30.0
#: Growth limits between the baseline and the end sample (same concurrency).
RSS_GROWTH_LIMIT = 48 * 1024 * 1024
FD_GROWTH_LIMIT = 16
TASK_GROWTH_LIMIT = 4
#: After close(): at most this many more fds than before the client existed (allocator/loop noise).
FD_AFTER_CLOSE_LIMIT = 4


# -- the server (a child process) ---------------------------------------------------------------------
class _Conn(asyncio.Protocol):
    open = 0

    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        _Conn.open += 1

    def connection_lost(self, exc: Exception | None) -> None:
        _Conn.open -= 1

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        for _ in range(1000):  # pipelined heads, bounded
            if self.busy:
                return
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
            self.answer(head.split(b" ", 2)[1].decode("latin-1"))

    def answer(self, target: str) -> None:
        assert self.transport is not None
        path, _, query = target.partition("?")
        if path == "/ok":
            body = f"body-of-{query}".encode()
            self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        elif path == "/slow":
            self.busy = True
            asyncio.get_running_loop().call_later(0.02, self.late, query)
        elif path == "/close":
            self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            self.transport.close()
        elif path == "/cut":
            self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
            self.transport.close()
        elif path == "/silent":
            self.busy = True  # never answers; the client gives up (and closes), or 10 s pass
            asyncio.get_running_loop().call_later(10, self.transport.close)
        elif path == "/stats":
            body = str(_Conn.open - 1).encode()  # not counting the connection asking
            self.transport.write(
                b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
            )
            self.transport.close()
        else:
            self.transport.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")

    def late(self, query: str) -> None:
        self.busy = False
        if self.transport is not None and not self.transport.is_closing():
            body = f"body-of-{query}".encode()
            self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            self.data_received(b"")


def _serve(listener: socket.socket) -> None:
    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(_Conn, sock=listener, backlog=1024)
        async with server:
            await server.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


# -- the client side ------------------------------------------------------------------------------------
@dataclass
class Sample:
    phase: str
    requests: int
    seconds: float
    rss_mib: float
    fds: int
    tasks: int
    server_connections: int


@dataclass
class EngineResult:
    engine: str
    samples: list[Sample] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    rates: dict[str, float] = field(default_factory=dict)


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def _server_connections(port: int) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /stats HTTP/1.1\r\nHost: x\r\n\r\n")
        data = await asyncio.wait_for(reader.read(), HANG)
    finally:
        writer.close()
    return int(data.rsplit(b"\r\n\r\n", 1)[1])


async def _bounded(action: Awaitable[Any], what: str) -> Any:
    try:
        return await asyncio.wait_for(action, HANG)
    except TetherError:
        raise  # tether's timeout exceptions are TimeoutErrors too: not a hang
    except asyncio.TimeoutError:
        raise AssertionError(f"hang: {what} not done after {HANG:g} s") from None


async def _run_concurrently(count: int, one: Callable[[int], Awaitable[None]]) -> None:
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        while next_index < count:
            index = next_index
            next_index += 1
            await one(index)

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


async def soak_engine(name: str, port: int, requests: int) -> EngineResult:
    engines, _ = discover_engines()
    result = EngineResult(name)
    base = f"http://127.0.0.1:{port}"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        refused = probe.getsockname()[1]
    fds_before_client = _fds()
    started = time.monotonic()
    done = 0

    def fail(message: str) -> None:
        if len(result.failures) < 20:
            result.failures.append(message)
            print(f"  {name:8} FAILURE: {message}", flush=True)

    async def sample(phase: str, client: HttpClient | None) -> Sample:
        gc.collect()
        await asyncio.sleep(0.5)  # let closing connections finish on both sides
        taken = Sample(
            phase,
            done,
            round(time.monotonic() - started, 1),
            round(_rss() / 1024 / 1024, 1),
            _fds(),
            len(asyncio.all_tasks()),
            await _server_connections(port),
        )
        result.samples.append(taken)
        print(f"  {name:8} {phase:18} {taken}", flush=True)
        return taken

    async def checked(client: HttpClient, index: int) -> None:
        nonlocal done
        try:
            response = await _bounded(client.get(f"{base}/ok?{index}"), f"request {index}")
            body = await _bounded(response.body_as_text(), f"body {index}")
        except AssertionError as exc:
            fail(str(exc))
            return
        except Exception as exc:
            fail(f"request {index}: {type(exc).__name__}: {exc}")
            return
        done += 1
        if response.status != 200 or body != f"body-of-{index}":
            fail(f"request {index}: wrong answer {response.status} {body[:60]!r}")

    async def timed(phase: str, count: int, one: Callable[[int], Awaitable[None]]) -> None:
        begin = time.monotonic()
        await _run_concurrently(count, one)
        result.rates[phase] = round(count / (time.monotonic() - begin))

    randomness = random.Random(15)

    def configure(config: Any) -> None:
        config.install(HttpTimeout, socket_timeout=5)

    client = HttpClient(engines[name], configure)
    try:
        await timed("warm-up", 2_000, lambda index: checked(client, index))
        baseline = await sample("baseline", client)
        await timed("load", requests, lambda index: checked(client, index))
        await sample("after load", client)

        async def cancelled(index: int) -> None:
            nonlocal done
            try:
                response = await asyncio.wait_for(client.get(f"{base}/slow?{index}"), randomness.uniform(0, 0.04))
                body = await _bounded(response.body_as_text(), f"slow body {index}")
                if body != f"body-of-{index}":
                    fail(f"slow request {index}: wrong body {body[:60]!r}")
            except TetherError as exc:
                fail(f"slow request {index}: {type(exc).__name__}: {exc}")
            except asyncio.TimeoutError:
                pass  # cancelled, as planned
            except Exception as exc:
                fail(f"slow request {index}: {type(exc).__name__}: {exc}")
            done += 1

        await timed("cancellation storm", 5_000, cancelled)
        await sample("after storm", client)

        async def fault(index: int) -> None:
            nonlocal done
            kind = index % 5
            try:
                if kind == 0:
                    await _bounded(client.get(f"{base}/cut"), f"cut {index}")
                    fail(f"cut {index}: no error")
                elif kind == 1:
                    response = await _bounded(client.get(f"{base}/close"), f"close {index}")
                    if await response.body_as_text() != "ok":
                        fail(f"close {index}: wrong body")
                elif kind == 2:
                    await _bounded(client.get(f"http://127.0.0.1:{refused}/"), f"refused {index}")
                    fail(f"refused {index}: no error")
                elif kind == 3:
                    quick = HttpTimeoutConfig(socket_timeout=0.3)  # the server never answers: keep it short
                    await _bounded(client.get(f"{base}/silent", timeout=quick), f"silent {index}")
                    fail(f"silent {index}: no error")
                else:
                    await checked(client, index)  # counts itself
                    return
            except ProtocolError:
                if kind != 0:
                    fail(f"fault {index} (kind {kind}): unexpected ProtocolError")
            except ConnectError:
                if kind != 2:
                    fail(f"fault {index} (kind {kind}): unexpected ConnectError")
            except SocketTimeoutException:
                if kind != 3:
                    fail(f"fault {index} (kind {kind}): unexpected SocketTimeoutException")
            except AssertionError as exc:
                fail(str(exc))
            except Exception as exc:
                fail(f"fault {index} (kind {kind}): {type(exc).__name__}: {exc}")
            done += 1

        await timed("fault mix", 2_000, fault)
        await sample("after faults", client)
        await timed("load again", 10_000, lambda index: checked(client, index))
        end = await sample("end", client)
    finally:
        await _bounded(client.close(), "close()")
    closed = await sample("after close()", None)

    if end.rss_mib * 1024 * 1024 > baseline.rss_mib * 1024 * 1024 + RSS_GROWTH_LIMIT:
        fail(f"RSS grew {end.rss_mib - baseline.rss_mib:.1f} MiB")
    # The pool may be warmer at the end than at the baseline (Urllib3 reuses more at warm-up): fds held
    # by open pool connections are bounded by the pool check below; count the rest.
    other_fds = (baseline.fds - baseline.server_connections, end.fds - end.server_connections)
    if other_fds[1] > other_fds[0] + FD_GROWTH_LIMIT:
        fail(f"fds beside pool connections grew {other_fds[0]} -> {other_fds[1]} ({baseline.fds} -> {end.fds} in all)")
    if end.tasks > baseline.tasks + TASK_GROWTH_LIMIT:
        fail(f"tasks grew {baseline.tasks} -> {end.tasks}")
    if end.server_connections > max(baseline.server_connections, CONCURRENCY) + 16:
        fail(f"pool connections grew {baseline.server_connections} -> {end.server_connections}")
    if closed.server_connections:
        fail(f"{closed.server_connections} connection(s) open after close()")
    if closed.fds > fds_before_client + FD_AFTER_CLOSE_LIMIT:
        fail(f"{closed.fds - fds_before_client} fd(s) open after close()")
    return result


async def soak(names: list[str], port: int, requests: int) -> list[EngineResult]:
    results = []
    for name in names:
        print(f"{name}: {requests:,} requests at c{CONCURRENCY}, storm, faults", flush=True)
        try:
            results.append(await asyncio.wait_for(soak_engine(name, port, requests), 1800))
        except asyncio.TimeoutError:
            results.append(EngineResult(name, failures=["hang: the engine's soak took over 1800 s"]))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", action="append", help="engine name (repeatable); default: all")
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--json", help="write the samples and verdicts here")
    args = parser.parse_args(argv)
    engines, _ = discover_engines()
    names = args.engine or sorted(engines)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    port = listener.getsockname()[1]
    server = multiprocessing.get_context("fork").Process(target=_serve, args=(listener,), daemon=True)
    server.start()
    listener.close()
    try:
        results = asyncio.run(soak(names, port, args.requests))
    finally:
        server.terminate()
        server.join(10)
    failed = False
    for result in results:
        verdict = "FAIL" if result.failures else "ok"
        failed = failed or bool(result.failures)
        print(f"{result.engine}: {verdict}  requests/s {result.rates}")
        for message in result.failures:
            print(f"  - {message}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump([asdict(result) for result in results], out, indent=2)
    print("soak: " + ("FAIL" if failed else "ok"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
