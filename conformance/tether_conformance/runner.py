"""Runs cases against engines and reports the matrix (text, Markdown, JSON).

Each case is bounded: its body by `Case.timeout` (`asyncio.wait_for`), closing its clients by
`CLOSE_TIMEOUT`. A case that blocks the event loop defeats both, so `run_matrix` also runs a watchdog
thread: a case still running `hang_grace` seconds after its bound is reported (which case, what the
event loop's thread is doing) and, by default, ends the run (`abort_run`).
"""

from __future__ import annotations

import asyncio
import difflib
import importlib
import inspect
import json
import os
import pkgutil
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, get_args, get_origin

from tether.engine import (
    EngineFactory,
    HttpClientEngine,
    HttpClientEngineBase,
    HttpClientEngineCapability,
    HttpClientEngineConfig,
    HttpClientEngineFactory,
    discover_engines,
)
from tether.exceptions import UnsupportedCapabilityError
from tether_conformance.registry import CASES, Case, CaseContext, class_names
from tether_conformance.servers import ServerEnvironment

__all__ = [
    "EngineProfile",
    "EngineSpecError",
    "HangReport",
    "Verdict",
    "abort_run",
    "engine_profile",
    "load_cases",
    "load_engine",
    "render",
    "run_case",
    "run_matrix",
]

PASS, UNSUPPORTED, FAIL = "pass", "unsupported", "FAIL"

Capability = HttpClientEngineCapability[Any]

#: How long closing a case's clients may take once its body is done.
CLOSE_TIMEOUT = 30.0
#: How far past its bound a case may run before the watchdog reports it (`run_matrix(hang_grace=)`).
DEFAULT_HANG_GRACE = 15.0


@dataclass
class Verdict:
    engine: str
    case: str
    outcome: str
    message: str = ""
    seconds: float = 0.0


class EngineSpecError(LookupError):
    """An `--engine` value that names no usable engine (the message says what to pass instead)."""


def load_cases(modules: Iterable[str] = ()) -> dict[str, Case]:
    """Import every module of `tether_conformance.cases`, then each of `modules` (a user's own case
    modules, by dotted name); registration happens on import."""
    from tether_conformance import cases

    for module in pkgutil.iter_modules(cases.__path__):
        importlib.import_module(f"{cases.__name__}.{module.name}")
    for name in modules:
        importlib.import_module(name)
    return CASES


def load_engine(spec: str) -> HttpClientEngineFactory[Any]:
    """`httpx` (a registered name), `package.module:Factory` (an `HttpClientEngineFactory`, such as
    `EngineFactory("Mine", MyEngine, MyConfig)`), or `package.module:MyEngine` (an
    `HttpClientEngineBase[MyConfig]` subclass: the factory is built from the config type in its base).
    Anything else raises `EngineSpecError` saying what to pass."""
    if ":" in spec:
        module_name, _, attribute = spec.partition(":")
        try:
            target: Any = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and (module_name + ".").startswith(exc.name + "."):
                raise EngineSpecError(f"engine {spec!r}: there is no module {exc.name!r} on sys.path") from exc
            raise
        for part in attribute.split("."):
            if not hasattr(target, part):
                raise EngineSpecError(f"engine {spec!r}: {module_name} has no attribute {attribute!r}")
            target = getattr(target, part)
        return _as_factory(spec, target)
    loaded, failed = discover_engines()
    if spec in loaded:
        return loaded[spec]
    for factory in loaded.values():
        if factory.name.lower() == spec.lower():
            return factory
    if spec in failed:
        raise EngineSpecError(f"engine {spec!r} is registered but did not load: {failed[spec]}")
    close = difflib.get_close_matches(spec.lower(), list(loaded), n=3)
    maybe = f" (did you mean {' or '.join(close)}?)" if close else ""
    raise EngineSpecError(
        f"no engine named {spec!r} is installed{maybe}; installed: {', '.join(loaded) or 'none'}. "
        "Pass one of those names, or package.module:Factory"
    )


