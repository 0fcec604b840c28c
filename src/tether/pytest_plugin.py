"""The pytest plugin tether ships (entry point `pytest11`): a `tether_mock` fixture.

    from tether import HttpClient

    async def test_fetches_the_user(tether_mock):
        tether_mock.get("https://api.test/users/1").respond(json={"name": "Ada"})
        async with HttpClient(tether_mock) as client:
            assert (await (await client.get("https://api.test/users/1")).json())["name"] == "Ada"

At teardown the test fails if a request matched no route, even when the code under test caught the
AssertionError its call raised.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tether.testing import MockEngine

__all__ = ["tether_mock"]


@pytest.fixture
def tether_mock() -> Iterator[MockEngine]:
    """A fresh `MockEngine`; add routes, pass it to `HttpClient(...)`, assert on what it received."""
    engine = MockEngine()
    yield engine
    engine.assert_no_unmatched()
