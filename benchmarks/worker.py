"""One measurement in a fresh process: `python -m benchmarks.worker '<json>'` prints a JSON result.

A fresh process per measurement keeps peak RSS honest and stops one contestant's warm caches from
helping another. Setup (imports, client, connections) and a warm-up run are not timed.

Peak RSS is this process's own high-water mark (VmHWM), not `ru_maxrss`: Linux carries the parent's
peak into `ru_maxrss` across fork and exec, so every worker reported at least the runner's size.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from typing import Any

from benchmarks.contestants import CONTESTANTS, AsyncContestant, Job, SyncContestant, fan_out


def _timed(run: Any) -> tuple[float, float, int]:
    wall0, cpu0 = time.perf_counter(), time.process_time()
    received = run()
    return time.perf_counter() - wall0, time.process_time() - cpu0, received


def peak_rss_mib() -> float:
    """This process's peak resident set size, MiB: VmHWM, which starts afresh with the process's own
    address space at exec (where the kernel has no /proc, `ru_maxrss`, which may include the parent's)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    job = Job(
        url=spec["url"],
        n=int(spec["n"]),
        concurrency=int(spec["concurrency"]),
        ca_file=spec["ca_file"],
        method=spec.get("method", "GET"),
        http2=bool(spec.get("http2", False)),
        read_to=bool(spec.get("read_to", False)),
        payload_size=int(spec.get("payload_size", 1024)),
    )
    warmup = 0 if job.read_to else min(job.n // 10 + job.concurrency, 500)
    kind = CONTESTANTS[spec["contestant"]]
    budget = float(spec.get("budget", 0)) or None
    if issubclass(kind, AsyncContestant):
        contestant = kind(job)

        async def main() -> tuple[float, float, int, int]:
            await contestant.open()
            try:
                await fan_out(warmup, job.concurrency, contestant.one, budget)
                wall0, cpu0 = time.perf_counter(), time.process_time()
                done, received = await fan_out(job.n, job.concurrency, contestant.one, budget)
                return time.perf_counter() - wall0, time.process_time() - cpu0, done, received
            finally:
                await contestant.close()

        wall, cpu, requests, received = asyncio.run(main())
    else:
        assert issubclass(kind, SyncContestant)
        sync = kind(job)
        sync.open()
        try:
            if warmup:
                sync.run(warmup)
            wall, cpu, received = _timed(lambda: sync.run(job.n))
            requests = job.n
        finally:
            sync.close()
    rss_mb = peak_rss_mib()
    return {
        "contestant": spec["contestant"],
        "wall": wall,
        "cpu": cpu,
        "requests": requests,
        "bytes": received,
        "rss_mb": rss_mb,
    }


if __name__ == "__main__":
    print(json.dumps(measure(json.loads(sys.argv[1]))))
