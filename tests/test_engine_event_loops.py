"""One client across event loops: two consecutive `asyncio.run()` calls (a script, or a test suite with
a loop per test) get their responses on every engine, and the connections the first loop left behind
are released without warnings -- also when the first loop is still open, and when the client is
closed on yet another loop."""

from __future__ import annotations

import asyncio
import gc
import logging
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tether_aiohttp import Aiohttp
from tether_conformance import ServerEnvironment
from tether_curl import Curl
from tether_httpx import Httpx
from tether_urllib3 import Urllib3

from tether import HttpClient, HttpClientConfig

ENGINES: dict[str, Any] = {"aiohttp": Aiohttp, "httpx": Httpx, "curl": Curl, "urllib3": Urllib3}


@pytest.fixture(scope="module")
def env() -> Iterator[ServerEnvironment]:
    with ServerEnvironment() as environment:
        yield environment


def _trusting(env: ServerEnvironment) -> Callable[[HttpClientConfig[Any]], None]:
    def configure(config: HttpClientConfig[Any]) -> None:
        config.engine.ca_bundle = env.ca_file

    return configure


async def _get(client: HttpClient, url: str) -> tuple[int, bytes]:
    response = await asyncio.wait_for(client.get(url), 10)
    return int(response.status), await response.body_as_bytes()


async def _others_done() -> None:
    """Once what was scheduled on this loop meanwhile has started: every other task of it is done."""
    await asyncio.sleep(0)
    others = asyncio.all_tasks() - {asyncio.current_task()}
    await asyncio.wait_for(asyncio.gather(*others), 10)


class _Complaints(logging.Handler):
    """What asyncio logs about resources left open (aiohttp's "Unclosed client session", say)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _without_complaints(run: Callable[[], None]) -> None:
    """`run()`, then a collection of its garbage: no ResourceWarning, nothing logged by asyncio."""
    gc.collect()  # earlier tests' garbage is not this test's business
    complaints = _Complaints()
    logger = logging.getLogger("asyncio")
    logger.addHandler(complaints)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run()
            gc.collect()
    finally:
        logger.removeHandler(complaints)
    problems = [str(w.message) for w in caught if issubclass(w.category, (ResourceWarning, RuntimeWarning))]
    assert problems == [], problems
    assert complaints.messages == [], complaints.messages


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("engine", list(ENGINES))
def test_one_client_serves_two_asyncio_runs_and_closes_cleanly(
    env: ServerEnvironment, engine: str, scheme: str
) -> None:
    url = env.http("/echo") if scheme == "http" else env.https("/echo")

    def run() -> None:
        client = HttpClient(ENGINES[engine], _trusting(env))
        first = asyncio.run(_get(client, url))  # leaves a kept-alive connection on a loop that closes
        second = asyncio.run(_get(client, url))
        asyncio.run(client.close())  # on a third loop
        assert (first[0], second[0]) == (200, 200)
        assert first[1] and second[1]

    _without_complaints(run)


@pytest.mark.parametrize("engine", list(ENGINES))
def test_the_last_run_closes_the_client_after_an_earlier_run(env: ServerEnvironment, engine: str) -> None:
    def run() -> None:
        client = HttpClient(ENGINES[engine])
        assert asyncio.run(_get(client, env.http("/echo")))[0] == 200

        async def last() -> tuple[int, bytes]:
            async with client:
                return await _get(client, env.http("/echo"))

        assert asyncio.run(last())[0] == 200

    _without_complaints(run)


@pytest.mark.parametrize("engine", list(ENGINES))
def test_a_loop_still_open_keeps_closing_its_own_connections(env: ServerEnvironment, engine: str) -> None:
    # The client moves to a second loop while the first is still open (not running): the first loop
    # closes what it owns when it runs again.
    def run() -> None:
        client = HttpClient(ENGINES[engine])
        first_loop, second_loop = asyncio.new_event_loop(), asyncio.new_event_loop()
        try:
            assert first_loop.run_until_complete(_get(client, env.http("/echo")))[0] == 200
            assert second_loop.run_until_complete(_get(client, env.http("/echo")))[0] == 200
            first_loop.run_until_complete(_others_done())
            assert second_loop.run_until_complete(_get(client, env.http("/echo")))[0] == 200
            second_loop.run_until_complete(client.close())
        finally:
            first_loop.close()
            second_loop.close()

    _without_complaints(run)
