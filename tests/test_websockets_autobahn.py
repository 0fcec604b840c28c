"""Autobahn cases 1-10 (301 cases) through `client.websocket` on every bundled engine: all must pass.
And the permessage-deflate groups that need the client's offer parameters (13.2, 13.5, 13.6) run,
rather than report UNIMPLEMENTED, with the offers of `DEFLATE_OFFERS` (`make autobahn` runs all of 12.x/13.x)."""

from __future__ import annotations

import pytest
from tether_conformance.autobahn import CASES_1_TO_10, run_autobahn, summary

from tether.engine import discover_engines

ENGINES, _ = discover_engines()


@pytest.mark.parametrize("engine", ["curl", "aiohttp", "httpx", "urllib3"])
async def test_autobahn_cases_1_to_10_all_pass(engine: str) -> None:
    results = await run_autobahn(ENGINES[engine], CASES_1_TO_10)
    passed, total, verdicts = summary(results)
    failed = [(r.case_id, r.behavior.value, r.behavior_close.value) for r in results if r is not None and not r.passed]
    assert (passed, total) == (301, 301), f"{engine}: {verdicts}; failed: {failed[:20]}"


@pytest.mark.parametrize("engine", ["curl", "aiohttp", "httpx", "urllib3"])
async def test_the_deflate_parameter_groups_run_with_the_offer_they_need(engine: str) -> None:
    results = await run_autobahn(ENGINES[engine], ["13.2.1", "13.5.1", "13.6.1"])
    passed, total, verdicts = summary(results)  # the client's old offer: UNIMPLEMENTED 3
    assert (passed, total) == (3, 3), f"{engine}: {verdicts}"
