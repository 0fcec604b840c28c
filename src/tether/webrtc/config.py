"""Configuration values: `WebRtcConfig` for the engine (given to `WebRtcClient(factory, configure)`)
and `WebRtcConnectionConfig` for one peer connection (Ktor's names and defaults)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from tether.webrtc.values import BundlePolicy, IceServer, IceTransportPolicy, RtcpMuxPolicy

__all__ = ["DEFAULT_SEND_BUFFER_HIGH_WATER_MARK", "WebRtcConfig", "WebRtcConnectionConfig"]

#: `send()` waits once a channel has this many bytes queued; 1 MiB keeps a 1 KiB-message stream at
#: full speed on loopback while bounding what a fast sender can hold in memory per channel.
DEFAULT_SEND_BUFFER_HIGH_WATER_MARK = 1024 * 1024


@dataclass
class WebRtcConnectionConfig:
    """The settings of one peer connection. `WebRtcConfig.default_connection_config` holds the defaults;
    `create_peer_connection(block)` changes a copy of them.

    >>> config = WebRtcConnectionConfig()
    >>> config.ice_servers.append(IceServer("stun:stun.example.org:3478"))
    """

    ice_servers: list[IceServer] = field(default_factory=list)
    ice_transport_policy: IceTransportPolicy = IceTransportPolicy.ALL
    bundle_policy: BundlePolicy = BundlePolicy.BALANCED
    #: Only REQUIRE exists in every modern stack; an engine without NEGOTIATE refuses it.
    rtcp_mux_policy: RtcpMuxPolicy = RtcpMuxPolicy.REQUIRE
    #: Candidates gathered before `set_local_description`; engines that cannot pre-gather accept only 0.
    ice_candidate_pool_size: int = 0
    #: Seconds between refreshes of `peer.stats`; None (the default) polls nothing.
    stats_refresh_rate: float | None = None
    #: How many past items a late subscriber of each stream sees first (Ktor's replay sizes).
    remote_tracks_replay: int = 10
    data_channel_events_replay: int = 10
    ice_candidates_replay: int = 20
    #: Bytes queued on a channel above which `send()` waits for the low-water mark.
    send_buffer_high_water_mark: int = DEFAULT_SEND_BUFFER_HIGH_WATER_MARK

    def copy(self) -> WebRtcConnectionConfig:
        return copy.deepcopy(self)

    def validate(self) -> None:
        """Checks that need no engine; engine-specific limits are checked by the engine."""
        for name in ("remote_tracks_replay", "data_channel_events_replay", "ice_candidates_replay"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.ice_candidate_pool_size < 0:
            raise ValueError(f"ice_candidate_pool_size must be >= 0, got {self.ice_candidate_pool_size}")
        if self.stats_refresh_rate is not None and self.stats_refresh_rate <= 0:
            raise ValueError(f"stats_refresh_rate must be > 0 seconds or None, got {self.stats_refresh_rate}")
        if self.send_buffer_high_water_mark <= 0:
            raise ValueError(f"send_buffer_high_water_mark must be > 0, got {self.send_buffer_high_water_mark}")
        for server in self.ice_servers:
            if not server.url_list:
                raise ValueError("an IceServer needs at least one URL")
            turn = [url for url in server.url_list if url.startswith(("turn:", "turns:"))]
            if turn and (server.username is None or server.credential is None):
                raise ValueError(f"TURN server {turn[0]} needs a username and a credential")


@dataclass
class WebRtcConfig:
    """The engine's configuration. Engine factories subclass it to add their own fields."""

    default_connection_config: WebRtcConnectionConfig = field(default_factory=WebRtcConnectionConfig)

    def validate(self) -> None:
        self.default_connection_config.validate()
