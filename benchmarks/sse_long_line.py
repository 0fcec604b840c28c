"""How the SSE parser's time grows with the length of one line: `python -m benchmarks.sse_long_line`.

One `data:` line of 1, 2, 4 and 8 MiB, fed in 16 KiB chunks (as a network delivers it), then ended.
A linear parser doubles its time per doubling; a parser that re-joins the open line on every chunk
quadruples it (issue 15: 1.34 s at 8 MiB). Prints the best of `--rounds` runs per size.
"""

from __future__ import annotations

import argparse
import time

from tether.plugins.sse import SSEParser

CHUNK = 16 * 1024


def feed_one_line(size: int) -> float:
    return feed(b"data: " + b"x" * size + b"\n\n", size)


def feed_one_event_of_short_lines(size: int) -> float:
    """The same data as 1 KiB `data:` lines of one event (their "\n" joins count towards the size)."""
    line = b"data: " + b"x" * 1023 + b"\n"
    return feed(line * (size // 1024) + b"\n", size - 1)


def feed(body: bytes, size: int) -> float:
    chunks = [body[i : i + CHUNK] for i in range(0, len(body), CHUNK)]
    parser = SSEParser(max_event_size=size + 1024)
    started = time.perf_counter()
    events = [event for chunk in chunks for event in parser.feed(chunk)]
    elapsed = time.perf_counter() - started
    if len(events) != 1 or len(events[0].data or "") != size:
        raise AssertionError("the long line did not come out as one event")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for what, run in (("one line", feed_one_line), ("one event of 1 KiB lines", feed_one_event_of_short_lines)):
        previous = None
        for mib in (1, 2, 4, 8):
            best = min(run(mib * 1024 * 1024) for _ in range(args.rounds))
            growth = f"  x{best / previous:.1f}" if previous else ""
            print(f"{what}, {mib} MiB in 16 KiB chunks: {best * 1000:8.1f} ms{growth}")
            previous = best


if __name__ == "__main__":
    main()
