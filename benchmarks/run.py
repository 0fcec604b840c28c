"""tether's benchmark harness: `make bench` (full, about 15 minutes) or `make bench-quick` (about 4).

Every scenario runs each contestant in a fresh process, alternating contestants over several rounds;
the table shows medians. nginx (the harness's own config, on loopback) is the server, and `wrk` /
`h2load` on the same scenario show the machine's ceiling. The peers (other fast Python clients, see
`benchmarks/peers.py`) run from their own virtual environment; one that is not installed is listed
as such. Results go to the terminal and to `benchmarks/results/latest.json`, with the ratios
tether's targets are stated in.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import peers, websocket
from benchmarks.contestants import PEERS
from benchmarks.server import NginxServer

RESULTS = Path(__file__).parent / "results"

HTTP1 = [
    "tether+curl",
    "tether+aiohttp",
    "tether+httpx",
    "tether+urllib3",
    "aiohttp",
    "httpx",
    "pycurl-multi",
    "urllib3",
    "requests",
]
#: The peers, by contestant name (their own virtual environment: benchmarks/peers.py).
PEER_NAMES = list(PEERS)


@dataclass
class Scenario:
    name: str
    path: str
    concurrency: int
    n_full: int
    n_quick: int
    contestants: list[str]
    method: str = "GET"
    tls: bool = False
    http2: bool = False
    read_to: bool = False
    ceiling: str | None = None  # "wrk" or "h2load"
    #: Body bytes every response must carry (a guard against measuring error pages).
    body_size: int | None = None
    #: Request body bytes of a POST.
    payload_size: int = 1024


SCENARIOS = [
    Scenario("get-1k-c1", "/1k", 1, 4000, 1000, [*HTTP1, "aiohttp-primed", *PEER_NAMES], ceiling="wrk", body_size=1024),
    Scenario(
        "get-1k-c64", "/1k", 64, 20000, 3000, [*HTTP1, "aiohttp-primed", *PEER_NAMES], ceiling="wrk", body_size=1024
    ),
    Scenario("get-100k-c16", "/100k", 16, 5000, 1000, HTTP1, ceiling="wrk", body_size=100 * 1024),
    Scenario("post-1k-c64", "/post", 64, 20000, 3000, HTTP1, method="POST", body_size=2),
    # nginx reads every byte of the body (the echo module's echo_read_request_body) before it answers.
    Scenario(
        "post-1m-c16",
        "/upload",
        16,
        2000,
        300,
        [*(c for c in HTTP1 if c != "requests"), *PEER_NAMES],
        method="POST",
        body_size=3,
        payload_size=2**20,
    ),
    Scenario(
        "h2-tls-get-1k-c64",
        "/1k",
        64,
        20000,
        4000,
        ["tether+curl", "tether+httpx", "httpx", "pycurl-multi", *PEER_NAMES],
        tls=True,
        http2=True,
        ceiling="h2load",
        body_size=1024,
    ),
    Scenario(
        "download-100m-read-to",
        "/100m",
        1,
        2,
        1,
        [
            *(f"tether+{engine}" for engine in ("curl", "aiohttp", "httpx", "urllib3")),
            *(f"tether+{engine}:memory-sink" for engine in ("curl", "aiohttp", "httpx", "urllib3")),
            "pycurl-multi",
            "aiohttp",
            "httpx",
            "urllib3",
            *PEER_NAMES,
        ],
        read_to=True,
        body_size=100 * 1024 * 1024,
    ),
    Scenario("sse-parse-100k-events", "", 1, 100_000, 100_000, ["tether-sse-parser", "httpx-sse-parser"]),
    Scenario("sync-get-1k-c1", "/1k", 1, 4000, 1000, ["tether.sync+curl", "requests", "urllib3"], body_size=1024),
]


@dataclass
class Result:
    scenario: str
    contestant: str
    rounds: list[dict[str, Any]] = field(default_factory=list)

    def median(self, key: str) -> float:
        return statistics.median(r[key] for r in self.rounds)

    @property
    def rps(self) -> float:
        return statistics.median(r["requests"] / r["wall"] for r in self.rounds)

    @property
    def cpu_us(self) -> float:
        return statistics.median(r["cpu"] / r["requests"] * 1e6 for r in self.rounds)

    @property
    def mib_per_s(self) -> float:
        return statistics.median(r["bytes"] / r["wall"] / 2**20 for r in self.rounds)

    @property
    def crashed_at_exit(self) -> int:
        """Rounds whose worker printed its figures and then died on the way out (kept, and said)."""
        return sum(1 for r in self.rounds if r.get("exit_status"))

    def as_dict(self) -> dict[str, Any]:
        out = {
            "requests_per_s": round(self.rps, 1),
            "cpu_us_per_request": round(self.cpu_us, 1),
            "peak_rss_mib": round(self.median("rss_mb"), 1),
            "mib_per_s": round(self.mib_per_s, 1),
            "rounds": self.rounds,
        }
        if self.crashed_at_exit:
            codes = sorted({r["exit_status"] for r in self.rounds if r.get("exit_status")})
            out["crashed_at_exit"] = f"{self.crashed_at_exit} of {len(self.rounds)} rounds (exit status {codes})"
        return out


def run_worker(spec: dict[str, Any], python: str = sys.executable) -> dict[str, Any]:
    """One measurement in a fresh `python` process. A worker that printed its figures and then
    failed at interpreter exit (a peer's native runtime tearing down) is kept, with `exit_status`."""
    process = subprocess.run(
        [python, "-m", "benchmarks.worker", json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).parent.parent,
    )
    lines = process.stdout.strip().splitlines()
    try:
        result: dict[str, Any] = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        result = {}
    if result.get("contestant") != spec["contestant"]:
        raise RuntimeError(f"{spec['contestant']} failed: {process.stderr.strip()[-800:]}")
    if process.returncode != 0:
        result["exit_status"] = process.returncode
    return result


def ceiling(tool: str, url: str, concurrency: int, quick: bool) -> float | None:
    if shutil.which(tool) is None:
        return None
    if tool == "wrk":
        seconds = "2s" if quick else "4s"
        out = subprocess.run(
            ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds}", url], capture_output=True, text=True
        ).stdout
        match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    else:
        n = "20000" if quick else "60000"
        out = subprocess.run(["h2load", "-n", n, "-c", str(concurrency), url], capture_output=True, text=True).stdout
        match = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out)
    return float(match.group(1)) if match else None


