"""The bits of SDP tether reads itself: pure functions, strings in and values out.

Engines whose library does not trickle local candidates (aiortc) synthesise `ice_candidates` from the
`a=candidate` lines of the local description with `candidates_in_sdp`; `check_candidate` validates a
remote candidate before it reaches the library, so a bad one raises `IceException` and not whatever
the library's parser happens to raise.
"""

from __future__ import annotations

from tether.webrtc.exceptions import IceException
from tether.webrtc.values import IceCandidate

__all__ = [
    "DEFAULT_REMOTE_MAX_MESSAGE_SIZE",
    "candidate_value",
    "candidates_in_sdp",
    "check_candidate",
    "max_message_size",
    "without_candidates",
]

#: RFC 8841 section 6: a description without `a=max-message-size` accepts messages up to 64 KiB.
DEFAULT_REMOTE_MAX_MESSAGE_SIZE = 65536

_TRANSPORTS = {"udp", "tcp"}
_TYPES = {"host", "srflx", "prflx", "relay"}


def candidates_in_sdp(sdp: str) -> list[IceCandidate]:
    """Every `a=candidate` line, with the `a=mid` and index of its media section.

    >>> sdp = "v=0\\r\\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\\r\\na=mid:0\\r\\n"
    >>> candidates_in_sdp(sdp + "a=candidate:1 1 udp 1 127.0.0.1 5000 typ host\\r\\n")[0].sdp_mid
    '0'
    """
    found: list[tuple[str, int]] = []
    mids: dict[int, str] = {}
    index = -1
    for line in sdp.splitlines():
        if line.startswith("m="):
            index += 1
        elif index >= 0 and line.startswith("a=mid:"):
            mids[index] = line[len("a=mid:") :].strip()
        elif index >= 0 and line.startswith("a=candidate:"):
            found.append((line[2:].strip(), index))
    return [IceCandidate(value, mids.get(at), at) for value, at in found]


def without_candidates(sdp: str) -> str:
    """The description without its `a=candidate` and `a=end-of-candidates` lines: what a peer that
    trickles sends before its candidates (useful to test trickling against a non-trickling engine)."""
    lines = [line for line in sdp.splitlines() if not line.startswith(("a=candidate:", "a=end-of-candidates"))]
    return "\r\n".join(lines) + "\r\n"


def candidate_value(candidate: str) -> str:
    """The attribute value without the optional `a=` and `candidate:` prefixes."""
    value = candidate.strip()
    if value.startswith("a="):
        value = value[2:]
    if value.startswith("candidate:"):
        value = value[len("candidate:") :]
    return value


def check_candidate(candidate: IceCandidate) -> list[str]:
    """The fields of a remote candidate (RFC 8839 section 5.1 grammar), or `IceException`."""
    if candidate.sdp_mid is None and candidate.sdp_mline_index is None:
        raise IceException(f"ICE candidate {candidate.candidate!r} names no media section (sdp_mid or sdp_mline_index)")
    fields = candidate_value(candidate.candidate).split()
    problem = None
    if len(fields) < 8 or len(fields) % 2:
        problem = "expected 'foundation component transport priority address port typ type [name value]...'"
    elif not fields[1].isdigit() or not 1 <= int(fields[1]) <= 256:
        problem = f"component {fields[1]!r} is not 1..256"
    elif fields[2].lower() not in _TRANSPORTS:
        problem = f"transport {fields[2]!r} is not UDP or TCP"
    elif not fields[3].isdigit() or int(fields[3]) >= 2**32:
        problem = f"priority {fields[3]!r} is not a 32-bit number"
    elif not fields[5].isdigit() or not 0 <= int(fields[5]) <= 65535:
        problem = f"port {fields[5]!r} is not 0..65535"
    elif fields[6] != "typ" or fields[7] not in _TYPES:
        problem = f"'typ {fields[7]}' is not one of {sorted(_TYPES)}"
    if problem is not None:
        raise IceException(f"Malformed ICE candidate {candidate.candidate!r}: {problem}")
    return fields


def max_message_size(sdp: str) -> int:
    """The `a=max-message-size` of the first data channel section; 0 means "no limit".

    >>> max_message_size("m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=max-message-size:262144")
    262144
    >>> max_message_size("m=application 9 UDP/DTLS/SCTP webrtc-datachannel")
    65536
    """
    in_application = False
    for line in sdp.splitlines():
        if line.startswith("m="):
            in_application = line.startswith("m=application")
        elif in_application and line.startswith("a=max-message-size:"):
            value = line[len("a=max-message-size:") :].strip()
            if value.isdigit():
                return int(value)
    return DEFAULT_REMOTE_MAX_MESSAGE_SIZE
