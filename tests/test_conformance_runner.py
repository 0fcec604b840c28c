"""The conformance runner as a user meets it with an engine of their own: capabilities the engine
lacks are "unsupported" (never FAIL), every case is bounded even when it blocks the event loop, and
mistakes (a misspelled --case or --engine) are errors that say what to do."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import urllib3.exceptions
from tether_conformance import CaseContext, EngineSpecError, HangReport, ServerEnvironment, load_cases, load_engine
from tether_conformance.registry import Case
from tether_conformance.runner import FAIL, PASS, UNSUPPORTED, Verdict, render, run_case, run_matrix
from tether_httpx import HttpxEngine
from tether_httpx.engine import HttpxConfig

import tether
from tether import HttpClientConfig, SSEClientException
from tether.engine import (
    EngineFactory,
    HttpClientEngineBase,
    HttpClientEngineCapability,
    HttpClientEngineConfig,
    SSECapability,
    WebSocketCapability,
)
from tether.plugins import SSE
from tether.request import HttpRequestData
from tether.response import HttpResponseData

ROOT = Path(__file__).resolve().parents[1]
CASES = load_cases()


class NoStreamsEngine(HttpxEngine):
    """A working engine (Httpx underneath) that declares neither SSE nor WebSockets."""

    name = "NoStreams"

    @property
    def capabilities(self) -> frozenset[HttpClientEngineCapability[Any]]:
        return HttpxEngine.capabilities.func(self) - {SSECapability, WebSocketCapability}  # type: ignore[attr-defined,no-any-return]


NoStreams = EngineFactory("NoStreams", NoStreamsEngine, HttpxConfig)


@dataclass
class FakeConfig(HttpClientEngineConfig):
    #: Say that a setting turns SSE on (as Curl says of duplex streaming): the body then runs.
    sse_hint: bool = False


class FakeEngine(HttpClientEngineBase[FakeConfig]):
    """Declares the defaults only, and no request may reach it."""

    name = "fake"

    async def _execute(self, request: HttpRequestData) -> HttpResponseData:
        raise AssertionError("no request may reach the fake engine")

    async def _close(self) -> None:
        pass

    def capability_hint(self, capability: HttpClientEngineCapability[Any]) -> str | None:
        return "set sse_hint" if capability is SSECapability and self.config.sse_hint else None


Fake = EngineFactory("Fake", FakeEngine, FakeConfig)
FakeWithHint = Fake.config(lambda config: setattr(config, "sse_hint", True))


class NoConfigEngine(FakeEngine):
    pass


class UntypedEngine(HttpClientEngineBase):  # type: ignore[type-arg]
    name = "untyped"

    async def _execute(self, request: HttpRequestData) -> HttpResponseData:
        raise AssertionError("unused")

    async def _close(self) -> None:
        pass


@pytest.fixture(scope="module")
def env() -> Iterator[ServerEnvironment]:
    with ServerEnvironment() as environment:
        yield environment


def with_sse(config: HttpClientConfig[Any]) -> None:
    config.install(SSE)


# -- 1. every case that opens an SSE session or a WebSocket declares the capability --------------------------
STREAMING_CASES = [
    c
    for c in CASES.values()
    if c.group in ("sse", "websockets") or (c.group in ("events", "faults") and "sse" in c.name)
]


def test_streaming_cases_are_found() -> None:
    assert len([c for c in STREAMING_CASES if c.group == "sse"]) >= 14
    assert len([c for c in STREAMING_CASES if c.group in ("events", "faults")]) >= 6


async def test_on_an_engine_without_sse_or_websockets_every_streaming_case_is_unsupported(
    env: ServerEnvironment,
) -> None:
    started = time.monotonic()
    verdicts = await run_matrix([NoStreams], STREAMING_CASES, env, hang_grace=None)
    assert [v for v in verdicts if v.outcome != UNSUPPORTED] == []
    assert time.monotonic() - started < 30  # nothing waited for a session that never opened


# -- 2. "unsupported" is decided exactly -----------------------------------------------------------------------
async def _hangs(t: CaseContext) -> None:
    await asyncio.Event().wait()


async def test_a_case_requiring_what_the_engine_lacks_is_unsupported_without_running(env: ServerEnvironment) -> None:
    case = Case("mine", "never-runs", _hangs, frozenset({WebSocketCapability}), timeout=2)
    verdict = await run_case(case, Fake, env)
    assert (verdict.outcome, verdict.message) == (UNSUPPORTED, "Fake does not declare WebSocketCapability")


async def _sse_expecting_an_sse_error(t: CaseContext) -> None:
    async with t.client(with_sse) as client:
        await t.raises(SSEClientException, client.sse_session(t.env.http("/sse/basic")))


async def test_an_unsupported_capability_error_inside_t_raises_is_still_unsupported(env: ServerEnvironment) -> None:
    # A setting could turn SSE on (the engine's hint), so the body runs and meets the error in t.raises.
    case = Case("mine", "sse-in-raises", _sse_expecting_an_sse_error, frozenset({SSECapability}), timeout=10)
    verdict = await run_case(case, FakeWithHint, env)
    assert verdict.outcome == UNSUPPORTED, verdict.message
    assert "set sse_hint" in verdict.message


async def test_a_case_missing_requires_fails_and_says_so(env: ServerEnvironment) -> None:
    case = Case("mine", "forgot-requires", _sse_expecting_an_sse_error, frozenset(), timeout=10)
    verdict = await run_case(case, Fake, env)
    assert verdict.outcome == FAIL
    assert "suite bug" in verdict.message and "missing requires=[SSECapability]" in verdict.message


async def test_t_raises_names_a_foreign_class_by_module() -> None:
    async def leak() -> None:
        raise urllib3.exceptions.ProtocolError("Connection broken")

    with pytest.raises(AssertionError) as info:
        await CaseContext.raises(tether.ProtocolError, leak())
    assert str(info.value) == (
        "expected tether.exceptions.ProtocolError, got urllib3.exceptions.ProtocolError: Connection broken"
    )

    async def timeout() -> None:
        raise TimeoutError("late")

    with pytest.raises(AssertionError) as info:
        await CaseContext.raises(tether.ProtocolError, timeout())
    assert str(info.value) == "expected ProtocolError, got TimeoutError: late"


# -- 3. a case that blocks the loop is reported, and the run does not hang -------------------------------------
async def _blocks_the_loop(t: CaseContext) -> None:
    time.sleep(2.5)  # noqa: ASYNC251 -- the point: asyncio.wait_for cannot end this


async def test_the_watchdog_names_a_case_that_blocks_the_loop(env: ServerEnvironment) -> None:
    reports: list[HangReport] = []
    case = Case("mine", "blocks-the-loop", _blocks_the_loop, frozenset(), timeout=0.2)
    seen: list[tuple[str, int, int]] = []
    verdicts = await run_matrix(
        [Fake],
        [case],
        env,
        hang_grace=0.5,
        on_hang=reports.append,
        progress=lambda v, done, total: seen.append((v.case, done, total)),
    )
    assert len(reports) == 1
    report = reports[0]
    assert (report.engine, report.case, report.phase) == ("Fake", "mine/blocks-the-loop", "the case body")
    assert report.loop_idle_for > 0.5
    loop_stack = next(stack for name, stack in report.stacks.items() if "(the event loop)" in name)
    assert "_blocks_the_loop" in loop_stack and "time.sleep" in loop_stack
    assert report.verdicts[-1].outcome == FAIL and "hung" in report.verdicts[-1].message
    assert "mine/blocks-the-loop" in report.describe()
    assert [v.case for v in verdicts] == ["mine/blocks-the-loop"]
    assert seen == [("mine/blocks-the-loop", 1, 1)]


# -- 5. the summary keeps unsupported apart ----------------------------------------------------------------------
def test_the_summary_line_counts_unsupported_apart() -> None:
    verdicts = [Verdict("E", "a/1", PASS), Verdict("E", "a/2", UNSUPPORTED), Verdict("E", "a/3", FAIL, "boom")]
    assert render(verdicts, "text").splitlines()[-1] == "conformance: 1 passed, 1 unsupported, 1 failed"


# -- 6. --engine ------------------------------------------------------------------------------------------------
def test_load_engine_builds_a_factory_from_an_engine_class() -> None:
    factory = load_engine(f"{__name__}:FakeEngine")
    assert factory.name == "fake"
    assert isinstance(factory.create_config(), FakeConfig)
    assert isinstance(load_engine(f"{__name__}:NoConfigEngine").create_config(), FakeConfig)


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("nosuch", "installed: "),
        ("htpx", "did you mean httpx"),
        (f"{__name__}:UntypedEngine", "tether.engine.EngineFactory(name, EngineClass, ConfigClass)"),
        (f"{__name__}:FakeConfig", "neither an engine factory nor an engine class"),
        (f"{__name__}:Nothing", "has no attribute 'Nothing'"),
        ("no_such_module_here:X", "there is no module 'no_such_module_here'"),
    ],
)
def test_load_engine_says_what_to_pass(spec: str, says: str) -> None:
    with pytest.raises(EngineSpecError) as info:
        load_engine(spec)
    assert says in str(info.value)


# -- the CLI -------------------------------------------------------------------------------------------------------
def cli(*args: str, extra_path: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    paths = [str(ROOT / "src"), str(ROOT / "engines"), str(ROOT / "conformance")]
    if extra_path is not None:
        paths.insert(0, str(extra_path))
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([*paths, os.environ.get("PYTHONPATH", "")])}
    command = ["timeout", "-k", "5", str(int(timeout)), sys.executable, "-m", "tether_conformance", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout + 10, env=environment)


def test_cli_unknown_engine_is_one_line_and_exit_2() -> None:
    result = cli("--engine", "nosuch", "--case", "methods/get")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: no engine named 'nosuch' is installed") and "httpx" in result.stderr


def test_cli_a_case_filter_that_matches_nothing_is_an_error() -> None:
    result = cli("--engine", "httpx", "--case", "redirect-typo")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--case 'redirect-typo' matches no case" in result.stderr
    assert "redirects/" in result.stderr and "--list" in result.stderr


CASES_MODULE = """
    import time
    from tether_conformance import CaseContext, case

    @case("mine", "echo-get")
    async def echo_get(t: CaseContext) -> None:
        async with t.client() as client:
            echo = await t.json_of(await client.get(t.env.http("/echo")))
        t.equal(echo["method"], "GET")

    @case("mine-blocking", "blocks-the-loop", timeout=0.5)
    async def blocks(t: CaseContext) -> None:
        time.sleep(60)