def _as_factory(spec: str, target: object) -> HttpClientEngineFactory[Any]:
    if isinstance(target, HttpClientEngineFactory):
        return target
    wrap = "wrap it, MyEngine = tether.engine.EngineFactory(name, EngineClass, ConfigClass), and pass module:MyEngine"
    if isinstance(target, type) and issubclass(target, HttpClientEngine):
        if inspect.isabstract(target):
            raise EngineSpecError(f"engine {spec!r} is an abstract engine class: pass a concrete one, or a factory")
        config_type = _config_type_of(target)
        if config_type is None:
            raise EngineSpecError(
                f"engine {spec!r} is an engine class whose config type cannot be inferred (it is not an "
                f"HttpClientEngineBase[MyConfig] subclass): {wrap}"
            )
        name = getattr(target, "name", None)
        return EngineFactory(name if isinstance(name, str) and name else target.__name__, target, config_type)
    raise EngineSpecError(f"engine {spec!r} is {target!r}, neither an engine factory nor an engine class: {wrap}")


def _config_type_of(engine_type: type) -> type[HttpClientEngineConfig] | None:
    """`MyConfig` for `class MyEngine(HttpClientEngineBase[MyConfig])` (or a subclass of it)."""
    for klass in engine_type.__mro__:
        for base in getattr(klass, "__orig_bases__", ()):
            origin, args = get_origin(base), get_args(base)
            config = args[0] if args else None
            engine_base = isinstance(origin, type) and issubclass(origin, HttpClientEngineBase)
            if engine_base and isinstance(config, type) and issubclass(config, HttpClientEngineConfig):
                return config
    return None


@dataclass(frozen=True)
class EngineProfile:
    """What an engine built with its default config declares (`capabilities`) and, for capabilities
    it lacks, the engine's `capability_hint` when a setting turns one on (Curl's duplex streaming)."""

    capabilities: frozenset[Capability]
    hints: Mapping[Capability, str] = field(default_factory=dict)


async def engine_profile(factory: HttpClientEngineFactory[Any], wanted: Iterable[Capability] = ()) -> EngineProfile:
    """Build one engine with the default config and read its capabilities (and hints for `wanted`)."""
    engine = factory.create(factory.create_config())
    try:
        capabilities = engine.capabilities
        hints = {c: hint for c in wanted if c not in capabilities and (hint := engine.capability_hint(c))}
        return EngineProfile(capabilities, hints)
    finally:
        await engine.close()


async def engine_capabilities(factory: HttpClientEngineFactory[Any]) -> frozenset[Capability]:
    return (await engine_profile(factory)).capabilities


def _names(capabilities: Iterable[object]) -> str:
    return ", ".join(sorted(str(c) for c in capabilities))


