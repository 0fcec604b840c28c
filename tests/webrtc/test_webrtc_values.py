"""Pure parts of tether.webrtc: values, SDP helpers, streams, options, the public surface."""

from __future__ import annotations

import asyncio
import json

import pytest

import tether.webrtc as webrtc
from tether.exceptions import TetherError
from tether.webrtc import (
    EventStream,
    IceCandidate,
    IceException,
    SdpException,
    SessionDescription,
    SessionDescriptionType,
    StateStream,
    WebRtcConnectionConfig,
)
from tether.webrtc.peer import DataChannelOptions
from tether.webrtc.sdp import candidates_in_sdp, check_candidate, max_message_size, without_candidates

SDP = (
    "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:audio\r\na=candidate:9 1 udp 5 127.0.0.1 4000 typ host\r\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:data\r\na=max-message-size:1000\r\n"
    "a=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\na=end-of-candidates\r\n"
)


def test_every_exported_name_exists_and_every_exception_is_a_tether_error() -> None:
    assert len(webrtc.__all__) == len(set(webrtc.__all__))
    for name in webrtc.__all__:
        value = getattr(webrtc, name)
        if isinstance(value, type) and issubclass(value, BaseException):
            assert issubclass(value, TetherError), name


def test_descriptions_and_candidates_use_the_browser_json_shapes() -> None:
    description = SessionDescription("offer", "v=0\r\n")
    assert description.type is SessionDescriptionType.OFFER
    assert json.loads(json.dumps(description.to_json())) == {"type": "offer", "sdp": "v=0\r\n"}
    candidate = IceCandidate.from_json({"candidate": "candidate:1 1 udp 1 ::1 9 typ host", "sdpMLineIndex": 0})
    assert candidate.to_json() == {
        "candidate": "candidate:1 1 udp 1 ::1 9 typ host",
        "sdpMid": None,
        "sdpMLineIndex": 0,
    }
    with pytest.raises(ValueError):
        SessionDescription("bogus", "v=0")


def test_candidates_are_read_per_media_section_and_can_be_stripped() -> None:
    assert candidates_in_sdp(SDP) == [
        IceCandidate("candidate:9 1 udp 5 127.0.0.1 4000 typ host", "audio", 0),
        IceCandidate("candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host", "data", 1),
    ]
    stripped = without_candidates(SDP)
    assert "a=candidate" not in stripped and "a=end-of-candidates" not in stripped
    assert "a=mid:data" in stripped


def test_max_message_size_is_read_from_the_data_section_and_defaults_to_64_kib() -> None:
    assert max_message_size(SDP) == 1000
    assert max_message_size(SDP.replace("a=max-message-size:1000\r\n", "")) == 65536


def test_check_candidate_accepts_both_prefixes_and_rejects_bad_fields() -> None:
    for value in (
        "candidate:1 1 UDP 2 10.0.0.1 9 typ host",
        "a=candidate:1 1 udp 2 10.0.0.1 9 typ srflx raddr 0 rport 0",
    ):
        assert check_candidate(IceCandidate(value, "0"))[4] == "10.0.0.1"
    with pytest.raises(IceException, match="typ"):
        check_candidate(IceCandidate("candidate:1 1 udp 2 10.0.0.1 9 kind host", "0"))
    with pytest.raises(IceException, match="component"):
        check_candidate(IceCandidate("candidate:1 x udp 2 10.0.0.1 9 typ host", "0"))


async def test_a_state_stream_yields_the_current_value_then_changes_and_ends_when_finished() -> None:
    stream = StateStream("new")
    iterator = aiter(stream)
    stream._set("connecting")
    stream._set("connecting")  # no change, no item
    stream._set("connected")
    stream._finish()
    assert [value async for value in iterator] == ["new", "connecting", "connected"]
    assert await stream.wait_for(lambda value: value == "connected") == "connected"
    with pytest.raises(EOFError):
        await stream.wait_for(lambda value: value == "failed")


async def test_an_event_stream_replays_the_last_items_to_late_subscribers() -> None:
    stream: EventStream[int] = EventStream(replay=2)
    early = aiter(stream)
    for i in range(5):
        stream._emit(i)
    late = aiter(stream)
    stream._emit(5)
    stream._finish()
    assert [item async for item in early] == [0, 1, 2, 3, 4, 5]
    assert [item async for item in late] == [3, 4, 5]


async def test_an_event_stream_wakes_a_waiting_reader() -> None:
    stream: EventStream[str] = EventStream(replay=0)
    iterator = aiter(stream)
    reader = asyncio.ensure_future(anext(iterator))
    await asyncio.sleep(0)
    stream._emit("event")
    assert await asyncio.wait_for(reader, 5) == "event"


@pytest.mark.parametrize(
    "options",
    [
        DataChannelOptions("x", max_retransmits=1, max_packet_life_time=1.0),
        DataChannelOptions("x", negotiated=True),
        DataChannelOptions("x", id=65535),
        DataChannelOptions("x", receive_capacity=0),
    ],
    ids=["both-reliability-limits", "negotiated-without-id", "id-out-of-range", "zero-capacity"],
)
def test_invalid_channel_options_raise_value_error(options: DataChannelOptions) -> None:
    with pytest.raises(ValueError):
        options.validate()


def test_connection_config_copies_are_independent_and_validated() -> None:
    config = WebRtcConnectionConfig()
    copy = config.copy()
    copy.ice_servers.append(webrtc.IceServer("stun:127.0.0.1:3478"))
    assert config.ice_servers == []
    copy.stats_refresh_rate = 0
    with pytest.raises(ValueError, match="stats_refresh_rate"):
        copy.validate()


def test_malformed_signalling_values_raise_the_webrtc_exceptions_the_docs_name() -> None:
    # They were a plain ValueError ("'offerr' is not a valid SessionDescriptionType") and KeyError ('sdp').
    with pytest.raises(SdpException, match="'offerr': one of 'offer', 'answer'"):
        SessionDescription("offerr", "v=0")  # type: ignore[arg-type]
    with pytest.raises(SdpException, match=r"keys \['type'\]"):
        SessionDescription.from_json({"type": "offer"})
    with pytest.raises(IceException, match="candidate"):
        IceCandidate.from_json({"sdpMid": "0"})
