"""A WebRTC chat between two peers in one process: tether.webrtc over aiortc (experimental).

Run it with `.venv/bin/python examples/webrtc_chat.py`. Alice and Bob each have their own
`WebRtcClient`; the only thing they share is a signalling channel, which is the application's job in
WebRTC. Here it is two in-memory queues carrying JSON text, the same text a WebSocket or an HTTP
endpoint would carry. Alice trickles her ICE candidates; Bob sends his inside his answer.
"""

from __future__ import annotations

import asyncio
import json
import sys

from tether_aiortc import Aiortc

from tether.webrtc import (
    IceCandidate,
    Open,
    SessionDescription,
    WebRtcClient,
    WebRtcPeerConnection,
    without_candidates,
)

Signalling = asyncio.Queue[str]  # one JSON document per item


def keep_to_loopback() -> None:
    # Demo only: keep both peers on 127.0.0.1. aioice never offers loopback addresses (real peers
    # are on other machines), so the demo points it there. A real application leaves this out.
    import aioice.ice

    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]


async def apply_signals(peer: WebRtcPeerConnection, inbox: Signalling, outbox: Signalling | None) -> None:
    """Apply what the other side signals: its description (answering an offer) and its candidates."""
    while True:
        message = json.loads(await inbox.get())
        if message["kind"] == "description":
            description = SessionDescription.from_json(message["description"])
            await peer.set_remote_description(description)
            if description.type.value == "offer" and outbox is not None:
                await peer.set_local_description(await peer.create_answer())
                assert peer.local_description is not None
                # Bob does not trickle: his answer carries his candidates, so he is done signalling.
                await outbox.put(json.dumps({"kind": "description", "description": peer.local_description.to_json()}))
                await outbox.put(json.dumps({"kind": "end-of-candidates"}))
        elif message["kind"] == "candidate":
            await peer.add_ice_candidate(IceCandidate.from_json(message["candidate"]))
        elif message["kind"] == "end-of-candidates":
            await peer.add_ice_candidate(None)
            return


async def alice(to_bob: Signalling, from_bob: Signalling, lines: list[str]) -> None:
    async with WebRtcClient(Aiortc) as client:
        peer = await client.create_peer_connection()
        chat = await peer.create_data_channel("chat")
        await peer.set_local_description(await peer.create_offer())
        assert peer.local_description is not None
        # Trickle ICE: the offer goes first without candidates; they follow one message each.
        offer = SessionDescription("offer", without_candidates(peer.local_description.sdp))
        await to_bob.put(json.dumps({"kind": "description", "description": offer.to_json()}))
        async for candidate in peer.ice_candidates:
            await to_bob.put(json.dumps({"kind": "candidate", "candidate": candidate.to_json()}))
        await to_bob.put(json.dumps({"kind": "end-of-candidates"}))
        await apply_signals(peer, from_bob, None)

        await chat.wait_open()
        for line in lines:
            await chat.send(line)
            print(f"alice -> {line}")
            print(f"alice <- {await chat.receive_text()}")
        await chat.send(b"\x00\x01\x02 a binary goodbye")
        chat.close()
        await chat.wait_closed()
        print(f"alice: channel {chat.label!r} is {chat.state.value}")


async def bob(from_alice: Signalling, to_alice: Signalling) -> None:
    async with WebRtcClient(Aiortc) as client:
        peer = await client.create_peer_connection()
        signals = asyncio.ensure_future(apply_signals(peer, from_alice, to_alice))
        async for event in peer.data_channel_events:
            if isinstance(event, Open):
                chat = event.channel
                break
        await signals
        async for message in chat:  # ends when Alice closes the channel
            if isinstance(message.data, str):
                await chat.send(message.data.upper())
            else:
                print(f"bob   <- {len(message.data)} binary bytes")
        print(f"bob:   channel {chat.label!r} is {chat.state.value}")


async def main(lines: list[str]) -> None:
    keep_to_loopback()
    alice_to_bob: Signalling = asyncio.Queue()
    bob_to_alice: Signalling = asyncio.Queue()
    await asyncio.wait_for(
        asyncio.gather(alice(alice_to_bob, bob_to_alice, lines), bob(alice_to_bob, bob_to_alice)), 60
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:] or ["hello bob", "how is the weather on loopback?"]))
