"""llhttp's response vectors (ported by scripts/port_llhttp_vectors.py): what llhttp rejects, every engine
rejects with `ProtocolError`; what it accepts, every engine delivers with the same status and body."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from tether import HttpClientConfig, ProtocolError
from tether_conformance.registry import CaseContext, case
from tether_conformance.servers.raw import RAW_RESPONSES


def load_vectors() -> list[dict[str, Any]]:
    text = resources.files("tether_conformance").joinpath("data/llhttp_responses.json").read_text()
    cases: list[dict[str, Any]] = json.loads(text)["cases"]
    return cases


def _no_redirects(config: HttpClientConfig[Any]) -> None:
    config.follow_redirects = False  # vectors carry Locations of real sites: never leave loopback


def _register(vector: dict[str, Any]) -> None:
    name = f"llhttp-{vector['id']}"
    RAW_RESPONSES[name] = vector["raw"].encode("latin-1")

    if vector["reject"]:

        @case("llhttp", vector["id"])
        async def rejected(t: CaseContext) -> None:
            async with t.client(_no_redirects) as client:
                await t.raises(ProtocolError, client.get(t.env.raw_url(name)))

    else:

        @case("llhttp", vector["id"])
        async def accepted(t: CaseContext) -> None:
            async with t.client(_no_redirects) as client:
                response = await client.get(t.env.raw_url(name))
                body = await response.body_as_bytes()
            t.equal(int(response.status), vector["status"], "status")
            t.equal(body, vector["body"].encode("latin-1"), "body")


for _vector in load_vectors():
    _register(_vector)
