"""Interop with a WebRTC stack that is not aiortc: libdatachannel, through node-datachannel.

`tests/webrtc_peer/peer.mjs` runs as a subprocess; signalling is JSON lines over its stdin/stdout. Both
sides bind ICE to 127.0.0.1. The npm package (with its prebuilt binary) is installed by `make`'s
install step from the committed lock file; nothing is fetched while the tests run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aioice.ice
import pytest
from rtc_helpers import next_open, within
from tether_aiortc import AiortcConfig

from tether.webrtc import (
    Closed,
    Closing,
    ConnectionState,
    Error,
    IceCandidate,
    SessionDescription,
    WebRtcClient,
    WebRtcDataChannel,
    WebRtcIOException,
    WebRtcPeerConnection,
    without_candidates,
)

PEER_DIR = Path(__file__).resolve().parent.parent / "webrtc_peer"
BINARY_COUNT, TEXT_COUNT = 2000, 10
_PATTERN = bytes(range(256)) * 18  # long enough for any slice below (4096 + 255 bytes)


def binary_message(i: int) -> bytes:
    """Message i: the formula peer.mjs uses (length 1..4096, bytes counting up from i*31)."""
    length = 1 + (i * 7919) % 4096
    start = (i * 31) & 0xFF
    return _PATTERN[start : start + length]


def text_message(i: int) -> str:
    return f"text {i} \u00e9\u20ac\U0001f600 " + "x" * (i % 50)


class NodePeer:
    """The libdatachannel peer process, wired to one tether peer connection."""

    def __init__(self, process: asyncio.subprocess.Process, peer: WebRtcPeerConnection) -> None:
        self.process = process
        self.peer = peer
        self.reports: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._reader = asyncio.ensure_future(self._read())

    def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(message) + "\n").encode())

    async def _read(self) -> None:
        # libdatachannel hands descriptions and candidates to JavaScript through separate queues, so a
        # candidate can come out before its description: such candidates wait, as in any signalling code.
        early: list[IceCandidate | None] = []
        assert self.process.stdout is not None
        try:
            async for line in self.process.stdout:
                message = json.loads(line)
                if message["type"] == "description":
                    await self._apply_description(SessionDescription.from_json(message["description"]))
                    for candidate in early:
                        await self.peer.add_ice_candidate(candidate)
                    early.clear()
                elif message["type"] in ("candidate", "end-of-candidates"):
                    candidate = IceCandidate.from_json(message["candidate"]) if message["type"] == "candidate" else None
                    if self.peer.remote_description is None:
                        early.append(candidate)
                    else:
                        await self.peer.add_ice_candidate(candidate)
                else:
                    await self.reports.put(message)
        except Exception as exc:  # surfaces in report(), instead of a silent hang
            await self.reports.put({"type": "signalling-error", "error": repr(exc)})

    async def _apply_description(self, description: SessionDescription) -> None:
        await self.peer.set_remote_description(description)
        if description.type.value == "offer":
            await self.peer.set_local_description(await self.peer.create_answer())
            assert self.peer.local_description is not None
            self.send({"type": "description", "description": self.peer.local_description.to_json()})

    async def report(self, kind: str) -> dict[str, Any]:
        async def wait() -> dict[str, Any]:
            while True:
                message = await self.reports.get()
                if message["type"] == kind:
                    return message
                if message["type"] in ("timeout", "signalling-error"):
                    raise AssertionError(f"interop failed: {message}")

        return await within(wait(), 90)

    async def stop(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        await within(self.process.wait())
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader


@contextlib.asynccontextmanager
async def node_peer(peer: WebRtcPeerConnection, role: str, binary: int, text: int) -> AsyncIterator[NodePeer]:
    node = shutil.which("node")
    assert node is not None, "Node.js is required (see the Makefile's install step)"
    assert (PEER_DIR / "node_modules" / "node-datachannel").is_dir(), "run `make` to install the interop peer"
    process = await asyncio.create_subprocess_exec(
        node,
        str(PEER_DIR / "peer.mjs"),
        f"--role={role}",
        f"--binary={binary}",
        f"--text={text}",
        "--timeout=100",
        cwd=PEER_DIR,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    wired = NodePeer(process, peer)
    try:
        yield wired
    finally:
        await wired.stop()


async def exchange(channel: WebRtcDataChannel) -> tuple[int, int, int]:
    """Send our messages while receiving the node peer's; returns (binary, text, mismatches) received."""
    text_every = max(1, BINARY_COUNT // TEXT_COUNT)

    async def send_all() -> None:
        texts = 0
        for i in range(BINARY_COUNT):
            await channel.send(binary_message(i))
            if i % text_every == 0 and texts < TEXT_COUNT:
                await channel.send(text_message(texts))
                texts += 1

    async def receive_all() -> tuple[int, int, int]:
        binary = text = mismatches = 0
        while binary < BINARY_COUNT or text < TEXT_COUNT:
            message = await channel.receive()
            if isinstance(message.data, str):
                mismatches += message.data != text_message(text)
                text += 1
            else:
                mismatches += message.data != binary_message(binary)
                binary += 1
        return binary, text, mismatches

    _, received = await within(asyncio.gather(send_all(), receive_all()), 90)
    return received


async def test_tether_offers_and_libdatachannel_answers(client: WebRtcClient[AiortcConfig]) -> None:
    peer = await client.create_peer_connection()
    channel = await peer.create_data_channel("interop")
    async with node_peer(peer, "answer", BINARY_COUNT, TEXT_COUNT) as node:
        await peer.set_local_description(await peer.create_offer())
        assert peer.local_description is not None
        # Trickled: the offer goes without candidates, which follow one by one.
        offer = SessionDescription("offer", without_candidates(peer.local_description.sdp))
        node.send({"type": "description", "description": offer.to_json()})
        async for candidate in peer.ice_candidates:
            node.send({"type": "candidate", "candidate": candidate.to_json()})
        await within(channel.wait_open())

        assert await exchange(channel) == (BINARY_COUNT, TEXT_COUNT, 0)
        report = await node.report("received")
        assert (report["binary"], report["text"], report["mismatches"]) == (BINARY_COUNT, TEXT_COUNT, 0)

        channel.close()  # tether closes; libdatachannel sees the stream reset and reports it
        assert (await node.report("closed"))["type"] == "closed"
        await within(channel.wait_closed())
        assert await within(node.process.wait()) == 0


async def test_libdatachannel_offers_and_tether_answers(client: WebRtcClient[AiortcConfig]) -> None:
    peer = await client.create_peer_connection()
    async with node_peer(peer, "offer", BINARY_COUNT, TEXT_COUNT) as node:
        channel = await next_open(peer, "interop")  # the offer and its trickled candidates arrive by themselves

        assert await exchange(channel) == (BINARY_COUNT, TEXT_COUNT, 0)
        report = await node.report("received")
        assert (report["binary"], report["text"], report["mismatches"]) == (BINARY_COUNT, TEXT_COUNT, 0)

        events = aiter(peer.data_channel_events)
        node.send({"type": "close"})  # the remote side closes this time
        await within(channel.wait_closed())
        names = []
        async for event in events:
            if event.channel is channel and isinstance(event, (Closing, Closed)):
                names.append(type(event).__name__)
                if names[-1] == "Closed":
                    break
        assert names == ["Closing", "Closed"]
        assert await within(node.process.wait()) == 0


async def test_a_vanished_remote_peer_fails_the_connection_and_pending_receives(
    client: WebRtcClient[AiortcConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    # RFC 7675 consent checks every 5 s, 6 misses: 30 s. A tenth of that keeps the test short.
    monkeypatch.setattr(aioice.ice, "CONSENT_INTERVAL", 0.2)
    peer = await client.create_peer_connection()
    channel = await peer.create_data_channel("interop")
    async with node_peer(peer, "answer", 0, 0) as node:
        await peer.set_local_description(await peer.create_offer())
        assert peer.local_description is not None
        node.send({"type": "description", "description": peer.local_description.to_json()})
        await within(channel.wait_open())
        events = aiter(peer.data_channel_events)
        states = aiter(peer.state)
        pending = asyncio.ensure_future(channel.receive())

        node.process.send_signal(signal.SIGKILL)  # no DTLS close, no SCTP abort: the peer just vanishes

        with pytest.raises(WebRtcIOException, match="failed"):
            await within(pending, 60)
        error = None
        async for event in events:
            if isinstance(event, Error) and event.channel is channel:
                error = event
                break
        assert error is not None and "failed" in error.reason
        seen = [state async for state in states]  # ends once the connection is closed
        assert seen[-2:] == [ConnectionState.FAILED, ConnectionState.CLOSED]
