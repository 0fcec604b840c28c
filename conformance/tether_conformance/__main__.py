"""`python -m tether_conformance [--engine NAME|module:Factory ...] [--format text|markdown|json]`

Runs every conformance case against each engine (all registered engines by default), prints the
matrix and exits 1 when any case FAILs (2 on a usage error: an unknown engine, a --case that matches
nothing).
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import functools
import sys

from tether.engine import discover_engines
from tether_conformance.registry import Case
from tether_conformance.runner import (
    DEFAULT_HANG_GRACE,
    FAIL,
    EngineSpecError,
    Verdict,
    abort_run,
    load_cases,
    load_engine,
    render,
    run_matrix,
)
from tether_conformance.servers import ServerEnvironment


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tether_conformance", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--engine",
        action="append",
        default=[],
        help="an installed engine's name, or package.module:Factory (an EngineFactory, or an "
        "HttpClientEngineBase[Config] subclass); repeatable",
    )
    parser.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    parser.add_argument(
        "--case", action="append", default=[], help="run only cases whose id contains this (repeatable)"
    )
    parser.add_argument(
        "--cases-module",
        action="append",
        default=[],
        metavar="MODULE",
        help="import this module of your own @case functions too, before --case filters (repeatable)",
    )
    parser.add_argument("--list", action="store_true", help="list the (selected) cases and exit")
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a line on stderr as each case ends (default: when stderr is a terminal)",
    )
    parser.add_argument(
        "--hang-grace",
        type=float,
        default=DEFAULT_HANG_GRACE,
        metavar="SECONDS",
        help="abort the run when a case is still running this long after its timeout (the event loop "
        f"is blocked), naming it and showing its stack (default {DEFAULT_HANG_GRACE:g})",
    )
    args = parser.parse_args(argv)

    for module in args.cases_module:
        try:
            load_cases([module])
        except ModuleNotFoundError as exc:
            if exc.name is None or not (module + ".").startswith(exc.name + "."):
                raise  # the module exists; something it imports is missing: the traceback says what
            print(f"error: --cases-module {module}: there is no module {exc.name!r} on sys.path", file=sys.stderr)
            return 2
    cases = load_cases()
    unmatched = [p for p in args.case if not any(p in c.id for c in cases.values())]
    if unmatched:
        for pattern in unmatched:
            print(f"error: --case {pattern!r} matches no case{_close_matches(pattern, cases)}", file=sys.stderr)
        print("See every case id with: python -m tether_conformance --list", file=sys.stderr)
        return 2
    selected = [c for c in cases.values() if not args.case or any(p in c.id for p in args.case)]
    if args.list:
        for c in selected:
            needs = f"  (requires {', '.join(sorted(map(str, c.requires)))})" if c.requires else ""
            print(f"{c.id}{needs}")
        return 0
    try:
        if args.engine:
            factories = [load_engine(spec) for spec in args.engine]
        else:
            loaded, failed = discover_engines()
            for name, reason in failed.items():
                print(f"note: engine {name} not loaded: {reason}", file=sys.stderr)
            factories = list(loaded.values())
    except EngineSpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not factories:
        print("no engine to test", file=sys.stderr)
        return 2
    show_progress = sys.stderr.isatty() if args.progress is None else args.progress
    with ServerEnvironment() as env:
        verdicts = asyncio.run(
            run_matrix(
                factories,
                selected,
                env,
                progress=_print_progress if show_progress else None,
                hang_grace=args.hang_grace if args.hang_grace > 0 else None,
                on_hang=functools.partial(abort_run, style=args.format),
            )
        )
    print(render(verdicts, args.format))
    return 1 if any(v.outcome == FAIL for v in verdicts) else 0


def _close_matches(pattern: str, cases: dict[str, Case]) -> str:
    candidates = {c.id for c in cases.values()} | {f"{c.group}/" for c in cases.values()}
    candidates |= {c.name for c in cases.values()}
    close = difflib.get_close_matches(pattern, sorted(candidates), n=5, cutoff=0.6)
    return f" (close: {', '.join(close)})" if close else ""


def _print_progress(verdict: Verdict, done: int, total: int) -> None:
    first_line = verdict.message.splitlines()[0] if verdict.outcome == FAIL and verdict.message else ""
    detail = f": {first_line[:160]}" if first_line else ""
    count = f"[{done:>{len(str(total))}}/{total}]"
    print(
        f"{count} {verdict.engine} {verdict.case} {verdict.outcome} ({verdict.seconds:.1f} s){detail}",
        file=sys.stderr,
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
