"""`prime_read_buffers`: once an asyncio-transport engine exists, asyncio's 256 KiB per-read buffers
come from glibc's heap instead of a fresh mmap per read. Each check runs in a fresh interpreter,
because the allocator state is process-wide and anything earlier in the test run may have moved it.

There is no "without an engine it maps" control: whether a fresh process already moved glibc's
threshold depends on what it did first (compiling a stale module can), which is the very lottery the
priming ends. With `prime_read_buffers` made a no-op these tests fail on a warm install.
"""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

PROBE = """
import ctypes, sys
class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Info
import tether_aiohttp, tether_curl, tether_httpx
from tether import HttpClient
if sys.argv[1] == "aiohttp":
    HttpClient(tether_aiohttp.Aiohttp)
elif sys.argv[1] == "httpx":
    HttpClient(tether_httpx.Httpx)
elif sys.argv[1] == "curl":
    HttpClient(tether_curl.Curl)
mapped = libc.mallinfo2().hblks
# what asyncio's transports allocate for every read; the Curl engine's largest body batch
buffer = bytearray(256 * 1024 if sys.argv[1] != "curl" else 1024 * 1024 + 16 * 1024)
print("mmap" if libc.mallinfo2().hblks > mapped else "heap")
"""

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's allocator behaviour"
)


def where_read_buffers_come_from(setup: str) -> str:
    result = subprocess.run(
        [sys.executable, "-I", "-c", PROBE, setup], capture_output=True, text=True, timeout=60, check=True
    )
    return result.stdout.strip()


@pytest.mark.parametrize("engine", ["aiohttp", "httpx"])
def test_an_asyncio_transport_engine_lets_read_buffers_come_from_the_heap(engine: str) -> None:
    assert where_read_buffers_come_from(engine) == "heap"


def test_the_curl_engine_lets_its_body_batches_come_from_the_heap() -> None:
    assert where_read_buffers_come_from("curl") == "heap"
