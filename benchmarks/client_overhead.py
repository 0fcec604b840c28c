"""The client's own cost per call, with an engine that answers at once (no I/O at all).

    python -m benchmarks.client_overhead [--n 50000] [--rounds 5] [--subscribe]

What is left once the network is gone is the facade, the plugin pipeline and the response model:
the figure to watch when a change adds work to every call (events, hooks). `--subscribe` adds one
handler per client event, to show what subscribing costs; without it nothing listens, which must
cost (close to) nothing. Prints CPU microseconds per request (steadier than wall time on a shared
machine), the median of the rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

from tether import HttpClient
from tether.channel import ByteReadChannel
from tether.engine.base import HttpClientEngineBase
from tether.engine.config import HttpClientEngineConfig
from tether.http import Headers, HttpProtocolVersion, HttpStatusCode
from tether.request import HttpRequestData
from tether.response import HttpResponseData

BODY = b"x" * 1024
_OK = HttpStatusCode(200)
_HEADERS = Headers({"Content-Type": "application/octet-stream", "Content-Length": "1024"})


class InstantEngine(HttpClientEngineBase[HttpClientEngineConfig]):
    """Answers every request with the same 1 KiB body, without awaiting anything."""

    name = "instant"

    async def _execute(self, request: HttpRequestData) -> HttpResponseData:
        return HttpResponseData(_OK, _HEADERS, HttpProtocolVersion.HTTP_1_1, ByteReadChannel.from_bytes(BODY))


def _subscribe_all(client: HttpClient) -> None:
    from tether import events

    def ignore(event: object) -> None:
        return None

    for kind in (
        events.HttpRequestCreated,
        events.HttpRequestIsReadyForSending,
        events.HttpResponseReceived,
        events.HttpResponseReceiveFailed,
        events.HttpResponseCancelled,
    ):
        client.monitor.subscribe(kind, ignore)


async def one_round(n: int, subscribe: bool) -> float:
    """CPU microseconds per `client.get` over `n` calls (after a warm-up of n // 10)."""
    async with HttpClient(InstantEngine(HttpClientEngineConfig())) as client:
        if subscribe:
            _subscribe_all(client)
        url = "http://instant.test/1k"
        for _ in range(n // 10):
            await client.get(url)
        started = time.process_time()
        for _ in range(n):
            await client.get(url)
        return (time.process_time() - started) / n * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--subscribe", action="store_true", help="one no-op handler per client event")
    args = parser.parse_args(argv)
    figures: list[Any] = [asyncio.run(one_round(args.n, args.subscribe)) for _ in range(args.rounds)]
    each = ", ".join(f"{figure:.2f}" for figure in figures)
    print(f"{statistics.median(figures):.2f} CPU us/request (median of {args.rounds}: {each})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
