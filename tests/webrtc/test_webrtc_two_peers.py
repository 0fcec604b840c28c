"""Two tether peers in one process over real aiortc data channels on loopback."""

from __future__ import annotations

import asyncio
import hashlib
import json

import pytest
from rtc_helpers import negotiate, next_open, within
from tether_aiortc import AiortcConfig

from tether.webrtc import (
    Binary,
    BufferedAmountLow,
    Closed,
    Closing,
    ConnectionState,
    DataChannelClosedException,
    DataChannelState,
    IceCandidate,
    IceGatheringState,
    SessionDescription,
    SignalingState,
    Text,
    UnexpectedMessageTypeException,
    WebRtcClient,
)

Client = WebRtcClient[AiortcConfig]


@pytest.mark.parametrize("trickle", [False, True], ids=["candidates-in-sdp", "trickled-candidates"])
async def test_offer_answer_connects_and_carries_messages_both_ways(client: Client, trickle: bool) -> None:
    offerer = await client.create_peer_connection()
    answerer = await client.create_peer_connection()
    channel = await offerer.create_data_channel("chat")

    await negotiate(offerer, answerer, trickle=trickle)
    remote = await next_open(answerer, "chat")
    await within(channel.wait_open())

    await channel.send("hello")
    await remote.send(b"\x00\x01binary")
    assert await within(remote.receive()) == Text("hello")
    assert await within(channel.receive()) == Binary(b"\x00\x01binary")
    assert offerer.state.value is ConnectionState.CONNECTED
    assert answerer.signaling_state.value is SignalingState.STABLE
    assert offerer.ice_gathering_state.value is IceGatheringState.COMPLETE


async def test_descriptions_and_candidates_survive_a_json_round_trip(client: Client) -> None:
    offerer = await client.create_peer_connection()
    answerer = await client.create_peer_connection()
    await offerer.create_data_channel("json")

    def over_the_wire(description: SessionDescription | None) -> SessionDescription:
        assert description is not None
        return SessionDescription.from_json(json.loads(json.dumps(description.to_json())))

    await offerer.set_local_description(await offerer.create_offer())
    await answerer.set_remote_description(over_the_wire(offerer.local_description))
    await answerer.set_local_description(await answerer.create_answer())
    await offerer.set_remote_description(over_the_wire(answerer.local_description))
    candidates = [candidate async for candidate in answerer.ice_candidates]
    assert candidates, "the local description's candidates are published as a trickle"
    wire = [IceCandidate.from_json(json.loads(json.dumps(candidate.to_json()))) for candidate in candidates]
    assert wire == candidates
    await within(offerer.state.wait_for(lambda state: state is ConnectionState.CONNECTED))


async def test_a_channel_each_way_and_a_negotiated_channel_with_id_5(client: Client) -> None:
    left = await client.create_peer_connection()
    right = await client.create_peer_connection()
    from_left = await left.create_data_channel("from-left")
    left_negotiated = await left.create_data_channel("agreed", negotiated=True, id=5)
    right_negotiated = await right.create_data_channel("agreed", negotiated=True, id=5)
    await negotiate(left, right)

    from_right = await right.create_data_channel("from-right")  # after negotiation: announced in-band
    arrived_right = await next_open(right, "from-left")
    arrived_left = await next_open(left, "from-right")
    await within(asyncio.gather(left_negotiated.wait_open(), right_negotiated.wait_open(), from_right.wait_open()))

    await from_left.send("left->right")
    await from_right.send("right->left")
    await left_negotiated.send(b"negotiated left->right")
    await right_negotiated.send(b"negotiated right->left")
    assert await within(arrived_right.receive_text()) == "left->right"
    assert await within(arrived_left.receive_text()) == "right->left"
    assert await within(right_negotiated.receive_binary()) == b"negotiated left->right"
    assert await within(left_negotiated.receive_binary()) == b"negotiated right->left"
    assert (left_negotiated.id, right_negotiated.id) == (5, 5)
    assert left_negotiated.negotiated and right_negotiated.negotiated


