"""`python -m tether_conformance [--engine NAME|module:Factory ...] [--format text|markdown|json]`

Runs every conformance case against each engine (all registered engines by default), prints the
matrix and exits 1 when any case FAILs.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from tether.engine import discover_engines
from tether_conformance.runner import FAIL, load_cases, load_engine, render, run_matrix
from tether_conformance.servers import ServerEnvironment


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tether_conformance", description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", action="append", default=[], help="engine name or module:Factory (repeatable)")
    parser.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    parser.add_argument("--case", action="append", default=[], help="run only cases whose id contains this")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    args = parser.parse_args(argv)

    cases = load_cases()
    selected = [c for c in cases.values() if not args.case or any(p in c.id for p in args.case)]
    if args.list:
        for c in selected:
            needs = f"  (requires {', '.join(sorted(map(str, c.requires)))})" if c.requires else ""
            print(f"{c.id}{needs}")
        return 0
    if args.engine:
        factories = [load_engine(spec) for spec in args.engine]
    else:
        loaded, failed = discover_engines()
        for name, reason in failed.items():
            print(f"note: engine {name} not loaded: {reason}", file=sys.stderr)
        factories = list(loaded.values())
    if not factories:
        print("no engine to test", file=sys.stderr)
        return 2
    with ServerEnvironment() as env:
        verdicts = asyncio.run(run_matrix(factories, selected, env))
    print(render(verdicts, args.format))
    return 1 if any(v.outcome == FAIL for v in verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
