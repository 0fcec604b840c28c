"""WebSocket workload: round-trip time and 1 KiB messages/s per tether engine, beside aiohttp's
`ws_connect` and the `websockets` client, against one echo server (the `websockets` server, in its own
process). Compression is off for every contestant (raw aiohttp does not offer it by default).

    python -m benchmarks.websocket            # the table; `make bench` runs it too
    python -m benchmarks.websocket --quick

- RTT: one 16-byte message sent, its echo awaited, repeated; the median.
- messages/s: a sender task sends N 1 KiB binary messages while the receiver counts the echoes; the
  client's CPU time per message is reported beside it (steadier than wall time on a shared machine).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

CONTESTANTS = [
    "tether+curl",
    "tether+aiohttp",
    "tether+httpx",
    "tether+urllib3",
    "aiohttp-ws_connect",
    "websockets",
]
ROOT = Path(__file__).parent.parent

Send = Callable[[bytes], Awaitable[None]]
Receive = Callable[[], Awaitable[bytes]]


async def _serve(port_file: str) -> None:
    from websockets.asyncio.server import serve

    async def echo(connection: Any) -> None:
        async for message in connection:
            await connection.send(message)

    async with serve(echo, "127.0.0.1", 0, compression=None, max_size=None, max_queue=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        await asyncio.to_thread(Path(port_file).write_text, str(port))
        await asyncio.Future()


async def _measure(send: Send, receive: Receive, rtts: int, messages: int) -> dict[str, float]:
    small = b"x" * 16
    for _ in range(50):  # warm-up
        await send(small)
        await receive()
    samples = []
    for _ in range(rtts):
        started = time.perf_counter()
        await send(small)
        await receive()
        samples.append(time.perf_counter() - started)
    payload = os.urandom(1024)
    started = time.perf_counter()
    cpu = time.process_time()

    async def sender() -> None:
        for _ in range(messages):
            await send(payload)

    task = asyncio.ensure_future(sender())
    for _ in range(messages):
        await receive()
    await task
    wall = time.perf_counter() - started
    cpu_us = (time.process_time() - cpu) / messages * 1e6  # steadier than wall time on a shared machine
    return {"rtt_us": statistics.median(samples) * 1e6, "messages_per_s": messages / wall, "cpu_us": cpu_us}


async def _contestant(name: str, url: str, rtts: int, messages: int) -> dict[str, float]:
    if name.startswith("tether+"):
        from tether import HttpClient
        from tether.engine import discover_engines
        from tether.websockets import WebSockets

        factory = discover_engines()[0][name.split("+", 1)[1]]
        configure = lambda c: c.install(WebSockets, compression=False)  # noqa: E731
        async with HttpClient(factory, configure) as client, client.websocket(url) as ws:
            return await _measure(ws.send_bytes, ws.receive_bytes, rtts, messages)
    if name == "aiohttp-ws_connect":
        import aiohttp

        async with aiohttp.ClientSession() as session, session.ws_connect(url, max_msg_size=0) as ws:

            async def receive() -> bytes:
                data: bytes = (await ws.receive()).data
                return data

            return await _measure(ws.send_bytes, receive, rtts, messages)
    if name == "websockets":
        from websockets.asyncio.client import connect

        async with connect(url, compression=None, max_size=None) as ws:

            async def receive_ws() -> bytes:
                data = await ws.recv()
                return data if isinstance(data, bytes) else data.encode()

            return await _measure(ws.send, receive_ws, rtts, messages)
    raise ValueError(f"unknown contestant {name}")


def run(quick: bool = False, rounds: int | None = None) -> dict[str, Any]:
    """Every contestant in a fresh process, alternating order over rounds; medians per contestant."""
    rounds = rounds or (2 if quick else 3)
    rtts, messages = (500, 5000) if quick else (2000, 20000)
    port_file = ROOT / "benchmarks" / "results" / ".ws-port"
    port_file.parent.mkdir(exist_ok=True)
    port_file.unlink(missing_ok=True)
    server = subprocess.Popen([sys.executable, "-m", "benchmarks.websocket", "--serve", str(port_file)], cwd=ROOT)
    try:
        for _ in range(200):
            if port_file.exists() and port_file.read_text():
                break
            time.sleep(0.05)
        url = f"ws://127.0.0.1:{port_file.read_text()}/"
        samples: dict[str, list[dict[str, float]]] = {name: [] for name in CONTESTANTS}
        for index in range(rounds):
            for name in CONTESTANTS if index % 2 == 0 else list(reversed(CONTESTANTS)):
                process = subprocess.run(
                    [sys.executable, "-m", "benchmarks.websocket", "--contestant", name, url, str(rtts), str(messages)],
                    capture_output=True,
                    text=True,
                    timeout=300,
                    cwd=ROOT,
                )
                if process.returncode != 0:
                    print(f"  ! websocket {name}: {process.stderr.strip()[-400:]}", file=sys.stderr)
                    continue
                samples[name].append(json.loads(process.stdout.strip().splitlines()[-1]))
    finally:
        server.kill()
        server.wait()
        port_file.unlink(missing_ok=True)
    results = {
        name: {
            "rtt_us": round(statistics.median(s["rtt_us"] for s in runs), 1),
            "messages_per_s": round(statistics.median(s["messages_per_s"] for s in runs), 1),
            "cpu_us_per_message": round(statistics.median(s["cpu_us"] for s in runs), 1),
        }
        for name, runs in samples.items()
        if runs
    }
    raw = results.get("aiohttp-ws_connect")
    targets = []
    for name in CONTESTANTS[:4]:
        mine = results.get(name)
        if mine is None or raw is None:
            continue
        throughput = round(mine["messages_per_s"] / raw["messages_per_s"], 3)
        rtt = round(mine["rtt_us"] / raw["rtt_us"], 3)
        targets.append({"target": f"{name} / aiohttp ws_connect, 1 KiB messages/s", "ratio": throughput, "goal": 0.8})
        targets.append({"target": f"{name} / aiohttp ws_connect, RTT (lower is better)", "ratio": rtt, "goal": 2.0})
        cpu = round(mine["cpu_us_per_message"] / raw["cpu_us_per_message"], 3)
        targets.append({"target": f"{name} / aiohttp ws_connect, client CPU per message", "ratio": cpu})
    return {"results": results, "targets": targets}


def render(document: dict[str, Any]) -> str:
    lines = ["\nwebsocket-echo (1 KiB messages/s; RTT of a 16-byte message)"]
    lines.append(f"  {'contestant':<20} {'messages/s':>11} {'RTT µs':>9} {'CPU µs/msg':>11}")
    for name in CONTESTANTS:
        result = document["results"].get(name)
        if result is None:
            lines.append(f"  {name:<20} {'failed':>11}")
        else:
            lines.append(
                f"  {name:<20} {result['messages_per_s']:>11,.0f} {result['rtt_us']:>9,.0f} "
                f"{result['cpu_us_per_message']:>11,.1f}"
            )
    for target in document["targets"]:
        if "goal" not in target:
            lines.append(f"  {target['target']:<60} {target['ratio']:>7}  (information, no goal)")
            continue
        rtt = "RTT" in target["target"]
        met = target["ratio"] <= target["goal"] if rtt else target["ratio"] >= target["goal"]
        sign = "<=" if rtt else ">="
        lines.append(
            f"  {target['target']:<60} {target['ratio']:>7}  goal {sign} {target['goal']}  {'met' if met else 'MISSED'}"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--serve", metavar="PORT_FILE")
    parser.add_argument("--contestant", nargs=4, metavar=("NAME", "URL", "RTTS", "MESSAGES"))
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.serve))
        return 0
    if args.contestant:
        name, url, rtts, messages = args.contestant
        print(json.dumps(asyncio.run(_contestant(name, url, int(rtts), int(messages)))))
        return 0
    print(render(run(args.quick)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
