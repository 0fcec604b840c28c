"""The Curl engine watches libcurl's sockets in an epoll set of its own where the platform has one
(`CurlMultiLoop._poll_socket`), else through the event loop with duplicates it owns (`_Watch`). The
conformance suite runs the first; the cases about sockets' lives run here on the second."""

from __future__ import annotations

import select
from collections.abc import Iterator

import pytest
import tether_curl.multi
from tether_conformance import ServerEnvironment, load_cases, run_case
from tether_conformance.runner import FAIL, engine_capabilities
from tether_curl import Curl

from tether import HttpClient

CASES = load_cases()
#: Connections opened, refused, closed by either side, reused, multiplexed, tunnelled, idle; other
#: code's sockets on the loop.
SOCKET_GROUPS = ("faults/", "timeouts/", "concurrency/", "http2/", "proxy/", "duplex/")
SOCKET_CASES = [case_id for case_id in CASES if case_id.startswith(SOCKET_GROUPS)]


@pytest.fixture(scope="module")
def env() -> Iterator[ServerEnvironment]:
    with ServerEnvironment() as environment:
        yield environment


@pytest.fixture
def loop_watch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tether_curl.multi, "_EPOLL", False)


def test_there_are_socket_cases() -> None:
    assert any(case_id.startswith("faults/") for case_id in SOCKET_CASES)


@pytest.mark.parametrize("case_id", SOCKET_CASES)
async def test_socket_cases_pass_when_the_loop_watches_the_sockets(
    env: ServerEnvironment, loop_watch: None, case_id: str
) -> None:
    verdict = await run_case(CASES[case_id], Curl, env, await engine_capabilities(Curl))
    assert verdict.outcome != FAIL, verdict.message


async def test_the_loop_watches_the_sockets_only_without_epoll(loop_watch: None) -> None:
    async with HttpClient(Curl) as client:
        multi = client.engine._loop_multi()  # type: ignore[attr-defined]
        assert multi._epoll is None


async def test_the_engine_has_its_own_epoll_set_where_there_is_one() -> None:
    async with HttpClient(Curl) as client:
        multi = client.engine._loop_multi()  # type: ignore[attr-defined]
        assert (multi._epoll is not None) == hasattr(select, "epoll")
