"""Closing a blocking client while another thread waits on one of its calls never strands that thread.

The sync facade runs the async client on a background loop. Its close() used to stop that loop right
after the async close: a call the engine's close had just failed still needed a loop turn to deliver
that failure, so the waiting thread sometimes blocked forever (about one run in three on Aiohttp).
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from tether_conformance.servers.raw import fault_server

from tether import ClientClosedError
from tether.response import HttpResponseData
from tether.sync import HttpClient
from tether.testing import MockEngine

ENGINES = ["aiohttp", "httpx", "curl", "urllib3"]


def _close_under_a_waiting_call(client: HttpClient, url: str) -> tuple[BaseException | None, float, bool]:
    """Call `url` on a thread, close the client 0.2 s later; what the call raised, how long it took, and
    whether the thread was still blocked 6 s after close()."""
    outcome: dict[str, Any] = {}

    def call() -> None:
        started = time.monotonic()
        try:
            client.get(url)
        except BaseException as exc:  # the test inspects whatever it is
            outcome["error"] = exc
        outcome["took"] = time.monotonic() - started

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    time.sleep(0.2)
    client.close()
    thread.join(6.0)
    return outcome.get("error"), outcome.get("took", -1.0), thread.is_alive()


@pytest.mark.parametrize("engine", ENGINES)
def test_a_call_in_flight_when_the_client_closes_raises_client_closed(engine: str) -> None:
    url = fault_server().url("silent")
    for _ in range(4):  # the hang was a race: one run in two or three
        error, took, stuck = _close_under_a_waiting_call(HttpClient(engine), url)
        assert not stuck, "the calling thread was still blocked 6 s after close()"
        assert isinstance(error, ClientClosedError), repr(error)
        assert took < 3.0


def test_a_call_that_does_not_end_on_close_is_cancelled_and_its_caller_woken() -> None:
    release = asyncio.Event()  # never set: the engine's close does not end this call

    async def never(request: Any) -> HttpResponseData:
        await release.wait()
        raise AssertionError("unreachable")

    error, took, stuck = _close_under_a_waiting_call(HttpClient(MockEngine(never)), "http://h/")
    assert not stuck
    assert isinstance(error, ClientClosedError), repr(error)
    assert took < 4.0


def test_a_call_that_ignores_cancellation_still_wakes_its_caller() -> None:
    async def stubborn(request: Any) -> HttpResponseData:
        for _ in range(100):  # bounded: 100 x 0.1 s at most
            try:
                await asyncio.sleep(0.1)
            except asyncio.CancelledError:
                continue
        raise AssertionError("the loop stopped before this ended")

    error, took, stuck = _close_under_a_waiting_call(HttpClient(MockEngine(stubborn)), "http://h/")
    assert not stuck
    assert isinstance(error, ClientClosedError), repr(error)
    assert took < 5.0


def test_a_client_nobody_closed_is_closed_quietly_at_exit() -> None:
    # Its loop thread is a daemon: at exit, the engine's library was torn down mid-session and aiohttp
    # printed "Unclosed client session" / "Unclosed connector" (the other engines said nothing).
    import os
    import subprocess
    import sys

    program = (
        "import sys\nfrom tether.sync import HttpClient\n"
        "c = HttpClient('aiohttp')\nprint(c.get(sys.argv[1]).status)\n"  # and never closed
    )
    done = subprocess.run(
        [sys.executable, "-c", program, fault_server().url("ok")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONWARNINGS": "default"},
    )
    assert done.stdout.strip() == "200 OK"
    assert "Unclosed" not in done.stderr, done.stderr
