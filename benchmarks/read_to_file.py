"""`read_to` into a file vs into memory, 100 MiB, per engine: `python -m benchmarks.read_to_file`.

The setup of `make bench`'s `download-100m-read-to` (nginx on loopback, a `tempfile.TemporaryFile()`
written on the engine's executor, an async counting sink on the loop as the ceiling), measured in one
process per engine with interleaved rounds (memory, file, file, memory, ...) so that both sinks see
the same machine load. Prints MiB/s (median), CPU seconds per download and the file/memory ratio;
`--trace` adds where the time of a download goes (the loop thread's CPU, page faults, batches, time
and CPU in writes on the worker); `--writelines` writes each batch the way tether did before `os.writev`.
Run it under `flock /tmp/tether-bench.lock` on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from typing import Any

from benchmarks.server import NginxServer

ENGINES = ("curl", "aiohttp", "httpx", "urllib3")
SIZE = 100 * 1024 * 1024


class CountingSink:
    """Keeps nothing; `write` is a coroutine, so `read_to` calls it on the loop (the ceiling)."""

    def __init__(self) -> None:
        self.size = 0

    async def write(self, data: bytes) -> None:
        self.size += len(data)


def factory(engine: str) -> Any:
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


class Trace:
    """Counts what the blocking branch of `read_to` does (installed only with --trace)."""

    def __init__(self) -> None:
        self.batches = 0
        self.chunks = 0
        self.write_s = 0.0
        self.write_cpu = 0.0

    def install(self) -> None:
        import tether.blocking as blocking

        original = blocking.write_batch

        def traced(sink: Any, chunks: list[bytes], flush: bool = False) -> None:
            started, cpu = time.perf_counter(), time.thread_time()
            try:
                original(sink, chunks, flush)
            finally:
                self.write_s += time.perf_counter() - started
                self.write_cpu += time.thread_time() - cpu
                self.batches += 1
                self.chunks += len(chunks)

        blocking.write_batch = traced
        module = sys.modules.get("tether.channel")
        if module is not None and hasattr(module, "write_batch"):
            module.write_batch = traced  # type: ignore[attr-defined]

    def take(self) -> dict[str, float]:
        out = {"batches": self.batches, "chunks": self.chunks, "write_s": self.write_s, "write_cpu": self.write_cpu}
        self.batches = self.chunks = 0
        self.write_s = self.write_cpu = 0.0
        return out


LAST: dict[str, float] = {}


async def one(client: Any, url: str, sink: str) -> tuple[float, float]:
    import resource

    faults0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    wall0, cpu0, loop0 = time.perf_counter(), time.process_time(), time.thread_time()
    async with client.prepare_get(url).execute() as response:
        channel = response.body_as_channel()
        if sink == "memory":
            written = await channel.read_to(CountingSink())
        else:
            with tempfile.TemporaryFile() as file:
                written = await channel.read_to(file)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    LAST["loop_cpu"] = time.thread_time() - loop0
    LAST["faults"] = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults0
    assert written == SIZE, written
    return wall, cpu


async def measure(engine: str, url: str, rounds: int, sinks: list[str], trace: Trace | None) -> dict[str, Any]:
    from tether import HttpClient

    results: dict[str, list[tuple[float, float]]] = {sink: [] for sink in sinks}
    traces: list[dict[str, float]] = []
    async with HttpClient(factory(engine)) as client:
        for sink in sinks:  # warm up: connection, imports, the executor's threads
            await one(client, url, sink)
        if trace:
            trace.take()
        for index in range(rounds):
            order = sinks if index % 2 == 0 else list(reversed(sinks))
            for sink in order:
                results[sink].append(await one(client, url, sink))
                if trace and sink == "file":
                    traces.append({**trace.take(), **LAST, "wall": results[sink][-1][0]})
                elif trace:
                    traces.append({"memory": 1, **LAST, "wall": results[sink][-1][0]})
    return {"results": results, "traces": traces}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--engine", action="append", default=[], choices=ENGINES)
    parser.add_argument("--trace", action="store_true", help="count batches and time in writes")
    parser.add_argument("--writelines", action="store_true", help="write each batch with writelines (before os.writev)")
    args = parser.parse_args(argv)
    if args.writelines:
        import tether.blocking as blocking

        def writelines(sink: Any, chunks: list[bytes], flush: bool = False) -> None:
            sink.writelines(chunks)
            if flush:
                sink.flush()

        blocking.write_batch = writelines
        import tether.channel as channel_module

        channel_module.write_batch = writelines  # type: ignore[attr-defined]
    trace = Trace() if args.trace else None
    if trace:
        import tether.channel  # noqa: F401  (so that its imported name is patched too)

        trace.install()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    ratios = {}
    with NginxServer() as server:
        url = server.url("/100m")
        for engine in args.engine or ENGINES:
            measured = asyncio.run(measure(engine, url, args.rounds, ["memory", "file"], trace))
            row = []
            speeds = {}
            for sink, samples in measured["results"].items():
                speeds[sink] = statistics.median(SIZE / wall / 2**20 for wall, _ in samples)
                cpu = statistics.median(cpu for _, cpu in samples)
                row.append(f"{sink} {speeds[sink]:7.1f} MiB/s cpu {cpu:5.3f} s")
            ratios[engine] = speeds["file"] / speeds["memory"]
            print(f"{engine:<8} " + "   ".join(row) + f"   file/memory {ratios[engine]:.3f}")
            for sample in measured["traces"]:
                if "memory" in sample:
                    wall, loop_cpu = sample["wall"] * 1000, sample["loop_cpu"] * 1000
                    faults = sample["faults"]
                    print(f"         memory: wall {wall:.0f} ms, loop CPU {loop_cpu:.0f} ms, {faults:.0f} page faults")
                    continue
                print(
                    f"         file: wall {sample['wall'] * 1000:.0f} ms, loop CPU {sample['loop_cpu'] * 1000:.0f} ms,"
                    f" {sample['faults']:.0f} page faults, {sample['batches']:.0f} batches,"
                    f" {sample['chunks'] / max(sample['batches'], 1):.1f} chunks/batch,"
                    f" {sample['write_s'] * 1000:.0f} ms in writes ({sample['write_cpu'] * 1000:.0f} ms CPU)"
                )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0 if all(r >= 0.9 for r in ratios.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