async def test_ten_thousand_1kib_messages_arrive_ordered_and_byte_exact_with_a_bounded_send_buffer(
    client: Client,
) -> None:
    sender_peer = await client.create_peer_connection()
    receiver_peer = await client.create_peer_connection()
    sender = await sender_peer.create_data_channel("bulk", ordered=True)
    await negotiate(sender_peer, receiver_peer)
    receiver = await next_open(receiver_peer, "bulk")
    await within(sender.wait_open())
    count, size = 10_000, 1024

    def message(i: int) -> bytes:
        return hashlib.sha256(i.to_bytes(4, "big")).digest() * (size // 32)

    peak_buffered = 0

    async def send_all() -> None:
        nonlocal peak_buffered
        for i in range(count):
            await sender.send(message(i))
            peak_buffered = max(peak_buffered, sender.buffered_amount)

    # Everything is sent before anything is read: without backpressure the sender would queue 10 MiB.
    await within(send_all(), 120)
    mismatches = 0
    for i in range(count):
        received = await within(receiver.receive_binary())
        mismatches += received != message(i)
    assert mismatches == 0
    assert peak_buffered <= sender.send_buffer_high_water_mark + size
    # send() waited on the low-water mark: the engine reported it crossing.
    assert any(isinstance(event, BufferedAmountLow) for event in sender_peer.data_channel_events.replay_cache)
    assert receiver.try_receive() is None


@pytest.mark.parametrize("closing_side", ["offerer", "answerer"])
async def test_closing_a_channel_from_either_side_gives_closing_then_closed_on_both(
    client: Client, closing_side: str
) -> None:
    offerer = await client.create_peer_connection()
    answerer = await client.create_peer_connection()
    offered = await offerer.create_data_channel("to-close")
    await negotiate(offerer, answerer)
    answered = await next_open(answerer, "to-close")
    await within(offered.wait_open())
    offerer_events = aiter(offerer.data_channel_events)
    answerer_events = aiter(answerer.data_channel_events)
    await offered.send("last words")

    closer, other = (offered, answered) if closing_side == "offerer" else (answered, offered)
    closer.close()
    assert closer.state is DataChannelState.CLOSING
    await within(asyncio.gather(offered.wait_closed(), answered.wait_closed()))

    async def names(events: object, channel: object) -> list[str]:
        seen: list[str] = []
        async for event in events:  # type: ignore[attr-defined]
            if event.channel is channel and isinstance(event, (Closing, Closed)):
                seen.append(type(event).__name__)
                if isinstance(event, Closed):
                    return seen
        return seen

    assert await within(names(offerer_events, offered)) == ["Closing", "Closed"]
    assert await within(names(answerer_events, answered)) == ["Closing", "Closed"]
    assert await within(answered.receive_text()) == "last words"  # queued messages outlive the close
    with pytest.raises(DataChannelClosedException):
        await within(other.receive())
    with pytest.raises(DataChannelClosedException):
        await other.send("too late")


async def test_closing_the_peer_connection_closes_its_channels_on_both_sides(client: Client) -> None:
    offerer = await client.create_peer_connection()
    answerer = await client.create_peer_connection()
    offered = await offerer.create_data_channel("pc-close")
    await negotiate(offerer, answerer)
    answered = await next_open(answerer, "pc-close")
    await within(offered.wait_open())

    await offerer.close()
    assert offered.state is DataChannelState.CLOSED
    assert offerer.state.value is ConnectionState.CLOSED
    await within(answered.wait_closed())
    assert [state async for state in offerer.state] == [ConnectionState.CLOSED]  # finished streams end
    with pytest.raises(DataChannelClosedException):
        await within(answered.receive())


async def test_async_iteration_drains_queued_messages_and_ends_at_close(client: Client) -> None:
    offerer = await client.create_peer_connection()
    answerer = await client.create_peer_connection()
    offered = await offerer.create_data_channel("iterate")
    await negotiate(offerer, answerer)
    answered = await next_open(answerer, "iterate")
    await within(offered.wait_open())
    for i in range(5):
        await offered.send(f"m{i}")
    offered.close()
    await within(answered.wait_closed())
    assert [message async for message in answered] == [Text(f"m{i}") for i in range(5)]


async def test_connection_states_go_new_connecting_connected_closed_and_stats_refresh(client: Client) -> None:
    offerer = await client.create_peer_connection(lambda config: setattr(config, "stats_refresh_rate", 0.05))
    answerer = await client.create_peer_connection()
    states = aiter(offerer.state)
    signaling = aiter(offerer.signaling_state)
    channel = await offerer.create_data_channel("states")
    await negotiate(offerer, answerer)
    await within(channel.wait_open())
    stats = await within(offerer.stats.wait_for(lambda report: any(s.type == "transport" for s in report)))
    assert all(entry.id and entry.timestamp > 0 for entry in stats)
    channel_stats = [entry for entry in await offerer.get_statistics() if entry.type == "data-channel"]
    assert [(entry.props["label"], entry.props["state"]) for entry in channel_stats] == [("states", "open")]
    await offerer.close()
    assert [state async for state in states] == [
        ConnectionState.NEW,
        ConnectionState.CONNECTING,
        ConnectionState.CONNECTED,
        ConnectionState.CLOSED,
    ]
    assert [state async for state in signaling] == [
        SignalingState.STABLE,
        SignalingState.HAVE_LOCAL_OFFER,
        SignalingState.STABLE,
        SignalingState.CLOSED,
    ]
    assert offerer not in client.engine._connections  # a closed connection is not kept


async def test_unordered_and_partially_reliable_options_reach_the_remote_channel(client: Client) -> None:
    offerer = await client.create_peer_connection()
    answerer = await client.create_peer_connection()
    await offerer.create_data_channel("retransmits", ordered=False, max_retransmits=0, protocol="proto/1")
    await offerer.create_data_channel("lifetime", max_packet_life_time=0.5)
    await negotiate(offerer, answerer)
    retransmits = await next_open(answerer, "retransmits")
    lifetime = await next_open(answerer, "lifetime")
    assert (retransmits.ordered, retransmits.max_retransmits, retransmits.protocol) == (False, 0, "proto/1")
    assert (lifetime.ordered, lifetime.max_packet_life_time, lifetime.max_retransmits) == (True, 0.5, None)


async def test_typed_receives_check_the_kind_and_try_variants_leave_the_other_kind_queued(client: Client) -> None:
    offerer = await client.create_peer_connection()
    answerer = await client.create_peer_connection()
    sender = await offerer.create_data_channel("kinds")
    await negotiate(offerer, answerer)
    receiver = await next_open(answerer, "kinds")
    await within(sender.wait_open())
    for message in ("t", b"b", "", b""):
        await sender.send(message)
    sender.close()
    await within(receiver.wait_closed())  # everything sent before the close has arrived

    assert receiver.try_receive_binary() is None  # the head is text: it stays queued
    assert receiver.try_receive_text() == "t"
    assert receiver.try_receive_text() is None
    with pytest.raises(UnexpectedMessageTypeException, match="binary"):
        await receiver.receive_text()
    assert await receiver.receive_binary() == b"b"  # the wrong kind stayed queued: nothing is lost
    with pytest.raises(UnexpectedMessageTypeException, match="got text"):
        await receiver.receive_binary()
    assert await receiver.receive() == Text("")  # empty messages keep their kind
    assert await receiver.receive() == Binary(b"")
    with pytest.raises(DataChannelClosedException):
        await receiver.receive()
