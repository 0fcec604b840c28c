"""WebRTC data channel benchmark: tether.webrtc over aiortc against raw aiortc, in the same run.

Two peers in one process on loopback (aioice is made to gather 127.0.0.1, as in the tests). Measured:
- setup: two peer connections, a channel, offer/answer, until the channel is open on both sides
  (median of 5 per process);
- messages/s: N x 1 KiB, ordered and reliable, from the first send to the last message received.
Both contestants use backpressure the same way (wait on `bufferedamountlow` above 1 MiB queued);
raw aiortc receives in its `message` callback, tether through `await channel.receive()`.
Each measurement runs in a fresh process; contestants alternate over the rounds; medians are shown.
The target (issue 17) is tether >= 0.9x raw aiortc. Results: `benchmarks/results/webrtc.json`.

    python -m benchmarks.webrtc [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
CONTESTANTS = ["tether+aiortc", "aiortc"]
HIGH_WATER = 1024 * 1024
PAYLOAD = bytes(range(256)) * 4  # 1 KiB


def _loopback() -> None:
    import aioice.ice

    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]


SETUPS = 5  # connections set up (and closed) per process; the median is the setup time


async def _tether(count: int) -> dict[str, float]:
    from tether_aiortc import Aiortc

    from tether.webrtc import Open, WebRtcClient, WebRtcDataChannel, WebRtcPeerConnection

    async def connect(client: WebRtcClient[Any]) -> tuple[list[WebRtcPeerConnection], WebRtcDataChannel, Any]:
        a = await client.create_peer_connection()
        b = await client.create_peer_connection()
        sender = await a.create_data_channel("bench")
        await a.set_local_description(await a.create_offer())
        assert a.local_description is not None
        await b.set_remote_description(a.local_description)
        await b.set_local_description(await b.create_answer())
        assert b.local_description is not None
        await a.set_remote_description(b.local_description)
        receiver = None
        async for event in b.data_channel_events:
            if isinstance(event, Open):
                receiver = event.channel
                break
        assert receiver is not None
        await sender.wait_open()
        return [a, b], sender, receiver

    async with WebRtcClient(Aiortc) as client:
        setups = []
        for _ in range(SETUPS):
            started = time.perf_counter()
            peers, sender, receiver = await connect(client)
            setups.append(time.perf_counter() - started)
            if len(setups) < SETUPS:
                for peer in peers:
                    await peer.close()

        async def send_all() -> None:
            for _ in range(count):
                await sender.send(PAYLOAD)

        async def receive_all() -> int:
            received = 0
            for _ in range(count):
                received += len(await receiver.receive_binary())
            return received

        started = time.perf_counter()
        _, received = await asyncio.gather(send_all(), receive_all())
        elapsed = time.perf_counter() - started
        assert received == count * len(PAYLOAD)
        return {"setup_s": statistics.median(setups), "messages_per_s": count / elapsed}


async def _aiortc(count: int) -> dict[str, float]:
    from aiortc import RTCDataChannel, RTCPeerConnection

    async def connect() -> tuple[list[RTCPeerConnection], RTCDataChannel, dict[str, Any]]:
        a, b = RTCPeerConnection(), RTCPeerConnection()
        loop = asyncio.get_running_loop()
        opened: asyncio.Future[RTCDataChannel] = loop.create_future()
        inbox: dict[str, Any] = {"messages": 0, "bytes": 0, "done": loop.create_future()}

        @b.on("datachannel")
        def on_datachannel(channel: RTCDataChannel) -> None:
            @channel.on("message")
            def on_message(message: bytes) -> None:
                inbox["messages"] += 1
                inbox["bytes"] += len(message)
                if inbox["messages"] == count:
                    inbox["done"].set_result(inbox["bytes"])

            opened.set_result(channel)

        sender = a.createDataChannel("bench")
        sender_open = asyncio.Event()
        sender.on("open", sender_open.set)
        await a.setLocalDescription(await a.createOffer())
        await b.setRemoteDescription(a.localDescription)
        await b.setLocalDescription(await b.createAnswer())
        await a.setRemoteDescription(b.localDescription)
        await opened
        await sender_open.wait()
        return [a, b], sender, inbox

    setups = []
    for _ in range(SETUPS):
        started = time.perf_counter()
        peers, sender, inbox = await connect()
        setups.append(time.perf_counter() - started)
        if len(setups) < SETUPS:
            for peer in peers:
                await peer.close()
    try:
        drained = asyncio.Event()
        sender.bufferedAmountLowThreshold = HIGH_WATER // 4
        sender.on("bufferedamountlow", drained.set)
        started = time.perf_counter()
        for _ in range(count):
            if sender.bufferedAmount > HIGH_WATER:
                while sender.bufferedAmount > sender.bufferedAmountLowThreshold:
                    drained.clear()
                    await drained.wait()
            sender.send(PAYLOAD)
        total = await inbox["done"]
        elapsed = time.perf_counter() - started
        assert total == count * len(PAYLOAD)
        return {"setup_s": statistics.median(setups), "messages_per_s": count / elapsed}
    finally:
        for peer in peers:
            await peer.close()


def _worker(contestant: str, count: int) -> None:
    _loopback()
    run = _tether if contestant == "tether+aiortc" else _aiortc
    result = asyncio.run(asyncio.wait_for(run(count), 300))
    print(json.dumps(result))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5,000 messages, 2 rounds")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--worker", nargs=2, metavar=("CONTESTANT", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args.worker[0], int(args.worker[1]))
        return 0
    count = 5_000 if args.quick else 20_000
    rounds = args.rounds or (2 if args.quick else 5)
    measured: dict[str, list[dict[str, float]]] = {c: [] for c in CONTESTANTS}
    started = time.monotonic()
    for round_index in range(rounds):
        order = CONTESTANTS if round_index % 2 == 0 else list(reversed(CONTESTANTS))
        for contestant in order:
            output = subprocess.run(
                [sys.executable, "-m", "benchmarks.webrtc", "--worker", contestant, str(count)],
                capture_output=True,
                text=True,
                timeout=330,
                check=True,
            )
            measured[contestant].append(json.loads(output.stdout.strip().splitlines()[-1]))
    medians = {
        c: {key: statistics.median(r[key] for r in rounds_) for key in ("setup_s", "messages_per_s")}
        for c, rounds_ in measured.items()
    }
    tether, raw = medians["tether+aiortc"], medians["aiortc"]
    throughput_ratio = tether["messages_per_s"] / raw["messages_per_s"]
    setup_ratio = raw["setup_s"] / tether["setup_s"]  # > 1 means tether sets up faster
    print(f"WebRTC data channel, {count} x 1 KiB ordered reliable, {rounds} rounds (medians)")
    print(f"{'contestant':<16}{'setup ms':>10}{'msgs/s':>12}")
    for c in CONTESTANTS:
        print(f"{c:<16}{medians[c]['setup_s'] * 1000:>10.1f}{medians[c]['messages_per_s']:>12.0f}")
    print(f"tether/aiortc messages/s: {throughput_ratio:.3f} (target >= 0.9)")
    print(f"tether/aiortc setup speed: {setup_ratio:.3f} (target >= 0.9)")
    document: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "messages": count,
        "rounds": rounds,
        "seconds": round(time.monotonic() - started, 1),
        "rounds_measured": measured,
        "medians": medians,
        "targets": [
            {
                "target": "messages/s tether+aiortc / aiortc",
                "ratio": throughput_ratio,
                "goal": 0.9,
                "met": throughput_ratio >= 0.9,
            },
            {
                "target": "setup speed tether+aiortc / aiortc",
                "ratio": setup_ratio,
                "goal": 0.9,
                "met": setup_ratio >= 0.9,
            },
        ],
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "webrtc.json").write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {RESULTS / 'webrtc.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
