"""One measurement in a fresh process: `python -m benchmarks.worker '<json>'` prints a JSON result.

A fresh process per measurement keeps peak RSS honest and stops one contestant's warm caches from
helping another.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time

from benchmarks.contestants import ASYNC_CONTESTANTS, SYNC_CONTESTANTS, Job, tether_read_to


def measure(spec: dict[str, object]) -> dict[str, object]:
    contestant = str(spec["contestant"])
    job = Job(
        url=str(spec["url"]),
        n=int(spec["n"]),  # type: ignore[call-overload]
        concurrency=int(spec["concurrency"]),  # type: ignore[call-overload]
        ca_file=str(spec["ca_file"]),
        method=str(spec.get("method", "GET")),
        http2=bool(spec.get("http2", False)),
    )
    wall0, cpu0 = time.perf_counter(), time.process_time()
    if spec.get("read_to"):
        engine = contestant.split("+", 1)[1]
        received = asyncio.run(tether_read_to(engine, job))
    elif contestant in ASYNC_CONTESTANTS:
        received = asyncio.run(ASYNC_CONTESTANTS[contestant](job))
    else:
        received = SYNC_CONTESTANTS[contestant](job)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"contestant": contestant, "wall": wall, "cpu": cpu, "requests": job.n, "bytes": received, "rss_mb": rss_mb}


if __name__ == "__main__":
    print(json.dumps(measure(json.loads(sys.argv[1]))))
