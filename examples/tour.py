"""A tour of tether. Run with `make demo`."""

from __future__ import annotations

import asyncio
from typing import Any

from tether import ClientRequestException, HttpClient, HttpClientConfig
from tether.plugins import PluginBuilder, create_client_plugin
from tether.request import HttpRequestData
from tether.response import HttpResponseData
from tether.testing import MockEngine, respond


def api(request: HttpRequestData) -> HttpResponseData:
    if request.url.path == "/v1/users":
        return respond('[{"id": 1, "name": "Ada"}]', headers={"Content-Type": "application/json"})
    if request.url.path == "/v1/old":
        return respond(status=301, headers={"Location": "/v1/users"})
    return respond("no such thing", status=404)


@create_client_plugin("RequestId")
def RequestId(plugin: PluginBuilder[Any]) -> None:
    counter = iter(range(1, 1_000_000))
    plugin.on_request(
        lambda request, content: request.headers.__setitem__("X-Request-Id", str(next(counter)))
    )


def configure(config: HttpClientConfig[Any]) -> None:
    config.default_request(url="https://api.example.test/v1/", headers={"X-Api-Version": "2"})
    config.install(RequestId)
    config.expect_success = True


async def main() -> None:
    engine = MockEngine(api)
    rows: list[tuple[str, str]] = []
    async with HttpClient(engine, configure) as client:
        users = await (await client.get("users")).json()
        rows.append(("GET users", repr(users)))
        response = await client.get("old")
        rows.append(("GET old (301 followed)", f"{response.status} {response.request.url}"))
        try:
            await client.get("missing")
        except ClientRequestException as exc:
            rows.append(("GET missing", f"{type(exc).__name__}: {await exc.response.body_as_text()}"))
    rows.append(("headers sent", dict(engine.requests[0].headers.items()).__repr__()))
    width = max(len(name) for name, _ in rows)
    print(f"tether tour on the {engine.name} engine")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")


if __name__ == "__main__":
    asyncio.run(main())
