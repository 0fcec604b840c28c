"""Failure cases: each raises tether's typed exception, the same way whatever aiortc raised inside."""

from __future__ import annotations

import pytest
from rtc_helpers import negotiate, within
from tether_aiortc import AiortcConfig

from tether.exceptions import TetherError, UnsupportedCapabilityError
from tether.webrtc import (
    DataChannelClosedException,
    Error,
    IceCandidate,
    IceException,
    MessageTooLargeException,
    RtcpMuxPolicy,
    SdpException,
    SessionDescription,
    WebRtcClient,
    WebRtcIOException,
    without_candidates,
)

Client = WebRtcClient[AiortcConfig]


async def test_send_after_close_raises_data_channel_closed(client: Client) -> None:
    offerer = await client.create_peer_connection()
    answerer = await client.create_peer_connection()
    channel = await offerer.create_data_channel("chat")
    await negotiate(offerer, answerer)
    await within(channel.wait_open())
    channel.close()
    with pytest.raises(DataChannelClosedException, match="'chat' is closing"):
        await channel.send("after close")
    await within(channel.wait_closed())
    with pytest.raises(DataChannelClosedException, match="'chat' is closed"):
        await channel.send(b"after closed")


async def test_an_oversize_message_raises_naming_the_remote_limit(client: Client) -> None:
    offerer = await client.create_peer_connection()
    answerer = await client.create_peer_connection()
    channel = await offerer.create_data_channel("big")
    await negotiate(offerer, answerer)
    await within(channel.wait_open())
    assert channel.max_message_size == 262144  # aiortc announces 256 KiB

    with pytest.raises(MessageTooLargeException, match="262144") as caught:
        await channel.send(bytes(262145))
    assert (caught.value.size, caught.value.limit) == (262145, 262144)
    assert channel.buffered_amount == 0  # refused before anything was queued
    await channel.send(bytes(262144))  # the limit itself is fine


async def test_a_remote_description_without_max_message_size_means_64_kib(client: Client) -> None:
    offerer = await client.create_peer_connection()
    answerer = await client.create_peer_connection()
    channel = await offerer.create_data_channel("legacy")
    await offerer.set_local_description(await offerer.create_offer())
    assert offerer.local_description is not None
    await answerer.set_remote_description(offerer.local_description)
    await answerer.set_local_description(await answerer.create_answer())
    assert answerer.local_description is not None
    legacy = "\r\n".join(
        line for line in answerer.local_description.sdp.splitlines() if not line.startswith("a=max-message-size")
    )
    await offerer.set_remote_description(SessionDescription("answer", legacy + "\r\n"))
    await within(channel.wait_open())
    with pytest.raises(MessageTooLargeException, match="65536"):
        await channel.send("x" * 65537)


@pytest.mark.parametrize(
    "sdp",
    [
        "this is not SDP",
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=application\r\n",
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n",
    ],
    ids=["not-sdp", "truncated-media-line", "no-ice-credentials"],
)
async def test_a_malformed_remote_description_raises_sdp_exception(client: Client, sdp: str) -> None:
    peer = await client.create_peer_connection()
    with pytest.raises(SdpException) as caught:
        await peer.set_remote_description(SessionDescription("offer", sdp))
    assert isinstance(caught.value, TetherError)


async def test_an_answer_in_the_wrong_signalling_state_raises_sdp_exception(client: Client) -> None:
    peer = await client.create_peer_connection()
    with pytest.raises(SdpException, match="answer"):
        await peer.create_answer()


@pytest.mark.parametrize(
    "candidate",
    [
        IceCandidate("candidate:garbage", "0", 0),
        IceCandidate("candidate:1 1 udp 2130706431 127.0.0.1 notaport typ host", "0", 0),
        IceCandidate("candidate:1 1 sctp 2130706431 127.0.0.1 5000 typ host", "0", 0),
        IceCandidate("candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host", "no-such-mid", None),
        IceCandidate("candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host", None, None),
    ],
    ids=["garbage", "bad-port", "bad-transport", "unknown-mid", "no-section"],
)
async def test_a_bad_candidate_raises_ice_exception(client: Client, candidate: IceCandidate) -> None:
    offerer = await client.create_peer_connection()
    answerer = await client.create_peer_connection()
    await offerer.create_data_channel("ice")
    await offerer.set_local_description(await offerer.create_offer())
    assert offerer.local_description is not None
    await answerer.set_remote_description(
        SessionDescription("offer", without_candidates(offerer.local_description.sdp))
    )
    with pytest.raises(IceException):
        await answerer.add_ice_candidate(candidate)


