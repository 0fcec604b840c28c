"""Helpers for the WebRTC tests: negotiation between two tether peers, bounded waits, event lookups."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from tether.webrtc import Open, WebRtcDataChannel, WebRtcPeerConnection, without_candidates

T = TypeVar("T")

#: Generous: two cores shared by many processes. No assertion depends on it; it only bounds a hang.
STEP_TIMEOUT = 30.0


async def within(awaitable: Awaitable[T], seconds: float = STEP_TIMEOUT) -> T:
    return await asyncio.wait_for(awaitable, seconds)


async def negotiate(offerer: WebRtcPeerConnection, answerer: WebRtcPeerConnection, *, trickle: bool = False) -> None:
    """Offer/answer between two tether peers. With `trickle`, descriptions travel without candidates
    and the candidates follow through `ice_candidates` and `add_ice_candidate` (then end-of-candidates)."""

    async def trickle_candidates(source: WebRtcPeerConnection, target: WebRtcPeerConnection) -> None:
        async for candidate in source.ice_candidates:
            await target.add_ice_candidate(candidate)
        await target.add_ice_candidate(None)

    await offerer.set_local_description(await offerer.create_offer())
    offer = offerer.local_description
    assert offer is not None
    await answerer.set_remote_description(type(offer)(offer.type, without_candidates(offer.sdp)) if trickle else offer)
    await answerer.set_local_description(await answerer.create_answer())
    answer = answerer.local_description
    assert answer is not None
    await offerer.set_remote_description(
        type(answer)(answer.type, without_candidates(answer.sdp)) if trickle else answer
    )
    if trickle:
        await within(trickle_candidates(offerer, answerer))
        await within(trickle_candidates(answerer, offerer))


async def next_open(peer: WebRtcPeerConnection, label: str) -> WebRtcDataChannel:
    """The channel of the first `Open` event with `label` on `peer` (replayed events included)."""

    async def find() -> WebRtcDataChannel:
        async for event in peer.data_channel_events:
            if isinstance(event, Open) and event.channel.label == label:
                return event.channel
        raise AssertionError(f"{peer} closed before channel {label!r} opened")

    return await within(find())