"""


@pytest.fixture(scope="module")
def cases_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("cases")
    (directory / "my_conformance_cases.py").write_text(textwrap.dedent(CASES_MODULE))
    return directory


def test_cli_runs_a_users_own_cases_module_with_progress(cases_dir: Path) -> None:
    result = cli(
        "--engine", "httpx", "--cases-module", "my_conformance_cases", "--case", "mine/", "--progress",
        extra_path=cases_dir,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "mine/echo-get  pass" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "conformance: 1 passed, 0 unsupported, 0 failed"
    assert "[1/1] Httpx mine/echo-get pass" in result.stderr


def test_cli_aborts_a_run_blocked_by_a_case_and_names_it(cases_dir: Path) -> None:
    started = time.monotonic()
    result = cli(
        "--engine", "httpx", "--cases-module", "my_conformance_cases", "--case", "mine", "--hang-grace", "1",
        extra_path=cases_dir, timeout=50,
    )  # fmt: skip
    assert time.monotonic() - started < 40
    assert result.returncode == 1, result.stdout + result.stderr
    assert "mine/echo-get" in result.stdout  # the matrix so far
    assert "Httpx mine-blocking/blocks-the-loop: the case body hung" in result.stdout
    assert "HUNG: Httpx mine-blocking/blocks-the-loop" in result.stderr
    assert "time.sleep(60)" in result.stderr  # the event loop's stack
