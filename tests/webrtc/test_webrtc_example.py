"""examples/webrtc_chat.py runs both peers and prints the whole conversation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "webrtc_chat.py"


def test_the_chat_example_runs_both_peers_to_a_clean_close() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLE), "ping", "pong?"], capture_output=True, text=True, timeout=90, check=True
    )
    lines = result.stdout.splitlines()
    assert lines[:4] == ["alice -> ping", "alice <- PING", "alice -> pong?", "alice <- PONG?"]
    # The two peers finish concurrently: the order of the last lines is theirs.
    assert sorted(lines[4:]) == [
        "alice: channel 'chat' is closed",
        "bob   <- 20 binary bytes",
        "bob:   channel 'chat' is closed",
    ]
