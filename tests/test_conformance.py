"""The engine conformance suite, run for every bundled engine: one pytest item per engine x case."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from tether_conformance import ServerEnvironment, load_cases, run_case
from tether_conformance.runner import FAIL, engine_capabilities

from tether.engine import HttpClientEngineCapability, HttpClientEngineFactory, discover_engines

ENGINES, _ = discover_engines()
CASES = load_cases()
_capabilities: dict[str, frozenset[HttpClientEngineCapability[Any]]] = {}


@pytest.fixture(scope="session")
def env() -> Iterator[ServerEnvironment]:
    with ServerEnvironment() as environment:
        yield environment


async def _capabilities_of(
    factory: HttpClientEngineFactory[Any],
) -> frozenset[HttpClientEngineCapability[Any]]:
    if factory.name not in _capabilities:
        _capabilities[factory.name] = await engine_capabilities(factory)
    return _capabilities[factory.name]


@pytest.mark.parametrize("case_id", list(CASES))
@pytest.mark.parametrize("engine", list(ENGINES))
async def test_conformance(env: ServerEnvironment, engine: str, case_id: str) -> None:
    factory = ENGINES[engine]
    verdict = await run_case(CASES[case_id], factory, env, await _capabilities_of(factory))
    assert verdict.outcome != FAIL, verdict.message


def test_every_bundled_engine_is_registered() -> None:
    assert {"curl", "httpx", "aiohttp", "urllib3"} <= set(ENGINES)


def test_the_runner_cli_prints_a_matrix_and_a_summary() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tether_conformance",
            "--engine",
            "httpx",
            "--case",
            "methods/",
            "--format",
            "markdown",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "| `methods/get` | pass |" in result.stdout
    assert result.stdout.strip().splitlines()[-1].startswith("conformance: ")
