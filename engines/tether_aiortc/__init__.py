"""The aiortc engine for tether.webrtc: `WebRtcClient(Aiortc, configure)`."""

from tether_aiortc.engine import Aiortc, AiortcConfig, AiortcDataChannel, AiortcEngine, AiortcPeerConnection

__all__ = ["Aiortc", "AiortcConfig", "AiortcDataChannel", "AiortcEngine", "AiortcPeerConnection"]
