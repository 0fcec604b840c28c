"""The benchmark harness's own bookkeeping (no server, no timing): what a worker reports as its peak
RSS, and how the runner keeps the figures of a worker that dies at interpreter exit."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from benchmarks import peers
from benchmarks.run import run_worker

SPEC = {"contestant": "tether-sse-parser", "url": "", "n": 2000, "concurrency": 1, "ca_file": ""}


def test_a_workers_peak_rss_is_its_own_not_its_parents() -> None:
    # The parent grows far past anything the worker needs; ru_maxrss would carry that peak into the
    # child across fork and exec, and every contestant would show the runner's size.
    ballast = bytearray(384 * 2**20)
    for offset in range(0, len(ballast), 4096):
        ballast[offset] = 1  # touch every page: resident, not just reserved
    measured = run_worker(SPEC)
    assert 0 < measured["rss_mb"] < 192
    assert ballast[0] == 1  # alive until the worker has run


def test_figures_printed_before_a_crash_at_exit_are_kept_and_marked(tmp_path: Path) -> None:
    # A stand-in interpreter: the real worker, then a hard exit status, as a peer whose native
    # runtime fails while the interpreter shuts down.
    python = tmp_path / "python"
    python.write_text(f'#!/bin/sh\n"{sys.executable}" "$@" || exit 1\nexit 134\n')
    python.chmod(0o755)
    measured = run_worker(SPEC, str(python))
    assert measured["exit_status"] == 134
    assert measured["requests"] > 0


def test_a_worker_that_prints_no_figures_fails() -> None:
    with pytest.raises(RuntimeError, match="no-such-contestant failed"):
        run_worker({**SPEC, "contestant": "no-such-contestant"})


def test_peers_never_installed_here_are_reported_as_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(peers, "STATUS", Path("/nonexistent/status.json"))
    status = peers.status()
    assert set(status) == {"curl_cffi", "pyreqwest", "rnet", "niquests", "aiosonic"}
    assert all(not entry["installed"] and "make bench" in entry["reason"] for entry in status.values())
