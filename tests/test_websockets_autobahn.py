"""Autobahn cases 1-10 (301 cases) through `client.websocket` on every bundled engine: all must pass."""

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
