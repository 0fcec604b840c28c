"""A results file as Markdown tables: `python -m benchmarks.report [benchmarks/results/latest.json]`.

What docs/performance.md's figures are pasted from: one table per scenario (requests/s, client CPU per
request, MiB/s, peak RSS), the peers' install status, and the targets with their ratios.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from benchmarks.run import RESULTS


def render(document: dict[str, Any]) -> str:
    lines = []
    peers: dict[str, dict[str, Any]] = document.get("peers") or {}
    for name, scenario in document["scenarios"].items():
        lines += [
            f"**{name}**",
            "",
            "| contestant | req/s | CPU µs/req | MiB/s | peak RSS MiB |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for contestant, row in scenario.items():
            note = " (crashed at exit after its figures)" if row.get("crashed_at_exit") else ""
            lines.append(
                f"| {contestant}{note} | {row['requests_per_s']:,.0f} | {row['cpu_us_per_request']:,.0f} "
                f"| {row['mib_per_s']:,.1f} | {row['peak_rss_mib']:,.1f} |"
            )
        for peer, state in peers.items():
            if not state["installed"]:
                lines.append(f"| {peer} | not installed: {state['reason']} | | | |")
        lines.append("")
    lines += ["| target | ratio | goal | met |", "| --- | ---: | --- | --- |"]
    for target in document["targets"]:
        value = target.get("ratio", target.get("value"))
        who = f" ({target['fastest_peer']})" if target.get("fastest_peer") else ""
        lines.append(f"| {target['target']}{who} | {value} | {target['goal']} | {'yes' if target['met'] else 'no'} |")
    return "\n".join(lines)


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS / "latest.json"
    print(render(json.loads(path.read_text())))
