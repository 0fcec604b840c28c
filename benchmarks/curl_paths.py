"""tether+Curl against raw pycurl on the workloads of issue 19, each in a fresh process, in rounds.

    python -m benchmarks.curl_paths [--rounds 5] [--only download,chunked,post,get] [--contestant NAME]
                                    [--baseline DIR]

- `download`: a 100 MiB static file (nginx), read with `read_to` into an in-memory sink whose `write`
  is a coroutine (`tether+curl`), iterated with `async for` (`tether+curl:iter`), and by a raw
  CurlMulti loop whose write callback counts bytes (`pycurl`).
- `chunked`: the same 100 MiB with `Transfer-Encoding: chunked` in 16 KiB chunks, from a small server
  of this script's own (nginx sends static files with a Content-Length): tether decodes the framing
  itself (`ChunkedDecoder`); raw pycurl lets libcurl decode it.
- `post`: 1 MiB POST at c16 to nginx (`return 200`); raw pycurl hands the body over with POSTFIELDS.
- `get`: 1 KiB GET at c64; raw pycurl is the harness's CurlMulti contestant. CPU µs per request is
  the figure (the issue's driver target: tether+Curl <= 1.6x raw pycurl).

`--baseline DIR` adds `tether+curl@base` (and `@base:iter`): the same client with the `tether_curl` package
found in DIR first on the path (e.g. an older version's `engines/`), to show a change's before and after.

Prints medians of the rounds (MiB/s or req/s, and client CPU) and the ratios tether+Curl / pycurl.
A measuring aid for the Curl engine's own paths; `make bench` (benchmarks/run.py) is the harness.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

MIB = 1024 * 1024
DOWNLOAD = 100 * MIB
UPLOAD = b"u" * MIB
CHUNK = 16 * 1024


# -- workers (one measurement per process) -------------------------------------------------------------
class _CountingSink:
    def __init__(self) -> None:
        self.size = 0

    async def write(self, data: bytes) -> None:
        self.size += len(data)


async def _tether(spec: dict[str, Any]) -> tuple[float, float, int, int]:
    from tether_curl import Curl

    from benchmarks.contestants import fan_out
    from tether import HttpClient

    url, n, concurrency, kind = spec["url"], spec["n"], spec["concurrency"], spec["kind"]
    mode = spec.get("mode", "")

    def configure(config: Any) -> None:
        config.engine.max_connections = max(concurrency, 10)

    async with HttpClient(Curl, configure) as client:

        async def one() -> int:
            if kind in ("download", "chunked"):
                async with client.prepare_get(url).execute() as response:
                    channel = response.body_as_channel()
                    if mode == "iter":
                        size = 0
                        async for chunk in channel:
                            size += len(chunk)
                        return size
                    return await channel.read_to(_CountingSink())
            if kind == "post":
                return len(await (await client.post(url, content=UPLOAD)).body_as_bytes())
            return len(await (await client.get(url)).body_as_bytes())

        warmup = 1 if kind in ("download", "chunked") else min(n // 10 + concurrency, 500)
        await fan_out(warmup, concurrency, one)
        wall0, cpu0 = time.perf_counter(), time.process_time()
        done, received = await fan_out(n, concurrency, one)
        return time.perf_counter() - wall0, time.process_time() - cpu0, done, received


def _pycurl(spec: dict[str, Any]) -> tuple[float, float, int, int]:
    import pycurl

    url, n, concurrency, kind = spec["url"], spec["n"], spec["concurrency"], spec["kind"]
    multi = pycurl.CurlMulti()
    handles = []
    for _ in range(concurrency):
        handle = pycurl.Curl()
        handle.setopt(pycurl.URL, url)
        handle.setopt(pycurl.NOSIGNAL, 1)
        handle.setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1)
        if kind == "post":
            handle.setopt(pycurl.POSTFIELDS, UPLOAD)
        handles.append(handle)
    total = 0

    def count(data: bytes) -> None:
        nonlocal total
        total += len(data)

    def run(count_n: int) -> int:
        nonlocal total
        total = 0
        free = list(handles)
        started = finished = 0

        def launch(handle: Any) -> None:
            nonlocal started
            handle.setopt(pycurl.WRITEFUNCTION, count)
            multi.add_handle(handle)
            started += 1

        while free and started < count_n:
            launch(free.pop())
        while finished < count_n:
            while multi.perform()[0] == pycurl.E_CALL_MULTI_PERFORM:
                pass
            while True:
                queued, ok, failed = multi.info_read()
                for handle in ok:
                    multi.remove_handle(handle)
                    finished += 1
                    if started < count_n:
                        launch(handle)
                for _handle, code, message in failed:
                    raise RuntimeError(f"pycurl failed: {code} {message}")
                if not queued:
                    break
            if finished < count_n:
                multi.select(0.1)
        return total

    run(1 if kind in ("download", "chunked") else min(n // 10 + concurrency, 500))
    wall0, cpu0 = time.perf_counter(), time.process_time()
    received = run(n)
    return time.perf_counter() - wall0, time.process_time() - cpu0, n, received


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    if spec["contestant"] == "pycurl":
        wall, cpu, done, received = _pycurl(spec)
    else:
        wall, cpu, done, received = asyncio.run(_tether(spec))
    return {"wall": wall, "cpu": cpu, "requests": done, "bytes": received}


# -- a chunked-body server (nginx sends static files with a Content-Length) ---------------------------
def _chunked_body(total: int, chunk: int) -> bytes:
    piece = b"%x\r\n" % chunk + b"c" * chunk + b"\r\n"
    count, rest = divmod(total, chunk)
    tail = (b"%x\r\n" % rest + b"c" * rest + b"\r\n") if rest else b""
    return piece * count + tail + b"0\r\n\r\n"


def _serve_chunked(listener: socket.socket, response: bytes) -> None:
    def handle(conn: socket.socket) -> None:
        with conn:
            pending = b""
            while True:
                while b"\r\n\r\n" not in pending:
                    data = conn.recv(65536)
                    if not data:
                        return
                    pending += data
                pending = pending[pending.index(b"\r\n\r\n") + 4 :]
                conn.sendall(response)

    while True:
        conn, _ = listener.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


class ChunkedServer:
    """A process serving `GET *` with a 100 MiB chunked body, keep-alive."""

    def __enter__(self) -> str:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        port = listener.getsockname()[1]
        listener.close()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.curl_paths", "--serve-chunked", str(port)],
            cwd=Path(__file__).parent.parent,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return f"http://127.0.0.1:{port}/chunked"
            except OSError:
                time.sleep(0.1)
        raise SystemExit("the chunked server did not start")

    def __exit__(self, *exc: object) -> None:
        self.process.kill()
        self.process.wait()


def serve_chunked(port: int) -> None:
    body = _chunked_body(DOWNLOAD, CHUNK)
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(64)
    _serve_chunked(listener, head + body)


# -- the runner -------------------------------------------------------------------------------------------
WORKLOADS = {
    # name: (path, n, concurrency, contestants)
    "download": ("/100m", 3, 1, ["pycurl", "tether+curl", "tether+curl:iter"]),
    "chunked": ("", 3, 1, ["pycurl", "tether+curl", "tether+curl:iter"]),
    "post": ("/post", 1500, 16, ["pycurl", "tether+curl"]),
    "get": ("/1k", 20000, 64, ["pycurl", "tether+curl"]),
}


def _run(spec: dict[str, Any], baseline: str | None = None) -> dict[str, Any]:
    env = dict(os.environ)
    if baseline is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [baseline, env.get("PYTHONPATH")]))
    process = subprocess.run(
        [sys.executable, "-m", "benchmarks.curl_paths", "--worker", json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=Path(__file__).parent.parent,
        env=env,
    )
    if process.returncode != 0:
        raise RuntimeError(f"{spec['contestant']} failed: {process.stderr.strip()[-800:]}")
    result: dict[str, Any] = json.loads(process.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", default="download,chunked,post,get")
    parser.add_argument("--contestant", action="append", default=[], help="only these contestants")
    parser.add_argument("--baseline", help="a directory holding another tether_curl package to compare with")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--serve-chunked", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    if args.serve_chunked:
        serve_chunked(args.serve_chunked)
        return 0
    from benchmarks.server import NginxServer

    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    with NginxServer() as nginx, ChunkedServer() as chunked_url:
        for name in args.only.split(","):
            path, n, concurrency, contestants = WORKLOADS[name]
            if args.baseline:
                contestants = [*contestants, *(c.replace("curl", "curl@base") for c in contestants if "tether" in c)]
            if args.contestant:
                contestants = [c for c in contestants if c in args.contestant]
            url = chunked_url if name == "chunked" else nginx.url(path)
            rounds: dict[str, list[dict[str, Any]]] = {c: [] for c in contestants}
            for index in range(args.rounds):
                for contestant in contestants if index % 2 == 0 else reversed(contestants):
                    base, _, mode = contestant.partition(":")
                    base, at, _ = base.partition("@")
                    spec = {"contestant": base, "mode": mode, "url": url, "n": n, "concurrency": concurrency}
                    rounds[contestant].append(_run({**spec, "kind": name}, args.baseline if at else None))
            print(f"\n{name} (n={n}, c{concurrency}, {args.rounds} rounds)")
            medians: dict[str, tuple[float, float]] = {}
            for contestant, results in rounds.items():
                for r in results:
                    expected = DOWNLOAD if name in ("download", "chunked") else (2 if name == "post" else 1024)
                    if r["bytes"] != expected * r["requests"]:
                        raise SystemExit(f"{contestant}: {r['bytes']} bytes for {r['requests']} requests")
                if name in ("download", "chunked"):
                    speed = statistics.median(r["bytes"] / r["wall"] / MIB for r in results)
                    cpu = statistics.median(r["cpu"] / r["requests"] * 1e3 for r in results)
                    print(f"  {contestant:<18} {speed:>9,.0f} MiB/s {cpu:>9.1f} CPU ms/download")
                else:
                    speed = statistics.median(r["requests"] / r["wall"] for r in results)
                    cpu = statistics.median(r["cpu"] / r["requests"] * 1e6 for r in results)
                    print(f"  {contestant:<18} {speed:>9,.0f} req/s {cpu:>9.1f} CPU µs/req")
                medians[contestant] = (speed, cpu)
            if "pycurl" in medians:
                raw_speed, raw_cpu = medians["pycurl"]
                for contestant, (speed, cpu) in medians.items():
                    if contestant != "pycurl":
                        print(f"  {contestant} / pycurl: speed {speed / raw_speed:.2f}x, CPU {cpu / raw_cpu:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