#: In a target, the peer with the most requests/s in that scenario (among those that ran).
FASTEST_PEER = "fastest peer"
#: A target's measure: requests/s (a ratio to reach or beat) or client CPU per request (not to exceed).
RPS, CPU = "req/s", "CPU/req"


def _pick(results: dict[tuple[str, str], Result], scenario: str, name: str) -> Result | None:
    if name == FASTEST_PEER:
        ran = [r for p in PEERS if (r := results.get((scenario, p))) is not None and r.rounds]
        return max(ran, key=lambda r: r.rps, default=None)
    found = results.get((scenario, name))
    return found if found is not None and found.rounds else None


def ratio(results: dict[tuple[str, str], Result], scenario: str, a: str, b: str, measure: str = RPS) -> float | None:
    first, second = _pick(results, scenario, a), _pick(results, scenario, b)
    if first is None or second is None:
        return None
    if measure == CPU:
        return round(first.cpu_us / second.cpu_us, 3)
    return round(first.rps / second.rps, 3)


def met(value: float | None, goal: float, measure: str) -> bool:
    return value is not None and (value <= goal if measure == CPU else value >= goal)


DOWNLOAD = "download-100m-read-to"
TARGETS: list[tuple[str, str, str, str, float, str]] = [
    ("tether+aiohttp / aiohttp, 1 KiB GET c64", "get-1k-c64", "tether+aiohttp", "aiohttp", 0.90, RPS),
    ("tether+aiohttp / aiohttp, 1 KiB GET c1", "get-1k-c1", "tether+aiohttp", "aiohttp", 0.90, RPS),
    ("tether+httpx / httpx, 1 KiB GET c64", "get-1k-c64", "tether+httpx", "httpx", 0.90, RPS),
    ("tether+httpx / httpx, 1 KiB GET c1", "get-1k-c1", "tether+httpx", "httpx", 0.90, RPS),
    ("tether+urllib3 / urllib3, 1 KiB GET c64", "get-1k-c64", "tether+urllib3", "urllib3", 0.90, RPS),
    ("tether+urllib3 / urllib3, 1 KiB GET c1", "get-1k-c1", "tether+urllib3", "urllib3", 0.90, RPS),
    ("tether+urllib3 / urllib3, 100 KiB GET c16", "get-100k-c16", "tether+urllib3", "urllib3", 0.90, RPS),
    ("tether+curl / aiohttp, 1 KiB GET c64 (HTTP/1.1)", "get-1k-c64", "tether+curl", "aiohttp", 2.5, RPS),
    ("tether+curl / httpx, HTTP/2 TLS c64", "h2-tls-get-1k-c64", "tether+curl", "httpx", 3.0, RPS),
    # Issue 19: against the peers and the libcurl floor.
    ("tether+curl / fastest peer, 1 KiB GET c64", "get-1k-c64", "tether+curl", FASTEST_PEER, 1.5, RPS),
    ("tether+curl / fastest peer, 1 KiB GET c1", "get-1k-c1", "tether+curl", FASTEST_PEER, 1.0, RPS),
    ("tether+curl / pycurl-multi, CPU per request, 1 KiB c64", "get-1k-c64", "tether+curl", "pycurl-multi", 1.6, CPU),
    ("tether+curl / fastest peer, HTTP/2 TLS c64", "h2-tls-get-1k-c64", "tether+curl", FASTEST_PEER, 1.3, RPS),
    ("tether+curl / pycurl, 100 MiB download", DOWNLOAD, "tether+curl:memory-sink", "pycurl-multi", 0.9, RPS),
    ("tether+curl / fastest peer, 100 MiB download", DOWNLOAD, "tether+curl:memory-sink", FASTEST_PEER, 1.0, RPS),
    ("tether+aiohttp / aiohttp, 100 MiB download", DOWNLOAD, "tether+aiohttp:memory-sink", "aiohttp", 0.9, RPS),
    ("tether+curl / pycurl-multi, 1 MiB POST c16", "post-1m-c16", "tether+curl", "pycurl-multi", 0.9, RPS),
    ("tether+curl / fastest peer, 1 MiB POST c16", "post-1m-c16", "tether+curl", FASTEST_PEER, 1.0, RPS),
    *(
        (
            f"tether+{engine} read_to a file (on the executor) / into memory, 100 MiB",
            "download-100m-read-to",
            f"tether+{engine}",
            f"tether+{engine}:memory-sink",
            0.90,
            RPS,
        )
        for engine in ("curl", "aiohttp", "httpx", "urllib3")
    ),
    (
        "tether SSE parser / httpx-sse, 100k events/s",
        "sse-parse-100k-events",
        "tether-sse-parser",
        "httpx-sse-parser",
        2.0,
        RPS,
    ),
]