async def test_a_candidate_before_the_remote_description_raises_ice_exception(client: Client) -> None:
    peer = await client.create_peer_connection()
    with pytest.raises(IceException, match="remote description"):
        await peer.add_ice_candidate(IceCandidate("candidate:1 1 udp 1 127.0.0.1 5000 typ host", "0", 0))


async def test_capabilities_aiortc_lacks_raise_unsupported_capability(client: Client) -> None:
    with pytest.raises(UnsupportedCapabilityError, match="rtcp_mux_policy"):
        await client.create_peer_connection(lambda config: setattr(config, "rtcp_mux_policy", RtcpMuxPolicy.NEGOTIATE))
    with pytest.raises(UnsupportedCapabilityError, match="ice_candidate_pool_size"):
        await client.create_peer_connection(lambda config: setattr(config, "ice_candidate_pool_size", 2))
    peer = await client.create_peer_connection()
    with pytest.raises(UnsupportedCapabilityError, match="restart_ice"):
        await peer.restart_ice()
    with pytest.raises(UnsupportedCapabilityError, match="media"):
        peer.add_track(object())


async def test_a_full_receive_buffer_fails_the_channel_instead_of_growing(client: Client) -> None:
    offerer = await client.create_peer_connection()
    answerer = await client.create_peer_connection()
    receiver = await answerer.create_data_channel("bounded", negotiated=True, id=3, receive_capacity=4)
    sender = await offerer.create_data_channel("bounded", negotiated=True, id=3)
    await negotiate(offerer, answerer)
    await within(sender.wait_open())
    events = aiter(answerer.data_channel_events)
    for i in range(5):
        await sender.send(f"m{i}")

    async def first_error() -> Error:
        async for event in events:
            if isinstance(event, Error) and event.channel is receiver:
                return event
        raise AssertionError("no Error event")

    error = await within(first_error())
    assert "receive buffer overflow" in error.reason
    assert [await receiver.receive_text() for _ in range(4)] == ["m0", "m1", "m2", "m3"]
    with pytest.raises(WebRtcIOException, match="overflow"):
        await receiver.receive()


async def test_a_channel_that_never_opens_raises_when_its_connection_closes(client: Client) -> None:
    peer = await client.create_peer_connection()
    channel = await peer.create_data_channel("never")
    await peer.close()
    with pytest.raises(DataChannelClosedException):
        await within(channel.send("hello"))
    assert [type(event).__name__ async for event in peer.data_channel_events] == ["Closing", "Closed"]


async def test_ice_servers_and_policies_reach_aiortcs_configuration() -> None:
    from aiortc import RTCConfiguration, RTCIceTransportPolicy
    from tether_aiortc import Aiortc

    from tether.webrtc import IceServer, IceTransportPolicy

    seen: list[RTCConfiguration] = []
    async with WebRtcClient(Aiortc, lambda config: setattr(config, "customize_configuration", seen.append)) as client:

        def configure(config: object) -> None:
            config.ice_servers = [  # type: ignore[attr-defined]
                IceServer("stun:stun.example.org:3478"),
                IceServer(["turn:turn.example.org:3478"], username="user", credential="secret"),
            ]
            config.ice_transport_policy = IceTransportPolicy.RELAY  # type: ignore[attr-defined]

        await client.create_peer_connection(configure)  # nothing is gathered: no traffic
        with pytest.raises(ValueError, match="TURN server turn:t needs a username"):
            await client.create_peer_connection(lambda config: config.ice_servers.append(IceServer("turn:t")))
    (configuration,) = seen
    assert configuration.iceTransportPolicy is RTCIceTransportPolicy.RELAY
    assert configuration.iceServers is not None
    assert [(s.urls, s.username, s.credential) for s in configuration.iceServers] == [
        (["stun:stun.example.org:3478"], None, None),
        (["turn:turn.example.org:3478"], "user", "secret"),
    ]
