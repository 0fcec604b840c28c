"""The Autobahn TestSuite cases through `client.websocket`, served by kosoku's fuzzing server.

    results = await run_autobahn(Curl, ["1.*", "2.*"])      # one CaseResult per case

The client side is the usual Autobahn echo client: ask `/getCaseCount`, then for each case connect
to `/runCase?case=N` and echo every message until the server closes, then `/updateReports`.
`python -m tether_conformance.autobahn --cases '12.*' '13.*'` prints a Markdown summary per engine.

Groups 13.2-13.7 test permessage-deflate parameters the server only uses when the client offers
them, so each runs on a fuzzing server of its own with the offer in `DEFLATE_OFFERS`; everything
else runs on one server with tether's default offer.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import fnmatch
import time
from collections.abc import Sequence
from typing import Any

from tether import HttpClient, HttpClientConfig
from tether.engine import HttpClientEngineFactory, discover_engines
from tether.exceptions import TetherError
from tether.websockets import WebSockets

__all__ = ["CASES_1_TO_10", "DEFLATE_OFFERS", "run_autobahn"]

#: Autobahn's cases 1-10 (there is no group 8): 301 cases.
CASES_1_TO_10 = ("1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "9.*", "10.*")
#: Autobahn's top-level groups (to select one sub-group by excluding all the others).
_GROUPS = ("1", "2", "3", "4", "5", "6", "7", "9", "10", "12", "13")

#: The WebSockets settings each 13.x group runs with: Autobahn's own client offers in those groups
#: (`server_no_context_takeover`, `server_max_window_bits`), plus `client_no_context_takeover`, which
#: Autobahn's client always offers and its server needs before it asks the client for it (13.2,
#: 13.5-13.7). 13.4 also offers a client window of 12 bits, which the client keeps to when the
#: server allows 15. (13.7's client offers three alternatives; tether offers one, the first.)
DEFLATE_OFFERS: dict[str, dict[str, Any]] = {
    "13.2": {"server_no_context_takeover": True, "client_no_context_takeover": True},
    "13.3": {"server_max_window_bits": 9},
    "13.4": {"server_max_window_bits": 15, "client_max_window_bits": 12},
    "13.5": {"server_no_context_takeover": True, "server_max_window_bits": 9, "client_no_context_takeover": True},
    "13.6": {"server_no_context_takeover": True, "server_max_window_bits": 15, "client_no_context_takeover": True},
    "13.7": {"server_no_context_takeover": True, "server_max_window_bits": 9, "client_no_context_takeover": True},
}


async def run_autobahn(factory: HttpClientEngineFactory[Any], cases: Sequence[str]) -> list[Any]:
    """Run the cases against a client on `factory`; returns kosoku's results (every case, passed or
    not), each 13.x group with its offer from `DEFLATE_OFFERS`."""
    results = await _run_server(factory, cases, [f"{group}.*" for group in DEFLATE_OFFERS], {})
    for group, settings in DEFLATE_OFFERS.items():
        if not any(fnmatch.fnmatchcase(f"{group}.{case}", pattern) for pattern in cases for case in range(1, 19)):
            continue  # none of the group's 18 cases is selected
        major = group.split(".")[0]
        others = [f"{name}.*" for name in _GROUPS if name != major]
        others += [f"{sibling}.*" for sibling in (f"{major}.{minor}" for minor in range(1, 10)) if sibling != group]
        results += await _run_server(factory, cases, others, settings)
    return results


async def _run_server(
    factory: HttpClientEngineFactory[Any], cases: Sequence[str], excluded: Sequence[str], settings: dict[str, Any]
) -> list[Any]:
    """One fuzzing server for `cases` minus `excluded`, the client configured with `settings`."""
    from kosoku import FailureError, run_fuzzingserver

    agent = f"tether-{factory.name.lower()}"

    def configure(config: HttpClientConfig[Any]) -> None:
        config.install(WebSockets, **settings)

    server_cases = run_fuzzingserver(cases=list(cases), exclude_cases=list(excluded), port=0)
    async with server_cases as server, HttpClient(factory, configure) as client:
        base = f"ws://{server.address}:{server.port}"
        async with client.websocket(f"{base}/getCaseCount") as ws:
            count = int(await ws.receive_text())
        for index in range(1, count + 1):
            # A case that makes the session fail is judged by the server, not here.
            with contextlib.suppress(TetherError):
                async with client.websocket(f"{base}/runCase?case={index}&agent={agent}") as ws:
                    async for message in ws:
                        await ws.send(message.data)
        async with client.websocket(f"{base}/updateReports?agent={agent}"):
            pass
        results: list[Any]
        try:
            results = await server.get_result()
        except FailureError as exc:
            # Only the failed ones are attached: the passed ones count as None.
            results = list(exc.results) + [None] * (count - len(exc.results))
    return results


def summary(results: list[Any]) -> tuple[int, int, dict[str, int]]:
    """(passed, total, verdict counts) -- a None entry stands for a passed case."""
    verdicts: collections.Counter[str] = collections.Counter()
    passed = 0
    for result in results:
        if result is None or result.passed:
            passed += 1
            verdicts["OK" if result is None else result.behavior.value] += 1
        else:
            verdicts[f"{result.behavior.value}/{result.behavior_close.value}"] += 1
    return passed, len(results), dict(verdicts)


async def _main(cases: Sequence[str], engines: Sequence[str]) -> None:
    factories, _ = discover_engines()
    print("| engine | cases | passed | verdicts | seconds |")
    print("|---|---|---|---|---|")
    for name in engines or sorted(factories):
        started = time.perf_counter()
        results = await run_autobahn(factories[name], cases)
        passed, total, verdicts = summary(results)
        detail = ", ".join(f"{key} {value}" for key, value in sorted(verdicts.items()))
        elapsed = time.perf_counter() - started
        print(f"| {name} | {' '.join(cases)} | {passed}/{total} | {detail} | {elapsed:.0f} |", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", nargs="+", default=list(CASES_1_TO_10))
    parser.add_argument("--engine", action="append", default=[])
    arguments = parser.parse_args()
    asyncio.run(_main(arguments.cases, arguments.engine))
