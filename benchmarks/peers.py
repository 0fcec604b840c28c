"""The peers' own virtual environment: `python -m benchmarks.peers install` (run by `make bench`).

Each peer in `peers.txt` is installed on its own, from wheels only, into `.venv-peers` (ignored by
git), and the outcome -- its version, or why it could not be installed -- goes to
`.venv-peers/status.json`. The harness runs a peer's workers with that environment's interpreter
and reports a peer that is not installed as such. Nothing is fetched when the benchmarks run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parent.parent
VENV = ROOT / ".venv-peers"
PYTHON = VENV / "bin" / "python"
STATUS = VENV / "status.json"
REQUIREMENTS = Path(__file__).with_name("peers.txt")

__all__ = ["PYTHON", "install", "requirements", "status"]


def requirements() -> dict[str, str]:
    """Peer name -> pinned requirement, in the order of `peers.txt`."""
    out = {}
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out[line.split("==", 1)[0]] = line
    return out


def install() -> dict[str, dict[str, Any]]:
    """Create `.venv-peers` if missing, install every peer on its own, write and return the status."""
    if not PYTHON.exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    outcome: dict[str, dict[str, Any]] = {}
    for name, requirement in requirements().items():
        pip = [str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        process = subprocess.run(
            [*pip, "--only-binary", ":all:", requirement],
            capture_output=True,
            text=True,
        )
        if process.returncode == 0:
            outcome[name] = {"installed": True, "requirement": requirement}
        else:
            lines = [line for line in process.stderr.splitlines() if line.startswith("ERROR")] or [
                process.stderr.strip()[-300:]
            ]
            outcome[name] = {"installed": False, "requirement": requirement, "reason": " ".join(lines)[:300]}
        state = "installed" if outcome[name]["installed"] else f"NOT installed: {outcome[name]['reason']}"
        print(f"  peer {requirement}: {state}", flush=True)
    STATUS.write_text(json.dumps(outcome, indent=2) + "\n")
    return outcome


def status() -> dict[str, dict[str, Any]]:
    """What `install` recorded; every peer "not installed" when it never ran here."""
    wanted = requirements()
    recorded: dict[str, dict[str, Any]] = json.loads(STATUS.read_text()) if STATUS.exists() else {}
    missing = {
        "installed": False,
        "reason": "not installed here: `make bench` (or `python -m benchmarks.peers install`) installs it",
    }
    return {name: recorded.get(name) or {"requirement": requirement, **missing} for name, requirement in wanted.items()}


if __name__ == "__main__":
    if sys.argv[1:] != ["install"]:
        raise SystemExit("usage: python -m benchmarks.peers install")
    results = install()
    print(f"{sum(r['installed'] for r in results.values())} of {len(results)} peers installed into {VENV}")