def _unsupported_in(exc: BaseException) -> UnsupportedCapabilityError | None:
    """The `UnsupportedCapabilityError` that `exc` is or was raised from (a wrapper's cause)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, UnsupportedCapabilityError):
            return current
        seen.add(id(current))
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return None


async def run_case(
    case: Case,
    factory: HttpClientEngineFactory[Any],
    env: ServerEnvironment,
    capabilities: EngineProfile | frozenset[Capability] | None = None,
    *,
    _watchdog: _Watchdog | None = None,
) -> Verdict:
    """Run one case on one engine. A case requiring a capability the engine does not declare (and
    no setting turns on) is "unsupported" without running; `capabilities` is the engine's profile
    (`engine_profile`), or its capabilities, or None to build an engine and read them."""
    if isinstance(capabilities, EngineProfile):
        profile = capabilities
    elif capabilities is not None and case.requires <= capabilities:
        profile = EngineProfile(capabilities)
    else:  # something the case needs is missing: can a setting turn it on?
        profile = await engine_profile(factory, case.requires)
    lacking = [c for c in case.requires - profile.capabilities if c not in profile.hints]
    if lacking:
        return Verdict(factory.name, case.id, UNSUPPORTED, f"{factory.name} does not declare {_names(lacking)}")

    context = CaseContext(env, factory)
    before = env.requests_seen
    started = time.perf_counter()
    outcome, message = PASS, ""

    def declared() -> frozenset[Capability]:
        # What the engine the case actually built declares: its config may opt in (duplex on Curl).
        return context.engine_capabilities or profile.capabilities

    def judge(exc: UnsupportedCapabilityError) -> tuple[str, str]:
        capability = exc.capability
        if capability in declared():
            return FAIL, f"the engine declares {capability} but raised UnsupportedCapabilityError: {exc}"
        if capability not in case.requires:
            return FAIL, (
                f"suite bug: the case needs {capability}, which {factory.name} does not declare, but its "
                f"@case(...) is missing requires=[{capability}] (so engines without it FAIL instead of "
                f"reporting unsupported): {exc}"
            )
        if env.requests_seen != before:
            return FAIL, f"UnsupportedCapabilityError came after I/O: {exc}"
        return UNSUPPORTED, str(exc)

    try:
        if _watchdog is not None:
            _watchdog.watch(factory.name, case.id, "the case body", case.timeout)
        await asyncio.wait_for(case.body(context), case.timeout)
        if case.requires - declared():
            outcome, message = (
                FAIL,
                f"engine lacks {_names(case.requires - declared())} but the case ran without "
                "UnsupportedCapabilityError",
            )
    except Exception as exc:
        unsupported = _unsupported_in(exc)
        outcome = FAIL
        if unsupported is not None:
            outcome, message = judge(unsupported)
        elif isinstance(exc, asyncio.TimeoutError):
            message = f"timed out after {case.timeout:g} s"
        elif isinstance(exc, AssertionError):
            message = str(exc) or "assertion failed"
        else:
            message = f"{class_names(type(exc))[0]}: {exc}\n" + "".join(traceback.format_exception(exc)[-3:])
    finally:
        try:  # a client that cannot close cleanly is a failure too
            if _watchdog is not None:
                _watchdog.watch(factory.name, case.id, "closing the case's clients", CLOSE_TIMEOUT)
            await asyncio.wait_for(context.close(), CLOSE_TIMEOUT)
        except Exception as exc:
            if outcome != FAIL:
                what = f"took over {CLOSE_TIMEOUT:g} s" if isinstance(exc, asyncio.TimeoutError) else "failed"
                outcome, message = FAIL, f"closing the client {what}: {class_names(type(exc))[0]}: {exc}"
        finally:
            if _watchdog is not None:
                _watchdog.idle()
    return Verdict(factory.name, case.id, outcome, message.strip(), time.perf_counter() - started)


@dataclass
class HangReport:
    """A case still running `hang_grace` seconds past its bound: the event loop was blocked (or the
    case ignores cancellation), so `asyncio.wait_for` could not end it."""

    engine: str
    case: str
    phase: str
    bound: float
    elapsed: float
    loop_idle_for: float
    stacks: dict[str, str]
    #: The verdicts so far, the hung case's FAIL last.
    verdicts: list[Verdict]

    def describe(self) -> str:
        state = (
            f"the event loop has not run for {self.loop_idle_for:.1f} s (blocked)"
            if self.loop_idle_for > 1.0
            else "the event loop is running but the case did not end (does it ignore cancellation?)"
        )
        lines = [
            f"conformance: HUNG: {self.engine} {self.case}: {self.phase} still running after {self.elapsed:.1f} s "
            f"(bound {self.bound:g} s); {state}. The run is aborted.",
        ]
        for name, stack in self.stacks.items():
            lines += ["", f"Thread {name} (most recent call last):", stack.rstrip()]
        return "\n".join(lines)


class _Watchdog:
    """A thread that notices a case running past its bound while the loop cannot end it."""

    def __init__(
        self,
        grace: float,
        on_hang: Callable[[HangReport], None],
        verdicts: list[Verdict],
        interval: float = 0.25,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._grace = grace
        self._on_hang = on_hang
        self._verdicts = verdicts
        self._interval = interval
        self._lock = threading.Lock()
        self._current: tuple[str, str, str, float, float] | None = None
        self._beat = time.monotonic()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tether-conformance-watchdog", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def watch(self, engine: str, case: str, phase: str, bound: float) -> None:
        with self._lock:
            self._current = (engine, case, phase, bound, time.monotonic())

    def idle(self) -> None:
        with self._lock:
            self._current = None

    def _tick(self) -> None:
        self._beat = time.monotonic()

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                self._loop.call_soon_threadsafe(self._tick)
            except RuntimeError:  # the loop is closed
                return
            with self._lock:
                current = self._current
            if current is None:
                continue
            engine, case, phase, bound, since = current
            now = time.monotonic()
            if now - since <= bound + self._grace:
                continue
            threads = {t.ident: t.name for t in threading.enumerate()}
            frames = sys._current_frames()
            order = [self._loop_thread] + [i for i in frames if i not in (self._loop_thread, threading.get_ident())]
            stacks = {
                f"{threads.get(ident, ident)}{' (the event loop)' if ident == self._loop_thread else ''}": "".join(
                    traceback.format_stack(frames[ident])
                )
                for ident in order
                if ident in frames
            }
            message = f"{phase} hung: still running {now - since:.1f} s after it started (bound {bound:g} s)"
            verdicts = [*self._verdicts, Verdict(engine, case, FAIL, message, now - since)]
            self._on_hang(HangReport(engine, case, phase, bound, now - since, now - self._beat, stacks, verdicts))
            return


def abort_run(report: HangReport, style: str = "text") -> None:
    """The default answer to a hang: the report on stderr, the matrix so far (the hung case FAILed)
    on stdout, and the process ends with status 1: a blocked event loop cannot be unblocked from here."""
    try:
        sys.stdout.write(render(report.verdicts, style) + "\n")
        sys.stdout.flush()
        sys.stderr.write(report.describe() + "\n")
        sys.stderr.flush()
    finally:
        os._exit(1)


async def run_matrix(
    factories: Sequence[HttpClientEngineFactory[Any]],
    cases: Iterable[Case],
    env: ServerEnvironment,
    *,
    progress: Callable[[Verdict, int, int], None] | None = None,
    hang_grace: float | None = DEFAULT_HANG_GRACE,
    on_hang: Callable[[HangReport], None] | None = None,
) -> list[Verdict]:
    """Every case on every engine. `progress(verdict, done, total)` is called as each case ends;
    `hang_grace` (None: no watchdog) and `on_hang` (default `abort_run`) handle a case the event loop
    cannot end."""
    verdicts: list[Verdict] = []
    selected = list(cases)
    wanted = frozenset().union(*(c.requires for c in selected))
    total = len(factories) * len(selected)
    watchdog = None
    if hang_grace is not None:
        watchdog = _Watchdog(hang_grace, on_hang or abort_run, verdicts)
        watchdog.start()
    try:
        for factory in factories:
            profile: EngineProfile | str
            try:
                if watchdog is not None:
                    watchdog.watch(factory.name, "(creating the engine)", "creating the engine", CLOSE_TIMEOUT)
                profile = await engine_profile(factory, wanted)
            except Exception as exc:
                profile = f"creating the engine failed: {class_names(type(exc))[0]}: {exc}"
            finally:
                if watchdog is not None:
                    watchdog.idle()
            for case in selected:
                if isinstance(profile, str):
                    verdict = Verdict(factory.name, case.id, FAIL, profile)
                else:
                    verdict = await run_case(case, factory, env, profile, _watchdog=watchdog)
                verdicts.append(verdict)
                if progress is not None:
                    progress(verdict, len(verdicts), total)
    finally:
        if watchdog is not None:
            watchdog.stop()
    return verdicts


def summary_line(verdicts: Sequence[Verdict]) -> str:
    counts = {o: sum(v.outcome == o for v in verdicts) for o in (PASS, UNSUPPORTED, FAIL)}
    return f"conformance: {counts[PASS]} passed, {counts[UNSUPPORTED]} unsupported, {counts[FAIL]} failed"


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
