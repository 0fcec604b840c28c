"""examples/webrtc_chat.py runs both peers and prints the whole conversation."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "webrtc_chat.py"
LOOPBACK = 'import aioice.ice\naioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]\n'


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


def test_the_two_peer_program_in_the_docs_runs() -> None:
    program = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "webrtc.md").read_text(), re.S)[0]
    result = subprocess.run(
        [sys.executable, "-c", LOOPBACK + program], capture_output=True, text=True, timeout=90, check=True
    )
    assert result.stdout == "HELLO\n"
