"""RST_STREAM(NO_ERROR) before END_STREAM, on a response without Content-Length: the body is incomplete
whatever the error code (RFC 9113 8.1), so tether's promise is a ProtocolError.

The Curl engine cannot keep it: libcurl 8.x (lib/http2.c, `on_stream_frame`) marks a stream reset only
for a non-zero RST_STREAM error code, so this reset ends the transfer with CURLE_OK, the same write
callbacks, the same `getinfo` values and the same verbose text as an END_STREAM. Only libcurl's
protocol trace (`curl_global_trace("http/2")`, which pycurl does not expose and which is process-wide)
shows the frame. The Curl test is a strict xfail: it fails loudly the day libcurl tells.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tether_conformance import ServerEnvironment
from tether_conformance.registry import RequireCapabilities

from tether import HttpClient, ProtocolError
from tether.engine import Http2Capability, discover_engines

ENGINES, _ = discover_engines()


@pytest.fixture(scope="module")
def env() -> Iterator[ServerEnvironment]:
    with ServerEnvironment() as environment:
        yield environment


async def _truncated_by_a_no_error_reset(env: ServerEnvironment, engine: str) -> None:
    def setup(config: Any) -> None:
        config.engine.ca_bundle = env.ca_file
        config.install(RequireCapabilities, capabilities=[Http2Capability])

    async with HttpClient(ENGINES[engine], setup) as client:
        with pytest.raises(ProtocolError):
            response = await client.get(env.h2_faults.url("/rst-no-error-mid-body"))
            await response.body_as_bytes()
        response = await client.get(env.h2_faults.url("/ok"))
        assert await response.body_as_bytes() == b"ok"


async def test_httpx_refuses_a_body_cut_by_a_no_error_reset(env: ServerEnvironment) -> None:
    await _truncated_by_a_no_error_reset(env, "httpx")


@pytest.mark.xfail(strict=True, reason="libcurl reports RST_STREAM(NO_ERROR) before END_STREAM as a clean end")
async def test_curl_refuses_a_body_cut_by_a_no_error_reset(env: ServerEnvironment) -> None:
    await _truncated_by_a_no_error_reset(env, "curl")
