"""Runs cases against engines and reports the matrix (text, Markdown, JSON)."""

from __future__ import annotations

import asyncio
import importlib
import json
import pkgutil
import time
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from tether.engine import HttpClientEngineCapability, HttpClientEngineFactory, discover_engines
from tether.exceptions import UnsupportedCapabilityError
from tether_conformance.registry import CASES, Case, CaseContext
from tether_conformance.servers import ServerEnvironment

__all__ = ["Verdict", "load_cases", "load_engine", "run_case", "run_matrix", "render"]

PASS, UNSUPPORTED, FAIL = "pass", "unsupported", "FAIL"


@dataclass
class Verdict:
    engine: str
    case: str
    outcome: str
    message: str = ""
    seconds: float = 0.0


def load_cases() -> dict[str, Case]:
    """Import every module of `tether_conformance.cases` (registration happens on import)."""
    from tether_conformance import cases

    for module in pkgutil.iter_modules(cases.__path__):
        importlib.import_module(f"{cases.__name__}.{module.name}")
    return CASES


def load_engine(spec: str) -> HttpClientEngineFactory[Any]:
    """`httpx` (a registered name) or `package.module:Factory`."""
    if ":" in spec:
        module_name, _, attribute = spec.partition(":")
        factory = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(factory, HttpClientEngineFactory):
            raise TypeError(f"{spec} is not an HttpClientEngineFactory")
        return factory
    loaded, failed = discover_engines()
    if spec in loaded:
        return loaded[spec]
    for factory in loaded.values():
        if factory.name.lower() == spec.lower():
            return factory
    reason = failed.get(spec, "not registered under the tether.engines entry points")
    raise LookupError(f"engine {spec!r}: {reason}")


async def engine_capabilities(
    factory: HttpClientEngineFactory[Any],
) -> frozenset[HttpClientEngineCapability[Any]]:
    engine = factory.create(factory.create_config())
    try:
        return engine.capabilities
    finally:
        await engine.close()


async def run_case(
    case: Case,
    factory: HttpClientEngineFactory[Any],
    env: ServerEnvironment,
    capabilities: frozenset[HttpClientEngineCapability[Any]],
) -> Verdict:
    context = CaseContext(env, factory)
    before = env.requests_seen
    started = time.perf_counter()
    outcome, message = PASS, ""

    def missing() -> str:
        # What the engine the case actually built declares: its config may opt in (duplex on Curl).
        declared = context.engine_capabilities or capabilities
        return ", ".join(sorted(str(c) for c in case.requires - declared))

    try:
        await asyncio.wait_for(case.body(context), case.timeout)
        if missing():
            outcome, message = (
                FAIL,
                f"engine lacks {missing()} but the case ran without UnsupportedCapabilityError",
            )
    except UnsupportedCapabilityError as exc:
        if not missing():
            outcome, message = FAIL, f"unexpected UnsupportedCapabilityError: {exc}"
        elif env.requests_seen != before:
            outcome, message = FAIL, f"UnsupportedCapabilityError came after I/O: {exc}"
        else:
            outcome, message = UNSUPPORTED, str(exc)
    except asyncio.TimeoutError:
        outcome, message = FAIL, f"timed out after {case.timeout:g} s"
    except AssertionError as exc:
        outcome, message = FAIL, str(exc) or "assertion failed"
    except Exception as exc:
        outcome = FAIL
        message = f"{type(exc).__name__}: {exc}\n" + "".join(traceback.format_exception(exc)[-3:])
    finally:
        try:
            await context.close()
        except Exception as exc:  # a client that cannot close cleanly is a failure too
            if outcome != FAIL:
                outcome, message = FAIL, f"closing the client failed: {type(exc).__name__}: {exc}"
    return Verdict(factory.name, case.id, outcome, message.strip(), time.perf_counter() - started)


async def run_matrix(
    factories: Sequence[HttpClientEngineFactory[Any]],
    cases: Iterable[Case],
    env: ServerEnvironment,
) -> list[Verdict]:
    verdicts: list[Verdict] = []
    selected = list(cases)
    for factory in factories:
        capabilities = await engine_capabilities(factory)
        for case in selected:
            verdicts.append(await run_case(case, factory, env, capabilities))
    return verdicts


def summary_line(verdicts: Sequence[Verdict]) -> str:
    failed = sum(v.outcome == FAIL for v in verdicts)
    return f"conformance: {len(verdicts) - failed} passed, {failed} failed"


def render(verdicts: Sequence[Verdict], style: str) -> str:
    if style == "json":
        return json.dumps(
            {
                "verdicts": [asdict(v) for v in verdicts],
                "summary": {
                    outcome: sum(v.outcome == outcome for v in verdicts) for outcome in (PASS, UNSUPPORTED, FAIL)
                },
            },
            indent=2,
        )
    engines = list(dict.fromkeys(v.engine for v in verdicts))
    cases = list(dict.fromkeys(v.case for v in verdicts))
    table = {(v.engine, v.case): v for v in verdicts}
    lines: list[str] = []
    if style == "markdown":
        lines.append("| case | " + " | ".join(engines) + " |")
        lines.append("|---|" + "---|" * len(engines))
        for case_id in cases:
            cells = [_cell(table.get((engine, case_id))) for engine in engines]
            lines.append(f"| `{case_id}` | " + " | ".join(cells) + " |")
    else:
        width = max((len(c) for c in cases), default=4)
        lines.append(f"{'case':<{width}}  " + "  ".join(f"{e:<11}" for e in engines))
        for case_id in cases:
            cells = [f"{_cell(table.get((engine, case_id))):<11}" for engine in engines]
            lines.append(f"{case_id:<{width}}  " + "  ".join(cells))
    failures = [v for v in verdicts if v.outcome == FAIL]
    if failures:
        lines.append("")
        lines.append("Failures:")
        for v in failures:
            lines.append(f"  {v.engine} {v.case}: {v.message}")
    lines.append("")
    for engine in engines:
        mine = [v for v in verdicts if v.engine == engine]
        counts = {o: sum(v.outcome == o for v in mine) for o in (PASS, UNSUPPORTED, FAIL)}
        lines.append(f"{engine}: {counts[PASS]} pass, {counts[UNSUPPORTED]} unsupported, {counts[FAIL]} FAIL")
    lines.append(summary_line(verdicts))
    return "\n".join(lines)


def _cell(verdict: Verdict | None) -> str:
    if verdict is None:
        return "-"
    return verdict.outcome