#: Ratios reported beside the targets, without a goal: what they mean is in the label.
INFORMATION = [
    (
        "tether+aiohttp / aiohttp-primed (same allocator state), 1 KiB GET c64",
        "get-1k-c64",
        "tether+aiohttp",
        "aiohttp-primed",
    ),
    (
        "tether+aiohttp / aiohttp-primed (same allocator state), 1 KiB GET c1",
        "get-1k-c1",
        "tether+aiohttp",
        "aiohttp-primed",
    ),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts, 2 rounds (under 2 minutes)")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--scenario", action="append", default=[], help="only scenarios containing this")
    parser.add_argument(
        "--contestant", action="append", default=[], help="only contestants named exactly this (repeatable)"
    )
    args = parser.parse_args(argv)
    rounds = args.rounds or (2 if args.quick else 3)
    selected = [s for s in SCENARIOS if not args.scenario or any(p in s.name for p in args.scenario)]
    results: dict[tuple[str, str], Result] = {}
    ceilings: dict[str, float | None] = {}
    peer_status = peers.status()
    installed = {name for name, state in peer_status.items() if state["installed"]}
    started = time.monotonic()
    with NginxServer() as server:
        for scenario in selected:
            url = server.url(scenario.path, tls=scenario.tls)
            if scenario.ceiling:
                ceilings[scenario.name] = ceiling(scenario.ceiling, url, scenario.concurrency, args.quick)
            n = scenario.n_quick if args.quick else scenario.n_full
            for round_index in range(rounds):
                # Alternate the order each round so no contestant always runs first (or warm).
                chosen = [
                    c
                    for c in scenario.contestants
                    if (not args.contestant or c in args.contestant) and (c not in PEERS or c in installed)
                ]
                order = chosen if round_index % 2 == 0 else list(reversed(chosen))
                for contestant in order:
                    spec = {
                        "contestant": contestant,
                        "url": url,
                        "n": n,
                        "concurrency": scenario.concurrency,
                        "ca_file": server.ca_file,
                        "method": scenario.method,
                        "http2": scenario.http2,
                        "read_to": scenario.read_to,
                        "payload_size": scenario.payload_size,
                        "budget": 1.5 if args.quick else 5.0,
                    }
                    result = results.setdefault((scenario.name, contestant), Result(scenario.name, contestant))
                    try:
                        measured = run_worker(spec, str(peers.PYTHON) if contestant in PEERS else sys.executable)
                        expected = scenario.body_size
                        if expected is not None and measured["bytes"] != expected * measured["requests"]:
                            raise RuntimeError(
                                f"received {measured['bytes']} body bytes for {measured['requests']} requests, "
                                f"expected {expected} each: is the server answering with an error page?"
                            )
                        result.rounds.append(measured)
                    except (RuntimeError, subprocess.TimeoutExpired) as exc:
                        print(f"  ! {scenario.name} {contestant}: {exc}", file=sys.stderr)
            print(f"  {scenario.name} done ({time.monotonic() - started:.0f} s)", file=sys.stderr, flush=True)
    report = render(selected, results, ceilings, peer_status)
    print(report)
    sockets: dict[str, Any] | None = None
    if not args.scenario or any(pattern in "websocket-echo" for pattern in args.scenario):
        sockets = websocket.run(args.quick, rounds)  # its own echo server: not nginx
        print(websocket.render(sockets))
    document = {
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": _cpus()},
        "mode": "quick" if args.quick else "full",
        "rounds": rounds,
        "seconds": round(time.monotonic() - started, 1),
        "ceilings_requests_per_s": ceilings,
        "peers": peer_status,
        "scenarios": {
            scenario.name: {
                c: results[(scenario.name, c)].as_dict()
                for c in scenario.contestants
                if (scenario.name, c) in results and results[(scenario.name, c)].rounds
            }
            for scenario in selected
        },
        "targets": [
            {
                "target": label,
                "measure": measure,
                "ratio": ratio(results, scen, a, b, measure),
                "goal": f"{'<=' if measure == CPU else '>='} {goal}",
                "met": met(ratio(results, scen, a, b, measure), goal, measure),
                **({"fastest_peer": fastest.contestant} if b == FASTEST_PEER and fastest else {}),
            }
            for label, scen, a, b, goal, measure in TARGETS
            for fastest in [_pick(results, scen, FASTEST_PEER)]
        ]
        + streaming_targets(results),
        "websocket": sockets,
        "informational": [
            {"ratio_of": label, "ratio": ratio(results, scen, a, b)} for label, scen, a, b in INFORMATION
        ],
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nwrote {RESULTS / 'latest.json'} in {document['seconds']} s")
    return 0


def streaming_targets(results: dict[tuple[str, str], Result]) -> list[dict[str, Any]]:
    out = []
    for (scenario, contestant), result in sorted(results.items()):
        if scenario == DOWNLOAD and contestant.startswith("tether") and result.rounds:
            rss = max(r["rss_mb"] for r in result.rounds)
            out.append(
                {
                    "target": f"{contestant} 100 MiB read_to peak RSS (MiB)",
                    "value": round(rss, 1),
                    "goal": "< 64",
                    "met": rss < 64,
                }
            )
    return out


def render(
    selected: list[Scenario],
    results: dict[tuple[str, str], Result],
    ceilings: dict[str, float | None],
    peer_status: dict[str, dict[str, Any]],
) -> str:
    lines = []
    for scenario in selected:
        ceiling_value = ceilings.get(scenario.name)
        header = f"\n{scenario.name}" + (
            f"   (ceiling: {scenario.ceiling} {ceiling_value:,.0f} req/s)" if ceiling_value else ""
        )
        lines.append(header)
        lines.append(f"  {'contestant':<26} {'req/s':>9} {'CPU µs/req':>11} {'MiB/s':>8} {'peak RSS MiB':>13}")
        for contestant in scenario.contestants:
            result = results.get((scenario.name, contestant))
            if contestant in PEERS and not peer_status[contestant]["installed"]:
                lines.append(f"  {contestant:<26} {'not installed':>13}: {peer_status[contestant]['reason'][:60]}")
                continue
            if result is None or not result.rounds:
                lines.append(f"  {contestant:<26} {'failed':>9}")
                continue
            note = f"  (crashed at exit after its figures: {result.crashed_at_exit})" if result.crashed_at_exit else ""
            lines.append(
                f"  {contestant:<26} {result.rps:>9,.0f} {result.cpu_us:>11,.0f} {result.mib_per_s:>8,.1f} "
                f"{result.median('rss_mb'):>13,.1f}{note}"
            )
    lines.append("\ntargets (ratios in the same run: requests/s, or client CPU per request where it says so)")
    for label, scen, a, b, goal, measure in TARGETS:
        value = ratio(results, scen, a, b, measure)
        verdict = "n/a" if value is None else ("met" if met(value, goal, measure) else "MISSED")
        fastest = _pick(results, scen, FASTEST_PEER) if b == FASTEST_PEER else None
        who = f"  ({fastest.contestant})" if fastest else ""
        sign = "<=" if measure == CPU else ">="
        lines.append(f"  {label:<50} {value if value is not None else '-':>7}  goal {sign} {goal}  {verdict}{who}")
    for label, scen, a, b in INFORMATION:
        value = ratio(results, scen, a, b)
        lines.append(f"  {label:<50} {value if value is not None else '-':>7}  (information, no goal)")
    for target in streaming_targets(results):
        lines.append(
            f"  {target['target']:<50} {target['value']:>7}  goal {target['goal']}  "
            f"{'met' if target['met'] else 'MISSED'}"
        )
    return "\n".join(lines)


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


if __name__ == "__main__":
    sys.exit(main())
